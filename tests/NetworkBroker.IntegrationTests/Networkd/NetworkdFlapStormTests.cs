using NetworkBroker.IntegrationTests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;
using NetworkdBus = NetworkBroker.Networkd.NetworkdBus;

namespace NetworkBroker.IntegrationTests.Networkd;

public class NetworkdFlapStormTests
{
    [Fact]
    public async Task Five_hundred_flaps_at_20_ms_run_exactly_the_transitions_networkd_signalled_in_order()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var monitor = new BusMonitor(sandbox.Bus);
        await monitor.Listening;
        await using var broker = await BrokerHarness.StartAsync(sandbox.Node, networkd: sandbox);
        Install(broker);
        var ifindex = sandbox.Node.IfIndex("eth1");
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "routable");
        await broker.Scripts.WhenIdle();
        var (runsBefore, signalsBefore) = (Record(broker).Length, monitor.Count);
        var states = await broker.Broker.QueryAsync(b => b.Networkd.Link(ifindex)!);

        sandbox.Peer.Exec("for i in $(seq 500); do ip link set veth0 down; sleep 0.02; ip link set veth0 up; sleep 0.02; done");

        // Quiet: no new signal for 3 s, then the broker has handled them all and the scripts have run.
        var last = -1;
        while (last != monitor.Count)
        {
            last = monitor.Count;
            await Task.Delay(3000);
        }
        await broker.Broker.QueryAsync(_ => 0);
        await broker.Scripts.WhenIdle().WaitAsync(TimeSpan.FromMinutes(2));

        var path = NetworkdBus.LinkPath(ifindex);
        var runs = Record(broker)[runsBefore..].Select(l => l.Split('|')).Where(f => f[1] == "eth1").ToList();
        foreach (var (property, field) in new[] { ("OperationalState", 3), ("AdministrativeState", 4) })
        {
            var expected = monitor.Transitions(path, property, signalsBefore, states.GetValueOrDefault(property));
            var actual = runs.Where(f => f[0] == f[field]).Select(f => f[0]).ToList();
            Assert.True(expected.Count > (property == "OperationalState" ? 500 : 0), $"{property}: only {expected.Count} transitions signalled");
            Assert.Equal(expected, actual);
        }
    }
}
