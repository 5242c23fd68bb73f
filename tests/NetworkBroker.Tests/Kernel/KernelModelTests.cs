using System.Net;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Kernel;

public class KernelModelTests
{
    private static LinkMessage Link(int index, string name, LinkFlags flags = LinkFlags.Up) => new() { Index = index, Name = name, Flags = flags, Mtu = 1500 };

    private static AddressMessage Address(int index, string address, byte prefix = 24) =>
        new() { Index = index, Family = IPAddress.Parse(address).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? AddressFamily.IPv4 : AddressFamily.IPv6, Address = IPAddress.Parse(address), PrefixLength = prefix };

    private static RouteMessage Route(int index, string destination, byte length, string? gateway = null, uint table = RouteTable.Main) =>
        new() { Family = AddressFamily.IPv4, Table = table, Destination = IPAddress.Parse(destination), DestinationLength = length, Gateway = gateway is null ? null : IPAddress.Parse(gateway), OutputIndex = index };

    private static KernelNotification New(LinkMessage l) => new LinkNotification(false, NetlinkFlags.None, l);
    private static KernelNotification Del(LinkMessage l) => new LinkNotification(true, NetlinkFlags.None, l);
    private static KernelNotification New(AddressMessage a) => new AddressNotification(false, NetlinkFlags.None, a);
    private static KernelNotification Del(AddressMessage a) => new AddressNotification(true, NetlinkFlags.None, a);
    private static KernelNotification New(RouteMessage r, NetlinkFlags flags = NetlinkFlags.None) => new RouteNotification(false, flags, r);
    private static KernelNotification Del(RouteMessage r) => new RouteNotification(true, NetlinkFlags.None, r);

    [Fact]
    public void A_new_link_is_added_once_and_a_statistics_update_is_no_change()
    {
        var model = new KernelModel();
        Assert.IsType<LinkAdded>(Assert.Single(model.Apply(New(Link(3, "eth1")))));
        Assert.Empty(model.Apply(New(Link(3, "eth1") with { Statistics = new LinkStatistics(1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) })));
        Assert.Equal("eth1", model.Link(3)!.Name);
    }

    [Fact]
    public void A_rename_is_reported_with_the_old_name_and_the_name_index_follows()
    {
        var model = new KernelModel();
        model.Apply(New(Link(3, "eth1")));
        var renamed = Assert.IsType<LinkRenamed>(Assert.Single(model.Apply(New(Link(3, "lan0")))));
        Assert.Equal("eth1", renamed.OldName);
        Assert.Null(model.Link("eth1"));
        Assert.Equal(3, model.Link("lan0")!.Index);
    }

    [Fact]
    public void A_flag_change_is_a_link_change()
    {
        var model = new KernelModel();
        model.Apply(New(Link(3, "eth1")));
        var changed = Assert.IsType<LinkChanged>(Assert.Single(model.Apply(New(Link(3, "eth1", LinkFlags.Broadcast)))));
        Assert.Equal(LinkFlags.Up, changed.Old.Flags);
    }

    [Fact]
    public void Removing_a_link_removes_its_addresses_and_routes()
    {
        var model = new KernelModel();
        model.Apply(New(Link(3, "eth1")));
        model.Apply(New(Address(3, "192.0.2.5")));
        model.Apply(New(Route(3, "198.51.100.0", 24, "192.0.2.1")));

        var changes = model.Apply(Del(Link(3, "eth1")));

        Assert.Equal(["AddressRemoved", "LinkRemoved"], changes.Select(c => c.GetType().Name));
        Assert.Empty(model.AllAddresses);
        Assert.Empty(model.AllRoutes);
        Assert.Null(model.Link("eth1"));
    }

    [Fact]
    public void An_address_is_added_once_and_a_lifetime_refresh_is_no_change()
    {
        var model = new KernelModel();
        model.Apply(New(Link(3, "eth1")));
        var added = Assert.IsType<AddressAdded>(Assert.Single(model.Apply(New(Address(3, "2001:db8::5", 64)))));
        Assert.Equal("eth1", added.Link);
        Assert.Empty(model.Apply(New(Address(3, "2001:db8::5", 64) with { ValidLifetime = 100 })));
        Assert.Equal(100u, Assert.Single(model.Addresses(3)).ValidLifetime);
        Assert.IsType<AddressRemoved>(Assert.Single(model.Apply(Del(Address(3, "2001:db8::5", 64)))));
        Assert.Empty(model.Apply(Del(Address(3, "2001:db8::5", 64))));
    }

    [Fact]
    public void A_replaced_route_reports_the_old_path_removed_and_the_new_added()
    {
        var model = new KernelModel();
        model.Apply(New(Link(3, "eth1")));
        model.Apply(New(Route(3, "0.0.0.0", 0, "192.0.2.1") with { Destination = null }));

        var changes = model.Apply(New(Route(3, "0.0.0.0", 0, "192.0.2.254") with { Destination = null }, NetlinkFlags.Replace));

        Assert.Equal(["RouteRemoved", "RouteAdded"], changes.Select(c => c.GetType().Name));
        Assert.Equal(IPAddress.Parse("192.0.2.254"), Assert.Single(model.AllRoutes).Gateway);
    }

    [Fact]
    public void Route_cache_clones_are_not_routes()
    {
        var model = new KernelModel();
        Assert.Empty(model.Apply(New(Route(3, "198.51.100.7", 32) with { Flags = 0x200 })));
        Assert.Empty(model.AllRoutes);
    }

    [Fact]
    public void The_initial_resync_is_silent_and_a_later_one_reports_exactly_what_was_missed()
    {
        var model = new KernelModel();
        Assert.Empty(model.Resync(new KernelSnapshot([Link(1, "lo"), Link(3, "eth1")], [Address(3, "192.0.2.5")], [Route(3, "198.51.100.0", 24)]), silently: true));

        var changes = model.Resync(new KernelSnapshot(
            [Link(1, "lo"), Link(3, "lan1"), Link(4, "eth2")],
            [Address(3, "192.0.2.6"), Address(4, "203.0.113.5")],
            [Route(3, "198.51.100.0", 24)]), silently: false);

        Assert.Equal(
            ["LinkRenamed lan1", "LinkAdded eth2", "AddressRemoved lan1", "AddressAdded lan1", "AddressAdded eth2"],
            changes.Select(c => $"{c.GetType().Name} {c.Link}"));
        Assert.Equal(2, model.AllAddresses.Count());
    }

    [Fact]
    public void A_route_leaves_by_every_link_of_its_multipath()
    {
        var model = new KernelModel();
        model.Apply(New(Link(3, "eth1")));
        model.Apply(New(Link(4, "eth2")));
        model.Apply(New(Route(0, "203.0.113.0", 24) with { MultiPath = [new NextHop(3, IPAddress.Parse("10.0.0.1"), 1), new NextHop(4, IPAddress.Parse("10.0.1.1"), 1)] }));
        Assert.Single(model.Routes(3));
        Assert.Single(model.Routes(4));
    }
}
