using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>SIGTERM (systemctl stop): a running script finishes within its timeout; nothing else starts.</summary>
public class ShutdownTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _ns.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task On_SIGTERM_the_running_script_finishes_and_neither_the_next_script_nor_a_queued_event_starts()
    {
        var runs = _dir.Combine("runs");
        _dir.Script("routes", "10-slow", $"#!/bin/sh\necho \"started $ROUTE_DST\" >> {runs}\nsleep 2\necho \"finished $ROUTE_DST\" >> {runs}\n");
        _dir.Script("routes", "20-next", $"#!/bin/sh\necho \"next $ROUTE_DST\" >> {runs}\n");
        var config = _dir.Write("network-broker.toml",
            $"[System]\nUser = \"root\"\nGenerator = \"dhclient\"\nDHClientLeaseFile = \"{_dir.Combine("none", "x.leases")}\"\nScriptTimeoutSec = 30\n");
        using var notify = new NotifySocket(_dir.Combine("notify.sock"));
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path },
            prefix: ["ip", "netns", "exec", _ns.Name]);
        Assert.StartsWith("READY=1", await notify.NextAsync(60));

        _ns.Ip("route add 198.51.100.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => File.Exists(runs));
        // A second change of lo's routes, past the 200 ms window: its event queues behind the running one.
        await Task.Delay(400);
        _ns.Ip("route add 198.51.101.0/24 dev lo");
        await Task.Delay(400);
        broker.Signal(15);

        Assert.Equal("STOPPING=1", await notify.NextAsync());
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(["started 198.51.100.0/24", "finished 198.51.100.0/24"], File.ReadAllLines(runs));
        Assert.Contains("routes.d/20-next not started: shutting down", broker.StandardError);
        Assert.Contains("Shutting down: 1 queued event(s) not run", broker.StandardError);
    }
}
