using System.Text;
using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Routing;

/// <summary>The reconciler against the real kernel, in a namespace the test made.</summary>
public class PolicyRoutingKernelTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create();
    private readonly int _eth1;
    private readonly uint _table;

    public PolicyRoutingKernelTests()
    {
        _ns.Ip("link add eth0 type veth peer name peer0");
        _ns.Ip("link add eth1 type veth peer name peer1");
        foreach (var link in new[] { "eth0", "peer0", "eth1", "peer1" })
            _ns.Ip($"link set {link} up");
        _ns.Ip("addr add 10.240.1.2/24 dev eth0");
        _ns.Ip("addr add 10.240.2.2/24 dev eth1");
        _ns.Ip("addr add 2001:db8:2::2/64 dev eth1 nodad");
        _ns.Ip("route add default via 10.240.1.1 dev eth0");
        _ns.Ip("route add default via 10.240.2.1 dev eth1 metric 200");
        _ns.Ip("-6 route add default via 2001:db8:2::1 dev eth1");
        _eth1 = _ns.IfIndex("eth1");
        _table = 9999 + (uint)_eth1;
    }

    public void Dispose() => _ns.Dispose();

    private Task<BrokerHarness> Start() =>
        BrokerHarness.StartAsync(_ns, c => c with { RoutingPolicyRules = ["eth1"] }, policyRouting: true);

    private List<string> Expected(params string[] addresses) =>
        [.. addresses.SelectMany(a => new[] { $"from {a} table {_table} pref 32000 proto 250", $"to {a} table {_table} pref 32000 proto 250" }).Order()];

    private Task Eventually(Func<bool> condition) => BrokerHarness.WaitForAsync(condition, 15);

    [Fact]
    public async Task Each_global_address_gets_from_and_to_rules_and_the_table_gets_the_subnet_and_the_links_own_gateway()
    {
        await using var broker = await Start();

        await Eventually(() => IpJson.OwnRules(_ns).Count == 4);
        Assert.Equal(Expected("10.240.2.2", "2001:db8:2::2"), IpJson.OwnRules(_ns));
        Assert.Equal(["10.240.2.0/24 dev eth1", "default via 10.240.2.1 dev eth1"], IpJson.Routes(_ns, _table));
        Assert.Equal(["2001:db8:2::/64 dev eth1", "default via 2001:db8:2::1 dev eth1"], IpJson.Routes(_ns, _table, "-6"));
        // eth0 is not listed: nothing for it.
        Assert.Empty(IpJson.Routes(_ns, 9999 + (uint)_ns.IfIndex("eth0")));
    }

    [Fact]
    public async Task Address_removal_drops_its_rules_and_the_tables_routes_go_with_the_last_address_and_come_back()
    {
        await using var broker = await Start();
        await Eventually(() => IpJson.OwnRules(_ns).Count == 4);

        _ns.Ip("-6 addr del 2001:db8:2::2/64 dev eth1");
        await Eventually(() => IpJson.OwnRules(_ns).Count == 2);
        Assert.Equal(Expected("10.240.2.2"), IpJson.OwnRules(_ns));
        Assert.Empty(IpJson.Routes(_ns, _table, "-6"));

        _ns.Ip("addr del 10.240.2.2/24 dev eth1");
        await Eventually(() => IpJson.OwnRules(_ns).Count == 0 && IpJson.Routes(_ns, _table).Count == 0);

        _ns.Ip("addr add 10.240.2.2/24 dev eth1");
        _ns.Ip("route replace default via 10.240.2.1 dev eth1 metric 200");
        await Eventually(() => IpJson.OwnRules(_ns).Count == 2 && IpJson.Routes(_ns, _table).Count == 2);
        Assert.Equal(["10.240.2.0/24 dev eth1", "default via 10.240.2.1 dev eth1"], IpJson.Routes(_ns, _table));
    }

    [Fact]
    public async Task Deleting_the_link_removes_everything_for_it()
    {
        await using var broker = await Start();
        await Eventually(() => IpJson.OwnRules(_ns).Count == 4);

        _ns.Ip("link del eth1");

        await Eventually(() => IpJson.OwnRules(_ns).Count == 0);
        Assert.Empty(IpJson.Routes(_ns, _table));
    }

    [Fact]
    public async Task A_restart_adopts_its_rules_removes_stale_tagged_ones_and_never_touches_foreign_ones()
    {
        await using (var first = await Start())
            await Eventually(() => IpJson.OwnRules(_ns).Count == 4);
        var before = IpJson.Rules(_ns).Concat(IpJson.Rules(_ns, "-6")).ToList();
        Assert.Equal(4, IpJson.OwnRules(_ns).Count); // kept across the stop (RemoveRulesOnStop=false)

        _ns.Ip("rule add from 10.9.9.9 lookup 12345 pref 32000 protocol 250"); // stale, ours
        _ns.Ip("rule add from 10.8.8.8 lookup 12345 pref 32000"); // somebody else's
        await using (var second = await Start())
            await Eventually(() => !IpJson.OwnRules(_ns).Any(r => r.Contains("10.9.9.9")));

        var after = IpJson.Rules(_ns).Concat(IpJson.Rules(_ns, "-6")).ToList();
        Assert.Equal(before.Append("from 10.8.8.8 table 12345 pref 32000 proto ").Order(), after.Order());
    }

    [Fact]
    public async Task RemoveRulesOnStop_removes_what_the_broker_made()
    {
        await using (var broker = await BrokerHarness.StartAsync(_ns, c => c with { RoutingPolicyRules = ["eth1"], RemoveRulesOnStop = true }, policyRouting: true))
            await Eventually(() => IpJson.OwnRules(_ns).Count == 4);
        Assert.Empty(IpJson.OwnRules(_ns));
        Assert.Empty(IpJson.Routes(_ns, _table));
    }

    [Fact]
    public async Task A_rule_deleted_by_someone_else_is_restored()
    {
        await using var broker = await Start();
        await Eventually(() => IpJson.OwnRules(_ns).Count == 4);
        _ns.Ip($"rule del from 10.240.2.2 lookup {_table} pref 32000");
        _ns.Ip($"route del default via 10.240.2.1 dev eth1 table {_table}");
        await Eventually(() => IpJson.OwnRules(_ns).Count == 4 && IpJson.Routes(_ns, _table).Count == 2);
    }

    [Fact]
    public async Task A_burst_of_1000_address_operations_converges_to_exactly_the_desired_rules()
    {
        await using var broker = await Start();
        await Eventually(() => IpJson.OwnRules(_ns).Count == 4);

        var batch = new StringBuilder();
        var kept = new List<string>();
        for (var i = 0; i < 500; i++)
        {
            var address = $"10.241.{i / 200}.{i % 200 + 1}";
            batch.Append($"addr add {address}/24 dev eth1\n");
            if (i % 25 == 0)
                kept.Add(address);
            else
                batch.Append($"addr del {address}/24 dev eth1\n");
        }
        _ns.IpBatch(batch.ToString());

        var expected = Expected([.. kept, "10.240.2.2", "2001:db8:2::2"]);
        await Eventually(() => IpJson.OwnRules(_ns).SequenceEqual(expected));
        Assert.Equal(expected, IpJson.OwnRules(_ns));
    }
}
