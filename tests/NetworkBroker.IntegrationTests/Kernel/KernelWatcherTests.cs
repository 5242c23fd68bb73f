using System.Net;
using NetworkBroker.Events;
using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Kernel;

/// <summary>The kernel's notifications, from a namespace made by the test, become exactly the expected model changes.</summary>
public class KernelWatcherTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create();

    public void Dispose() => _ns.Dispose();

    [Fact]
    public async Task Link_add_rename_and_delete_each_produce_one_event()
    {
        await using var broker = await BrokerHarness.StartAsync(_ns);

        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        var a = _ns.IfIndex("nbt-a");
        var b = _ns.IfIndex("nbt-b");
        _ns.Ip("link set nbt-b name nbt-c");
        _ns.Ip("link del nbt-a");
        await broker.SettleAsync();

        Assert.Equal(["LinkAdded", "LinkRemoved"], broker.ChangesOf(a).Select(c => c.GetType().Name));
        Assert.Equal(["LinkAdded", "LinkRenamed", "LinkRemoved"], broker.ChangesOf(b).Select(c => c.GetType().Name));
        var renamed = broker.ChangesOf(b).OfType<LinkRenamed>().Single();
        Assert.Equal("nbt-b", renamed.OldName);
        Assert.Equal("nbt-c", renamed.Link);
        Assert.Null(await broker.Broker.QueryAsync(x => x.Kernel.Link("nbt-c")));
    }

    [Fact]
    public async Task The_model_knows_links_by_name_and_by_altname()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link property add dev nbt-a altname nbt-uplink");
        await using var broker = await BrokerHarness.StartAsync(_ns);

        var index = _ns.IfIndex("nbt-a");
        Assert.Equal(index, (await broker.Broker.QueryAsync(x => x.Kernel.Link("nbt-a")))!.Index);
        Assert.Equal(index, (await broker.Broker.QueryAsync(x => x.Kernel.Link("nbt-uplink")))!.Index);
        Assert.Empty(broker.Observed.OfType<KernelChange>()); // the state at start is where we begin, not news
    }

    [Fact]
    public async Task IPv4_and_IPv6_address_add_and_delete_each_produce_one_event()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link set nbt-a up");
        await using var broker = await BrokerHarness.StartAsync(_ns);
        var a = _ns.IfIndex("nbt-a");

        _ns.Ip("addr add 192.0.2.5/24 dev nbt-a");
        _ns.Ip("addr add 2001:db8:7::5/64 dev nbt-a nodad");
        _ns.Ip("addr del 192.0.2.5/24 dev nbt-a");
        _ns.Ip("addr del 2001:db8:7::5/64 dev nbt-a");
        await broker.SettleAsync();

        var addresses = broker.ChangesOf(a).Where(c => c is AddressAdded or AddressRemoved)
            .Select(c => c switch
            {
                AddressAdded added => $"+{added.Address.Address}/{added.Address.PrefixLength}",
                AddressRemoved removed => $"-{removed.Address.Address}/{removed.Address.PrefixLength}",
                _ => "",
            }).ToList();
        Assert.Equal(["+192.0.2.5/24", "+2001:db8:7::5/64", "-192.0.2.5/24", "-2001:db8:7::5/64"], addresses);
        Assert.All(broker.ChangesOf(a).OfType<AddressAdded>(), e => Assert.Equal("nbt-a", e.Link));
    }

    [Fact]
    public async Task Route_add_and_delete_each_produce_one_event()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link set nbt-a up");
        _ns.Ip("addr add 192.0.2.5/24 dev nbt-a");
        await using var broker = await BrokerHarness.StartAsync(_ns);
        var a = _ns.IfIndex("nbt-a");

        _ns.Ip("route add 198.51.100.0/24 via 192.0.2.1 dev nbt-a table 500");
        _ns.Ip("route del 198.51.100.0/24 via 192.0.2.1 dev nbt-a table 500");
        await broker.SettleAsync();

        var routes = broker.ChangesOf(a).Where(c => c is RouteAdded or RouteRemoved).ToList();
        Assert.Equal(2, routes.Count);
        var added = Assert.IsType<RouteAdded>(routes[0]);
        Assert.Equal(IPAddress.Parse("198.51.100.0"), added.Route.Destination);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), added.Route.Gateway);
        Assert.Equal(500u, added.Route.Table);
        Assert.IsType<RouteRemoved>(routes[1]);
    }

    [Fact]
    public async Task Routes_that_the_kernel_drops_silently_when_a_link_goes_down_leave_the_model_too()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link set nbt-a up");
        _ns.Ip("addr add 192.0.2.5/24 dev nbt-a");
        _ns.Ip("route add 198.51.100.0/24 via 192.0.2.1 dev nbt-a");
        await using var broker = await BrokerHarness.StartAsync(_ns);
        var a = _ns.IfIndex("nbt-a");

        _ns.Ip("link set nbt-a down");
        await BrokerHarness.WaitForAsync(() => broker.ChangesOf(a).OfType<RouteRemoved>()
            .Any(r => r.Route.Destination?.ToString() == "198.51.100.0"));
        await broker.SettleAsync();

        await AssertModelEqualsKernel(broker);
    }

    [Fact]
    public async Task Routes_that_the_kernel_drops_silently_with_an_address_leave_the_model_too()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link set nbt-a up");
        _ns.Ip("link set nbt-b up");
        _ns.Ip("addr add 192.0.2.5/24 dev nbt-a");
        _ns.Ip("addr add 192.0.3.6/24 dev nbt-a");
        _ns.Ip("addr add 203.0.113.5/24 dev nbt-b");
        // Routes that name an address as their source, in the main table and in others, on the link and on another one.
        _ns.Ip("route add 198.51.100.0/24 dev nbt-a src 192.0.2.5 table 700");
        _ns.Ip("route add 198.51.101.0/24 via 203.0.113.1 dev nbt-b src 192.0.2.5 table 701");
        _ns.Ip("route add 198.51.102.0/24 via 203.0.113.1 dev nbt-b src 192.0.2.5");
        _ns.Ip("route add 198.51.103.0/24 via 192.0.3.1 dev nbt-a src 192.0.3.6");
        _ns.Ip("route add default via 192.0.3.1 dev nbt-a table 702");
        await using var broker = await BrokerHarness.StartAsync(_ns);

        _ns.Ip("addr del 192.0.2.5/24 dev nbt-a"); // not the link's last: only routes sourced from it go
        await broker.SettleAsync();
        await AssertModelEqualsKernel(broker);

        _ns.Ip("addr del 192.0.3.6/24 dev nbt-a"); // the link's last IPv4 address: every IPv4 route through it goes
        await broker.SettleAsync();
        await AssertModelEqualsKernel(broker);
        Assert.Empty(await broker.Broker.QueryAsync(b => b.Kernel.Routes(_ns.IfIndex("nbt-a")).Where(r => r.Family == Netlink.AddressFamily.IPv4).ToList()));
    }

    internal static async Task AssertModelEqualsKernel(BrokerHarness broker)
    {
        var kernel = broker.Namespace.Enter(() =>
        {
            using var client = Netlink.RtnetlinkClient.Open();
            return Netlink.KernelSnapshot.Read(client);
        });
        var model = await broker.Broker.QueryAsync(x => x.Kernel.Snapshot());
        Assert.Equal(Describe(kernel).Links, Describe(model).Links);
        Assert.Equal(Describe(kernel).Addresses, Describe(model).Addresses);
        Assert.Equal(Describe(kernel).Routes, Describe(model).Routes);
    }

    private static (List<string> Links, List<string> Addresses, List<string> Routes) Describe(Netlink.KernelSnapshot snapshot) =>
    (
        snapshot.Links.Select(l => $"{l.Index} {l.Name}").Order().ToList(),
        snapshot.Addresses.Select(a => NetworkBroker.Kernel.AddressKey.Of(a).ToString()).Order().ToList(),
        snapshot.Routes.Where(r => (r.Flags & 0x200) == 0).Select(r => NetworkBroker.Kernel.RouteKey.Of(r).ToString()).Order().ToList()
    );
}
