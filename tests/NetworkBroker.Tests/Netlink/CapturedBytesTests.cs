using System.Net;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Netlink;

/// <summary>Decoding what the kernel really sent (captured by Fixtures/netlink/capture.py).</summary>
public class CapturedBytesTests
{
    private static List<T> Decode<T>(string file, NetlinkMessageType type, Func<byte[], T> decode) =>
        Fixtures.Messages(file).Where(m => m.Header.Type == type).Select(m => decode(m.Payload)).ToList();

    [Fact]
    public void A_link_dump_decodes_names_kinds_altnames_and_statistics()
    {
        var links = Decode("dump-links.bin", NetlinkMessageType.NewLink, p => LinkMessage.Decode(p));

        var lo = Assert.Single(links, l => l.Name == "lo");
        Assert.Equal(1, lo.Index);
        Assert.True(lo.Flags.HasFlag(LinkFlags.Loopback));
        Assert.Equal(772, lo.Type);

        var eth0 = Assert.Single(links, l => l.Name == "eth0");
        Assert.Equal("veth", eth0.Kind);
        Assert.Equal<string>(["uplink0"], eth0.AlternativeNames);
        Assert.Equal(1500u, eth0.Mtu);
        Assert.Equal(6, eth0.HardwareAddress!.Length);
        Assert.True(eth0.Flags.HasFlag(LinkFlags.Up));
        Assert.Equal(OperState.Up, eth0.OperState);
        Assert.NotNull(eth0.Statistics);
        Assert.Equal(1000u, eth0.TxQueueLength);

        var eth1 = Assert.Single(links, l => l.Name == "eth1");
        Assert.Equal(eth0.Index, eth1.ParentIndex);
        Assert.Equal(3, links.Count);
    }

    [Fact]
    public void An_address_dump_decodes_v4_and_v6_with_prefix_scope_label_and_lifetimes()
    {
        var addresses = Decode("dump-addresses.bin", NetlinkMessageType.NewAddress, p => AddressMessage.Decode(p));

        var v4 = Assert.Single(addresses, a => a.Address.Equals(IPAddress.Parse("10.231.0.2")));
        Assert.Equal(AddressFamily.IPv4, v4.Family);
        Assert.Equal(24, v4.PrefixLength);
        Assert.Equal(RouteScope.Universe, v4.Scope);
        Assert.Equal("eth0", v4.Label);
        Assert.Null(v4.Broadcast); // `ip addr add` without "brd +" sets none
        Assert.Equal(uint.MaxValue, v4.ValidLifetime);
        Assert.True((v4.Flags & AddressMessage.FlagPermanent) != 0);

        var v6 = Assert.Single(addresses, a => a.Address.Equals(IPAddress.Parse("2001:db8:1::2")));
        Assert.Equal(AddressFamily.IPv6, v6.Family);
        Assert.Equal(64, v6.PrefixLength);
        Assert.Null(v6.Label);

        Assert.Contains(addresses, a => a.Address.Equals(IPAddress.Loopback) && a.Scope == RouteScope.Host);
        Assert.Contains(addresses, a => a.Family == AddressFamily.IPv6 && a.Scope == RouteScope.Link);
    }

