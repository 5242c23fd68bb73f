using NetworkBroker.Tests.Security;
using System.Text;
using NetworkBroker.Tests.Support;
using NetworkBroker.Udev;

namespace NetworkBroker.Tests.Udev;

public class UdevDatabaseTests : IDisposable
{
    /// <summary>An entry as systemd-udevd 252 writes it for a virtio NIC (udevadm info -q all, in the file's own form).</summary>
    private const string VirtioEntry = """
        I:4127703
        E:ID_NET_NAMING_SCHEME=v252
        E:ID_NET_NAME_MAC=enx525400123456
        E:ID_OUI_FROM_DATABASE=QEMU virtual NIC
        E:ID_NET_NAME_PATH=enp0s3
        E:ID_BUS=pci
        E:ID_VENDOR_ID=0x1af4
        E:ID_MODEL_ID=0x1000
        E:ID_PCI_CLASS_FROM_DATABASE=Network controller
        E:ID_PCI_SUBCLASS_FROM_DATABASE=Ethernet controller
        E:ID_VENDOR_FROM_DATABASE=Red Hat, Inc.
        E:ID_MODEL_FROM_DATABASE=Virtio network device
        E:ID_PATH=pci-0000:00:03.0
        E:ID_PATH_TAG=pci-0000_00_03_0
        E:ID_NET_DRIVER=virtio_net
        E:ID_NET_LINK_FILE=/usr/lib/systemd/network/99-default.link
        E:ID_NET_NAME=enp0s3
        E:SYSTEMD_ALIAS=/sys/subsystem/net/devices/enp0s3
        E:TAGS=:systemd:
        E:CURRENT_TAGS=:systemd:
        G:systemd
        Q:systemd
        V:1
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void An_entry_gives_the_path_driver_vendor_model_model_id_and_link_file()
    {
        var link = UdevLink.Parse(VirtioEntry);
        Assert.Equal(new UdevLink("pci-0000:00:03.0", "virtio_net", "Red Hat, Inc.", "Virtio network device", "0x1000",
            "/usr/lib/systemd/network/99-default.link"), link);
    }

    [Fact]
    public void Without_the_hardware_databases_names_the_devices_own_are_taken_as_networkctl_does()
    {
        var link = UdevLink.Parse("E:ID_VENDOR=Realtek\nE:ID_MODEL=RTL8153\nE:ID_MODEL_FROM_DATABASE=RTL8153 Gigabit Ethernet Adapter\n");
        Assert.Equal("Realtek", link.Vendor);
        Assert.Equal("RTL8153 Gigabit Ethernet Adapter", link.Model);
    }

    [Theory]
    [InlineData("S:ID_PATH=pci-x\n")]                      // not a property line
    [InlineData("E:id_path=pci-x\n")]                      // not udev's shape of key
    [InlineData("E:ID_PATH\n")]                            // no value
    [InlineData("E:ID_PATH=\n")]                           // empty value
    [InlineData("E:=pci-x\n")]                             // no key
    [InlineData("E:ID_PATH=pci\u0001x\n")]                 // a control character
    [InlineData("E:ID_PATH=pci\u001b[31mred\n")]           // a terminal escape
    [InlineData(" E:ID_PATH=pci-x\n")]                     // not at the line's start
    public void A_line_that_is_not_a_well_formed_property_is_skipped(string text) =>
        Assert.Equal(UdevLink.None, UdevLink.Parse(text));

    [Fact]
    public void A_value_over_1024_characters_is_skipped_and_the_rest_kept()
    {
        var link = UdevLink.Parse($"E:ID_PATH={new string('p', 1025)}\nE:ID_NET_DRIVER=e1000e\n");
        Assert.Null(link.Path);
        Assert.Equal("e1000e", link.Driver);
    }

    [Fact]
    public void Random_bytes_and_mutated_entries_never_throw_and_give_only_clean_values()
    {
        var random = new Random(20261201);
        var seed = Encoding.UTF8.GetBytes(VirtioEntry);
        for (var i = 0; i < 20_000; i++)
        {
            byte[] bytes;
            if (i % 2 == 0)
            {
                bytes = new byte[random.Next(0, 600)];
                random.NextBytes(bytes);
                // Some of it line-shaped, so that the property branch is reached too.
                for (var j = 0; j + 3 < bytes.Length; j += random.Next(4, 40))
                    (bytes[j], bytes[j + 1], bytes[j + 2]) = ((byte)'\n', (byte)'E', (byte)':');
            }
            else
            {
                bytes = (byte[])seed.Clone();
                for (var flips = random.Next(1, 12); flips > 0; flips--)
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }
            var link = UdevLink.Parse(Encoding.UTF8.GetString(bytes));
            foreach (var value in new[] { link.Path, link.Driver, link.Vendor, link.Model, link.ModelId, link.LinkFile })
                if (value is not null)
                    Assert.True(value.Length is > 0 and <= 1024 && !value.Any(char.IsControl) && !value.Contains('\uFFFD'), value);
        }
    }

    [Fact]
    public void The_database_reads_n_ifindex_of_its_directory()
    {
        File.WriteAllText(_dir.Combine("n3"), VirtioEntry);
        var database = new UdevDatabase(_dir.Path);
        Assert.Equal("virtio_net", database.Link(3).Driver);
        Assert.Equal(UdevLink.None, database.Link(4));
        Assert.Equal(UdevLink.None, database.Link(0));
    }

    [Fact]
    public void No_udev_at_all_is_no_entry()
    {
        var log = new MemoryLog(NetworkBroker.Logging.LogLevel.Debug);
        Assert.Equal(UdevLink.None, new UdevDatabase(_dir.Combine("absent"), log.Logger).Link(3));
        Assert.Equal("", log.Text);
    }

    [Fact]
    public void An_entry_not_owned_by_root_a_link_a_FIFO_or_a_giant_is_not_read_and_said_once()
    {
        var log = new MemoryLog(NetworkBroker.Logging.LogLevel.Debug);
        var database = new UdevDatabase(_dir.Path, log.Logger);
        File.WriteAllText(_dir.Combine("n3"), VirtioEntry);
        Assert.Equal(0, NetworkBroker.Native.Libc.chown(_dir.Combine("n3"), 65534, 65534));
        File.WriteAllText(_dir.Combine("secret"), VirtioEntry);
        File.CreateSymbolicLink(_dir.Combine("n4"), _dir.Combine("secret"));
        Assert.Equal(0, System.Diagnostics.Process.Start("mkfifo", _dir.Combine("n5")).WaitForExitAndCode());
        File.WriteAllText(_dir.Combine("n6"), VirtioEntry + new string('#', UdevDatabase.MaxBytes));

        foreach (var ifindex in new[] { 3, 4, 5, 6, 3, 4, 5, 6 })
            Assert.Equal(UdevLink.None, database.Link(ifindex));
        var warnings = log.Text.Split('\n').Where(l => l.Contains("udev: not reading")).ToList();
        Assert.Equal(4, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("n3") && w.Contains("owned by uid 65534, not by root"));
    }
}
