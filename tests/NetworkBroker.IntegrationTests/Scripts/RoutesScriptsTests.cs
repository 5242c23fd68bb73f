using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Scripts;

namespace NetworkBroker.IntegrationTests.Scripts;

/// <summary>routes.d against the real kernel: one run per coalesced burst, with what changed.</summary>
public class RoutesScriptsTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create();

    public RoutesScriptsTests()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link set nbt-a up");
        _ns.Ip("link set nbt-b up");
        _ns.Ip("addr add 192.0.2.5/24 dev nbt-a");
        _ns.Ip("addr add 203.0.113.5/24 dev nbt-b");
    }

    public void Dispose() => _ns.Dispose();

    private static void RecordingScript(BrokerHarness broker) =>
        broker.Directory.Script("routes", "10-record",
            $"#!/bin/sh\n{{ echo \"run $LINK $LINKINDEX $STATE $ROUTE_EVENT $ROUTE_DST $ROUTE_GATEWAY $ROUTE_TABLE $ROUTE_PROTOCOL $ROUTE_CHANGES\"; echo \"$ROUTES\"; }} >> {broker.Directory.Path}/record\n");

    private static string[] Runs(BrokerHarness broker)
    {
        var path = broker.Directory.Combine("record");
        return File.Exists(path) ? File.ReadAllLines(path).Where(l => l.StartsWith("run ")).ToArray() : [];
    }

    /// <param name="runs">The runs expected by then: waited for, however late a busy machine closes the window.</param>
    private static async Task IdleAsync(BrokerHarness broker, int runs = 0)
    {
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length >= runs, 30);
        await broker.SettleAsync();
        await Task.Delay(broker.Broker.RoutesWindow * 3);
        await broker.IdleAsync();
    }

    [Fact]
    public async Task A_burst_of_route_changes_runs_routes_d_once_with_the_last_change_and_the_list()
    {
        await using var broker = await BrokerHarness.StartAsync(_ns, routesWindow: TimeSpan.FromMilliseconds(300));
        RecordingScript(broker);
        var index = _ns.IfIndex("nbt-a");

        _ns.IpBatch(string.Join('\n',
            "route add 198.51.100.0/24 via 192.0.2.1 dev nbt-a proto static",
            "route add 198.51.101.0/24 via 192.0.2.1 dev nbt-a proto static",
            "route add 198.51.102.0/24 via 192.0.2.1 dev nbt-a proto static",
            "route del 198.51.100.0/24 via 192.0.2.1 dev nbt-a",
            "route add default via 192.0.2.1 dev nbt-a proto dhcp metric 100") + "\n");
        await IdleAsync(broker, runs: 1);

        var run = Assert.Single(Runs(broker));
        Assert.Equal($"run nbt-a {index} routes add 0.0.0.0/0 192.0.2.1 254 dhcp 5", run);
        var record = File.ReadAllText(broker.Directory.Combine("record"));
        Assert.Contains("add 198.51.100.0/24 via 192.0.2.1 table 254 proto static", record);
        Assert.Contains("del 198.51.100.0/24 via 192.0.2.1 table 254 proto static", record);
    }

    [Fact]
    public async Task Separate_bursts_run_separately_and_each_link_gets_its_own_run()
    {
        await using var broker = await BrokerHarness.StartAsync(_ns, routesWindow: TimeSpan.FromMilliseconds(100));
        RecordingScript(broker);

        _ns.Ip("route add 198.51.100.0/24 via 192.0.2.1 dev nbt-a");
        await IdleAsync(broker, runs: 1);
        _ns.Ip("route del 198.51.100.0/24 via 192.0.2.1 dev nbt-a");
        _ns.Ip("route add 198.51.110.0/24 via 203.0.113.1 dev nbt-b");
        await IdleAsync(broker, runs: 3);

        var runs = Runs(broker);
        Assert.Equal(3, runs.Length);
        Assert.StartsWith("run nbt-a", runs[0]);
        Assert.Contains(runs[1..], r => r.StartsWith("run nbt-a") && r.Contains(" del 198.51.100.0/24 "));
        Assert.Contains(runs[1..], r => r.StartsWith("run nbt-b") && r.Contains(" add 198.51.110.0/24 203.0.113.1 "));
    }

    [Fact]
    public async Task The_brokers_own_policy_table_and_links_outside_Links_do_not_run_routes_d()
    {
        var a = _ns.IfIndex("nbt-a");
        await using var broker = await BrokerHarness.StartAsync(_ns, c => c with
        {
            Links = new Configuration.LinkFilter(["nbt-a"]),
            RoutingPolicyRules = ["nbt-a"],
        }, routesWindow: TimeSpan.FromMilliseconds(100));
        RecordingScript(broker);

        _ns.Ip($"route add default via 192.0.2.1 dev nbt-a table {9999 + a}");
        _ns.Ip("route add 198.51.100.0/24 via 192.0.2.1 dev nbt-a proto 250");
        _ns.Ip("route add 198.51.110.0/24 via 203.0.113.1 dev nbt-b");
        await IdleAsync(broker);
        Assert.Empty(Runs(broker));

        _ns.Ip("route add 198.51.120.0/24 via 192.0.2.1 dev nbt-a");
        await IdleAsync(broker, runs: 1);
        Assert.Single(Runs(broker));
    }

    [Fact]
    public async Task Routes_of_a_link_that_vanished_before_the_window_closed_are_ignored()
    {
        await using var broker = await BrokerHarness.StartAsync(_ns, routesWindow: TimeSpan.FromMilliseconds(500));
        RecordingScript(broker);

        // One ip process for both: two would leave the window to close between them on a busy machine.
        _ns.IpBatch("route add 198.51.100.0/24 via 192.0.2.1 dev nbt-a\nlink del nbt-a\n");
        await IdleAsync(broker);

        Assert.Empty(Runs(broker));
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains(" error "));
    }

    [Fact]
    public async Task A_link_named_with_bytes_that_are_not_UTF8_reaches_scripts_as_those_bytes()
    {
        await using var broker = await BrokerHarness.StartAsync(_ns, beforeStart: b => b.Directory.Script("routes", "10-name",
            $"#!/bin/sh\nprintf '%s' \"$LINK\" > {b.Directory.Path}/link-bytes\n"));
        // Bytes ff fe, which no UTF-8 decoder keeps: iproute2 takes them as they are.
        const string Name = "$(printf '\\377\\376')";
        Shell.Run("sh", "-c", $"ip -n {_ns.Name} link add {Name} type veth peer name nbt-p && ip -n {_ns.Name} link set dev {Name} up && " +
            $"ip -n {_ns.Name} route add 198.51.100.0/24 dev {Name}");
        await BrokerHarness.WaitForAsync(() => File.Exists(broker.Directory.Combine("link-bytes")));
        await IdleAsync(broker);

        Assert.Equal(new byte[] { 0xff, 0xfe }, File.ReadAllBytes(broker.Directory.Combine("link-bytes")));
        // ip itself can find the link by what the script was given.
        Assert.Contains("198.51.100.0/24", Shell.Run("sh", "-c", $"ip -n {_ns.Name} route show dev \"$(cat {broker.Directory.Combine("link-bytes")})\""));
        // Logs and monitor JSON show the bytes as \xNN.
        Assert.Contains(broker.Log.Lines, l => l.Contains(@"\xff\xfe: routes.d/10-name succeeded"));
        var added = broker.Observed.OfType<Events.LinkAdded>().Single(a => a.Message.Name == Netlink.KernelText.Decode([0xff, 0xfe]));
        Assert.Contains("\"link\":\"\\\\xff\\\\xfe\"", Control.MonitorEvents.Format(added, _ => null, DateTime.UtcNow));
    }
}