    [Fact]
    public void A_route_dump_decodes_gateways_multipath_metrics_and_tables_above_255()
    {
        var routes = Decode("dump-routes.bin", NetlinkMessageType.NewRoute, p => RouteMessage.Decode(p));
        var links = Decode("dump-links.bin", NetlinkMessageType.NewLink, p => LinkMessage.Decode(p)).ToDictionary(l => l.Name, l => l.Index);

        var main = Assert.Single(routes, r => r.IsDefault && r.Family == AddressFamily.IPv4 && r.Table == RouteTable.Main);
        Assert.Equal(IPAddress.Parse("10.231.0.1"), main.Gateway);
        Assert.Equal(links["eth0"], main.OutputIndex);
        Assert.Equal(RouteProtocol.Boot, main.Protocol);

        var table = Assert.Single(routes, r => r.Table == 10003);
        Assert.True(table.IsDefault);
        Assert.Equal(IPAddress.Parse("10.231.1.1"), table.Gateway);

        var multipath = Assert.Single(routes, r => r.Destination?.Equals(IPAddress.Parse("203.0.113.0")) == true);
        Assert.Equal(24, multipath.DestinationLength);
        Assert.Equal([links["eth0"], links["eth1"]], multipath.MultiPath.Select(h => h.Index));
        Assert.Equal([IPAddress.Parse("10.231.0.1"), IPAddress.Parse("10.231.1.1")], multipath.MultiPath.Select(h => h.Gateway));
        Assert.Equal([links["eth0"], links["eth1"]], multipath.Links);

        var v6 = Assert.Single(routes, r => r.IsDefault && r.Family == AddressFamily.IPv6 && r.Table == RouteTable.Main);
        Assert.Equal(1024u, v6.Priority);
        Assert.Equal(IPAddress.Parse("2001:db8:1::1"), v6.Gateway);

        Assert.Contains(routes, r => r.Table == RouteTable.Local && r.Type == RouteType.Local);
    }

    [Fact]
    public void A_rule_dump_decodes_priority_table_protocol_and_selectors()
    {
        var rules = Decode("dump-rules.bin", NetlinkMessageType.NewRule, p => RuleMessage.Decode(p));

        var from = Assert.Single(rules, r => r.Source?.Equals(IPAddress.Parse("10.231.1.2")) == true);
        Assert.Equal(32, from.SourceLength);
        Assert.Equal(10003u, from.Table);
        Assert.Equal(32000u, from.Priority);
        Assert.Equal(250, from.Protocol);
        Assert.Equal(RuleAction.ToTable, from.Action);

        var to = Assert.Single(rules, r => r.Destination?.Equals(IPAddress.Parse("10.231.1.2")) == true);
        Assert.Equal(32, to.DestinationLength);

        Assert.Contains(rules, r => r.Family == AddressFamily.IPv6 && r.Source?.Equals(IPAddress.Parse("2001:db8:1::2")) == true);
        Assert.Contains(rules, r => r.Priority == 32766 && r.Table == RouteTable.Main && r.Family == AddressFamily.IPv4);
        Assert.Contains(rules, r => r.Priority == 0 && r.Table == RouteTable.Local);
    }

    [Fact]
    public void Notifications_follow_the_operations_in_order()
    {
        var notifications = Fixtures.Notifications("events.bin");

        var links = notifications.OfType<LinkNotification>().ToList();
        var ev0 = links.First(l => l.Link.Name == "ev0");
        Assert.False(ev0.Removed);
        Assert.Contains(links, l => l.Link.Name == "ev1renamed" && !l.Removed);
        Assert.True(links.Last(l => l.Link.Index == ev0.Link.Index).Removed);

        var address = Assert.Single(notifications.OfType<AddressNotification>(), a => a.Address.Address.Equals(IPAddress.Parse("192.0.2.10")) && !a.Removed);
        Assert.Equal(ev0.Link.Index, address.Address.Index);
        Assert.Contains(notifications.OfType<AddressNotification>(), a => a.Address.Address.Equals(IPAddress.Parse("192.0.2.10")) && a.Removed);

        var route = Assert.Single(notifications.OfType<RouteNotification>(), r => r.Route.Destination?.Equals(IPAddress.Parse("198.51.100.0")) == true && !r.Removed);
        Assert.Equal(50u, route.Route.Priority);
        Assert.Equal(RouteProtocol.Static, route.Route.Protocol);
        Assert.Contains(notifications.OfType<RouteNotification>(), r => r.Route.Table == 10005 && r.Removed);

        var rules = notifications.OfType<RuleNotification>().Where(r => r.Rule.Table == 10005).ToList();
        Assert.Equal([false, false, true], rules.Select(r => r.Removed));
        Assert.All(rules, r => Assert.Equal(250, r.Rule.Protocol));

        // Kernel order: the address comes after its link, the route after the address.
        Assert.True(notifications.IndexOf(ev0) < notifications.IndexOf(address));
        Assert.True(notifications.IndexOf(address) < notifications.IndexOf(route));
    }
}
