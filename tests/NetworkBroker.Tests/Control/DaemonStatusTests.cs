using System.Text.Json;
using NetworkBroker.Control;

namespace NetworkBroker.Tests.Control;

public class DaemonStatusTests
{
    private static readonly DaemonStatus Sample = new()
    {
        Pid = 4242, Version = "1.2.3", Uid = 998, User = "network-broker", Started = new DateTime(2026, 11, 24, 18, 0, 0, DateTimeKind.Utc),
        Config = "/etc/network-broker/network-broker.toml", Generator = "systemd-networkd", Links = 4, LinksSelected = 2, NetworkdLinks = 4,
        PolicyRules = 3, PolicyRoutes = 2, PolicyRoutingFailed = 1, Events = 77, ScriptEvents = 5, Scripts = 9, ScriptsFailed = 1,
        ScriptsTimedOut = 1, ScriptsRunning = 0, Monitors = 2, SignalsRejected = 6, DhcpPushes = 5, DhcpPushesFailed = 2,
        KernelOverruns = 3,
        LoopBlockingCalls = 3,
    };

    [Fact]
    public void The_status_survives_the_socket_unchanged()
    {
        Assert.Equal(Sample, DaemonStatus.Parse(Sample.ToJson()));
    }

    [Fact]
    public void The_status_line_and_the_text_say_the_counts()
    {
        Assert.Equal("Watching 4 links (2 selected); 3 rules, 2 routes managed; 9 scripts run, 1 failed; 2 DHCP pushes failed", Sample.StatusLine());
        Assert.Equal("Watching 4 links (2 selected); 3 rules, 2 routes managed; 9 scripts run, 1 failed", (Sample with { DhcpPushesFailed = 0 }).StatusLine());
        var text = Sample.Render(new DateTime(2026, 11, 24, 19, 5, 0, DateTimeKind.Utc));
        Assert.Contains("running: pid 4242, network-broker 1.2.3, user network-broker (uid 998), since 2026-11-24 18:00:00 UTC (up 1h 5m)", text);
        Assert.Contains("watching 4 links (2 selected by Links=, 4 known to networkd); 77 events handled", text);
        Assert.Contains("policy routing: 3 rules and 2 routes managed, 1 changes failed at the last run", text);
        Assert.Contains("scripts: 9 run for 5 events, 1 failed, 1 timed out, 0 running now; 2 monitor(s) attached", text);
        Assert.Contains("security: 6 D-Bus signal(s) rejected: not sent by systemd-networkd (see the log)", text);
        Assert.Contains("dhcp pushes: 5 to systemd-resolved and systemd-hostnamed, 2 failed (see the log)", text);
        Assert.DoesNotContain("dhcp pushes:", (Sample with { DhcpPushes = 0, DhcpPushesFailed = 0 }).Render(DateTime.UtcNow));
        Assert.DoesNotContain("security:", (Sample with { SignalsRejected = 0 }).Render(DateTime.UtcNow));
        Assert.Contains("kernel: 3 overrun(s) of the netlink receive buffer, each followed by a re-read of its state", text);
        Assert.DoesNotContain("kernel:", (Sample with { KernelOverruns = 0 }).Render(DateTime.UtcNow));
        Assert.Contains("bug: 3 blocking call(s) made on the event loop (the log names the first ones)", text);
        Assert.DoesNotContain("bug:", (Sample with { LoopBlockingCalls = 0 }).Render(DateTime.UtcNow));
    }

    [Fact]
    public void Anything_but_a_status_object_is_a_JsonException_and_nothing_else()
    {
        var json = Sample.ToJson();
        var random = new Random(7);
        Assert.Throws<JsonException>(() => DaemonStatus.Parse("[]"));
        Assert.Throws<JsonException>(() => DaemonStatus.Parse("{\"error\":\"x\"}"));
        for (var i = 0; i < 3000; i++)
        {
            var bytes = json.ToCharArray();
            for (var n = random.Next(1, 4); n > 0; n--)
                bytes[random.Next(bytes.Length)] = "{}[]\",:0a-\\ "[random.Next(12)];
            var mutated = random.Next(4) == 0 ? new string(bytes)[..random.Next(bytes.Length)] : new string(bytes);
            try
            {
                DaemonStatus.Parse(mutated);
            }
            catch (JsonException)
            {
            }
        }
    }
}
