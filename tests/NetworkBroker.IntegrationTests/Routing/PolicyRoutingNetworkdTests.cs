using NetworkBroker.IntegrationTests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Routing;

/// <summary>
/// With the real systemd-networkd managing the link, a restart of networkd (which removes foreign rules
/// and routes it considers its business, ManageForeign*=yes) leaves the broker's policy routing in place:
/// networkd 252 leaves protocol-250 rules and routes alone, and whatever it did remove would be restored
/// (see PolicyRoutingKernelTests.A_rule_deleted_by_someone_else_is_restored).
/// </summary>
public class PolicyRoutingNetworkdTests
{
    [Fact]
    public async Task After_networkd_restarts_the_rules_and_table_routes_are_as_before_and_traffic_flows()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        var node = sandbox.Node;
        var eth1 = node.IfIndex("eth1");
        var table = 9999 + (uint)eth1;
        await using var broker = await BrokerHarness.StartAsync(node, c => c with { RoutingPolicyRules = ["eth1"] }, networkd: sandbox, policyRouting: true);
        await WaitForNetworkdState(broker, eth1, "AdministrativeState", "configured");
        await BrokerHarness.WaitForAsync(() => IpJson.OwnRules(node).Count == 2 && IpJson.Routes(node, table).Count == 2);
        var rules = IpJson.OwnRules(node);
        var routes = IpJson.Routes(node, table);
        Assert.Contains("default via 10.231.0.1 dev eth1", routes);

        sandbox.KillNetworkd();
        sandbox.StartNodeNetworkd();
        await BrokerHarness.WaitForAsync(() => broker.Log.Text.Contains("networkd: state re-read after its restart"));
        await WaitForNetworkdState(broker, eth1, "AdministrativeState", "configured");
        await broker.Broker.QueryAsync(_ => 0);
        await BrokerHarness.WaitForAsync(() => IpJson.OwnRules(node).SequenceEqual(rules) && IpJson.Routes(node, table).SequenceEqual(routes));

        Assert.Equal(rules, IpJson.OwnRules(node));
        Assert.Equal(routes, IpJson.Routes(node, table));
        sandbox.Peer.Exec("ping -c 2 -i 0.2 -W 2 10.231.0.2 >/dev/null");
    }
}
