using System.Text.Json;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>
/// The running daemon seen through its control socket, against the real systemd-networkd: `monitor --json`
/// and `monitor` stream what it sees and does, `status` adds its counters, and STATUS= follows them.
/// </summary>
public class MonitorTests
{
    private static List<JsonElement> Lines(BrokerBinary monitor) =>
        [.. monitor.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static bool Has(BrokerBinary monitor, string name, string link, string field, string value) =>
        Lines(monitor).Any(l => Str(l, "event") == name && Str(l, "link") == link && Str(l, field) == value);

    private static string? Str(JsonElement line, string name) =>
        line.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    [Fact]
    public async Task Monitor_streams_the_events_and_the_script_runs_and_status_shows_the_daemons_counters()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        dir.Script("routable", "10-ok", "#!/bin/sh\nexit 0\n");
        dir.Script("no-carrier", "10-fail", "#!/bin/sh\nexit 3\n");
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n[Network]\nLinks = \"eth1\"\n");
        var eth1 = sandbox.Node.IfIndex("eth1");
        await sandbox.WaitForConfiguredAsync(eth1);

        using var notify = new NotifySocket(dir.Combine("notify.sock"));
        var bus = new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address };
        using var broker = await sandbox.StartBrokerAsync(config, notify);

        using var json = BrokerBinary.Start(["monitor", "--json"], broker.ClientEnvironment());
        using var text = BrokerBinary.Start(["monitor"], broker.ClientEnvironment());
        await BrokerHarness.WaitForAsync(() => json.StandardOutput.Contains("\"event\":\"monitor\"") && text.StandardError.Contains("Monitoring"));

        sandbox.Carrier(false);
        await BrokerHarness.WaitForAsync(() => Has(json, "scripts", "eth1", "state", "no-carrier"));
        // networkd 252 drops the static address on carrier loss; bringing the carrier back before it did can stick at "carrier".
        await BrokerHarness.WaitForAsync(() => Has(json, "address-removed", "eth1", "address", "10.231.0.2/24"));
        sandbox.Carrier(true);
        await BrokerHarness.WaitForAsync(() => Has(json, "scripts", "eth1", "state", "routable"));

        var lines = Lines(json);
        int IndexOf(Func<JsonElement, bool> match) => lines.FindIndex(l => match(l));
        var noCarrier = IndexOf(l => Str(l, "event") == "state" && Str(l, "value") == "no-carrier" && Str(l, "property") == "OperationalState");
        var noCarrierScripts = IndexOf(l => Str(l, "event") == "scripts" && Str(l, "state") == "no-carrier");
        var routable = lines.FindLastIndex(l => Str(l, "event") == "state" && Str(l, "value") == "routable" && Str(l, "property") == "OperationalState");
        var routableScripts = IndexOf(l => Str(l, "event") == "scripts" && Str(l, "state") == "routable");
        Assert.True(noCarrier >= 0 && noCarrier < noCarrierScripts && noCarrierScripts < routable && routable < routableScripts,
            $"order {noCarrier} {noCarrierScripts} {routable} {routableScripts}:\n{json.StandardOutput}");
        Assert.Equal(eth1, lines[noCarrier].GetProperty("ifindex").GetInt32());
        var failed = Assert.Single(lines[noCarrierScripts].GetProperty("scripts").EnumerateArray());
        Assert.Equal(dir.Combine("no-carrier.d", "10-fail"), Str(failed, "script"));
        Assert.Equal("exit status 3", Str(failed, "result"));
        Assert.False(failed.GetProperty("succeeded").GetBoolean());
        Assert.True(Assert.Single(lines[routableScripts].GetProperty("scripts").EnumerateArray()).GetProperty("succeeded").GetBoolean());
        Assert.Contains(lines, l => Str(l, "event") == "address-added" && Str(l, "address") == "10.231.0.2/24");
        Assert.All(lines, l => Assert.True(l.TryGetProperty("time", out _)));

        await BrokerHarness.WaitForAsync(() => text.StandardOutput.Contains("eth1 state property=OperationalState value=routable")
            && text.StandardOutput.Contains($"{dir.Combine("routable.d", "10-ok")}: exit status 0"));
        Assert.Contains($"eth1 scripts state=no-carrier\n    {dir.Combine("no-carrier.d", "10-fail")}: exit status 3", text.StandardOutput);

        using var status = BrokerBinary.Start(["status", "--config", config], broker.ClientEnvironment(bus),
            prefix: ["ip", "netns", "exec", sandbox.Node.Name]);
        Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains($"running: pid {broker.Pid}, network-broker", status.StandardOutput);
        Assert.Contains("user root (uid 0)", status.StandardOutput);
        Assert.Matches(@"watching \d+ links \(1 selected by Links=, \d+ known to networkd\); \d+ events handled", status.StandardOutput);
        Assert.Contains("scripts: 2 run for 2 events, 1 failed, 0 timed out, 0 running now; 2 monitor(s) attached", status.StandardOutput);
        Assert.Matches($@"\n\s+{eth1} eth1\s+operational routable", status.StandardOutput);

        await notify.StatusAsync(s => s.EndsWith("; 2 scripts run, 1 failed", StringComparison.Ordinal));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await json.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await text.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("the daemon closed the connection", json.StandardError);
    }

    [Fact]
    public async Task Policy_routing_changes_show_in_monitor_status_and_STATUS()
    {
        using var ns = NetworkNamespace.Create();
        using var dir = new TempDirectory();
        ns.Ip("link add eth1 type veth peer name peer1");
        ns.Ip("link set eth1 up");
        ns.Ip("link set peer1 up");
        var config = dir.Write("network-broker.toml",
            $"[System]\nUser = \"root\"\nGenerator = \"dhclient\"\nDHClientLeaseFile = \"{dir.Combine("none", "x.leases")}\"\n[Network]\nRoutingPolicyRules = \"eth1\"\n");
        using var notify = new NotifySocket(dir.Combine("notify.sock"));
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path },
            prefix: ["ip", "netns", "exec", ns.Name]);
        Assert.StartsWith("READY=1", await notify.NextAsync(60));
        using var monitor = BrokerBinary.Start(["monitor", "--json"], broker.ClientEnvironment());
        await BrokerHarness.WaitForAsync(() => monitor.StandardOutput.Contains("\"event\":\"monitor\""));

        ns.Ip("addr add 10.240.2.2/24 dev eth1");
        ns.Ip("route add default via 10.240.2.1 dev eth1 metric 200");

        // from and to rules for the address; the subnet route and the default route in the link's table.
        await BrokerHarness.WaitForAsync(() => Lines(monitor).Any(l => Str(l, "event") == "policy-routing"
            && l.GetProperty("rules").GetInt32() == 2 && l.GetProperty("routes").GetInt32() == 2));
        var reconcile = Lines(monitor).Last(l => Str(l, "event") == "policy-routing");
        Assert.Equal(0, reconcile.GetProperty("failed").GetInt32());
        Assert.Equal(2, IpJson.OwnRules(ns).Count);
        await notify.StatusAsync(s => s.Contains("; 2 rules, 2 routes managed;", StringComparison.Ordinal));

        using (var status = BrokerBinary.Start(["status", "--config", config], broker.ClientEnvironment(), prefix: ["ip", "netns", "exec", ns.Name]))
        {
            Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("policy routing: 2 rules and 2 routes managed\n", status.StandardOutput);
            Assert.Contains("  rule from 10.240.2.2/32 lookup", status.StandardOutput);
        }

        var before = notify.Statuses.Count;
        ns.Ip("addr del 10.240.2.2/24 dev eth1");
        await notify.StatusAsync(s => s.Contains("; 0 rules, 0 routes managed;", StringComparison.Ordinal), after: before);
        Assert.Empty(IpJson.OwnRules(ns));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
