using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Routing;

/// <summary>
/// The seed's use case with real packets. A host with eth0 on subnet A (its default route) and eth1 on
/// subnet B; a router joining A, B and a client's subnet C, dropping asymmetric traffic (strict
/// rp_filter for IPv4, the rpfilter match for IPv6). The client pings the host's eth1 address.
/// </summary>
public class PolicyRoutingTrafficTests : IDisposable
{
    private readonly NetworkNamespace _host = NetworkNamespace.Create();
    private readonly NetworkNamespace _router = NetworkNamespace.Create();
    private readonly NetworkNamespace _client = NetworkNamespace.Create();

    public PolicyRoutingTrafficTests()
    {
        Link(_host, "eth0", _router, "ra");
        Link(_host, "eth1", _router, "rb");
        Link(_client, "eth0", _router, "rc");
        _router.Exec("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1");
        foreach (var link in new[] { "ra", "rb", "rc" })
            _router.Exec($"sysctl -qw net.ipv4.conf.{link}.rp_filter=1");
        _router.Exec("ip6tables -t raw -A PREROUTING -m rpfilter --invert -j DROP");

        Address(_router, "ra", "10.250.1.1/24", "2001:db8:a::1/64");
        Address(_router, "rb", "10.250.2.1/24", "2001:db8:b::1/64");
        Address(_router, "rc", "10.250.3.1/24", "2001:db8:c::1/64");
        Address(_host, "eth0", "10.250.1.2/24", "2001:db8:a::2/64");
        Address(_host, "eth1", "10.250.2.2/24", "2001:db8:b::2/64");
        Address(_client, "eth0", "10.250.3.2/24", "2001:db8:c::2/64");
        // One default route on the host, by eth0; eth1's gateway known only as a route of lower preference.
        _host.Ip("route add default via 10.250.1.1 dev eth0");
        _host.Ip("route add default via 10.250.2.1 dev eth1 metric 500");
        _host.Ip("-6 route add default via 2001:db8:a::1 dev eth0 metric 100");
        _host.Ip("-6 route add default via 2001:db8:b::1 dev eth1 metric 500");
        _client.Ip("route add default via 10.250.3.1");
        _client.Ip("-6 route add default via 2001:db8:c::1");
    }

    public void Dispose()
    {
        _client.Dispose();
        _router.Dispose();
        _host.Dispose();
    }

    private static void Link(NetworkNamespace a, string nameA, NetworkNamespace b, string nameB)
    {
        a.Ip($"link add {nameA} type veth peer name {nameB} netns {b.Name}");
        a.Ip($"link set {nameA} up");
        b.Ip($"link set {nameB} up");
    }

    private static void Address(NetworkNamespace ns, string link, string v4, string v6)
    {
        ns.Ip($"addr add {v4} dev {link}");
        ns.Ip($"-6 addr add {v6} dev {link} nodad");
    }

    private bool Ping(string target)
    {
        try
        {
            _client.Exec($"ping -c 2 -i 0.2 -W 1 {target} >/dev/null");
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData("10.250.2.2")]
    [InlineData("2001:db8:b::2")]
    public async Task Replies_leave_by_the_interface_the_request_came_in_on_only_with_the_broker(string eth1Address)
    {
        Assert.True(Ping("10.250.1.2"), "the primary address is reachable either way");
        Assert.False(Ping(eth1Address), "without policy routing the reply leaves by eth0 and the router drops it");

        await using var broker = await BrokerHarness.StartAsync(_host, c => c with { RoutingPolicyRules = ["eth1"] }, policyRouting: true);
        await BrokerHarness.WaitForAsync(() => IpJson.OwnRules(_host).Count == 4);

        Assert.True(Ping(eth1Address), "with the broker's rules the reply leaves by eth1");
    }
}

/// <summary>Two interfaces on one subnet: without policy routing, traffic from eth1's address leaves by eth0.</summary>
public class PolicyRoutingSameSubnetTests : IDisposable
{
    private readonly NetworkNamespace _host = NetworkNamespace.Create();
    private readonly NetworkNamespace _lan = NetworkNamespace.Create();

    public PolicyRoutingSameSubnetTests()
    {
        _lan.Ip("link add br0 type bridge");
        _lan.Ip("link set br0 up");
        foreach (var (host, lan) in new[] { ("eth0", "p0"), ("eth1", "p1"), ("peer", "p2") })
        {
            _host.Ip($"link add {host} type veth peer name {lan} netns {_lan.Name}");
            _lan.Ip($"link set {lan} master br0");
            _lan.Ip($"link set {lan} up");
        }
        // "peer" is another machine on the subnet: give it its own namespace's view by moving it there.
        _host.Ip($"link set peer netns {_lan.Name}");
        _lan.Ip("addr add 10.251.0.9/24 dev peer");
        _lan.Ip("link set peer up");
        _host.Ip("link set eth0 up");
        _host.Ip("link set eth1 up");
        _host.Ip("addr add 10.251.0.2/24 dev eth0");
        _host.Ip("addr add 10.251.0.3/24 dev eth1");
        _host.Ip("route add default via 10.251.0.1 dev eth0");
    }

    public void Dispose()
    {
        _host.Dispose();
        _lan.Dispose();
    }

    private string RouteGet() => _host.Exec("ip route get 10.251.0.9 from 10.251.0.3");

    private long TxPackets(string link) => long.Parse(_host.Exec($"cat /sys/class/net/{link}/statistics/tx_packets").Trim());

    [Fact]
    public async Task Traffic_from_eth1s_address_leaves_by_eth1_only_with_the_broker()
    {
        Assert.Contains("dev eth0", RouteGet());

        await using var broker = await BrokerHarness.StartAsync(_host, c => c with { RoutingPolicyRules = ["eth1"] }, policyRouting: true);
        await BrokerHarness.WaitForAsync(() => IpJson.OwnRules(_host).Count == 2);

        Assert.Contains("dev eth1", RouteGet());
        var before = TxPackets("eth1");
        _lan.Exec("ping -c 3 -i 0.2 -W 1 10.251.0.3 >/dev/null");
        Assert.True(TxPackets("eth1") - before >= 3, "the replies left by eth1");
    }
}
