using NetworkBroker.Networkd;
using NetworkBroker.Scripts;
using NetworkBroker.Udev;

namespace NetworkBroker.Tests.Scripts;

/// <summary>sysfs as it is on this machine: a link's facts only when /sys/class/net/NAME is that ifindex.</summary>
public class LinkFilesTests
{
    private static readonly LinkFiles Files = new(new NetworkdFiles("/nonexistent"), new UdevDatabase("/nonexistent"));

    private static int IfIndex(string name) => int.Parse(File.ReadAllText($"/sys/class/net/{name}/ifindex").Trim());

    [Fact]
    public void A_links_driver_is_told_only_for_its_own_ifindex()
    {
        // A link with a device bound to a driver, when this machine has one (a virtual machine's NIC); lo otherwise.
        var withDriver = Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName)
            .FirstOrDefault(n => new FileInfo($"/sys/class/net/{n}/device/driver").LinkTarget is not null);
        if (withDriver is not null)
        {
            var expected = Path.GetFileName(new FileInfo($"/sys/class/net/{withDriver}/device/driver").LinkTarget);
            Assert.Equal(expected, Files.Driver(withDriver, IfIndex(withDriver)));
            // The same name with another ifindex is another namespace's link: nothing is said of it.
            Assert.Null(Files.Driver(withDriver, IfIndex(withDriver) + 1000));
        }
        Assert.Null(Files.Driver("lo", IfIndex("lo")));
        // A name no kernel gives, from a peer: never a path outside /sys/class/net.
        Assert.Null(Files.Driver("../../class/net/lo", IfIndex("lo")));
        Assert.Null(Files.DeviceType("..", 1));
        Assert.Null(Files.Driver("nb-no-such-link", 1));
    }

    [Fact]
    public void A_links_driver_and_devtype_are_read_once_per_ifindex_and_again_after_a_rename_or_its_removal()
    {
        var sysfs = Directory.CreateTempSubdirectory("nb-sysfs-").FullName;
        try
        {
            var files = new LinkFiles(new NetworkdFiles("/nonexistent"), new UdevDatabase("/nonexistent"), sysfs);
            void Link(string name, int ifindex, string driver, string devtype)
            {
                Directory.CreateDirectory($"{sysfs}/{name}/device");
                File.WriteAllText($"{sysfs}/{name}/ifindex", $"{ifindex}\n");
                File.WriteAllText($"{sysfs}/{name}/uevent", $"DEVTYPE={devtype}\nINTERFACE={name}\n");
                File.Delete($"{sysfs}/{name}/device/driver");
                File.CreateSymbolicLink($"{sysfs}/{name}/device/driver", $"../../../bus/pci/drivers/{driver}");
            }

            Link("eth1", 7, "e1000", "wlan");
            Assert.Equal("e1000", files.Driver("eth1", 7));
            Assert.Equal("wlan", files.DeviceType("eth1", 7));

            // What sysfs says now is not read again for the same link...
            Link("eth1", 7, "virtio_net", "bridge");
            Assert.Equal("e1000", files.Driver("eth1", 7));
            Assert.Equal("wlan", files.DeviceType("eth1", 7));
            // ...but it is once the link went away (a link made again may reuse its ifindex), or has another name.
            files.Forget(7);
            Assert.Equal("virtio_net", files.Driver("eth1", 7));
            Assert.Equal("bridge", files.DeviceType("eth1", 7));
            Link("eth2", 7, "igb", "vlan");
            Assert.Equal("igb", files.Driver("eth2", 7));

            // A name sysfs shows as another ifindex is not this link: nothing said, nothing kept.
            Link("eth3", 9, "ixgbe", "vlan");
            Assert.Null(files.Driver("eth3", 8));
            File.WriteAllText($"{sysfs}/eth3/ifindex", "8\n");
            Assert.Equal("ixgbe", files.Driver("eth3", 8));
        }
        finally
        {
            Directory.Delete(sysfs, recursive: true);
        }
    }
}
