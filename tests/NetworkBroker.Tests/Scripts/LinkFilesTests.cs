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
}
