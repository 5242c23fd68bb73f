using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>SIGTERM (systemctl stop): a running script finishes within its timeout; nothing else starts.</summary>
public class ShutdownTests : DaemonInNamespace
{
    [Fact]
    public async Task On_SIGTERM_the_running_script_finishes_and_neither_the_next_script_nor_a_queued_event_starts()
    {
        var runs = Dir.Combine("runs");
        Dir.Script("routes", "10-slow", $"#!/bin/sh\necho \"started $ROUTE_DST\" >> {runs}\nsleep 2\necho \"finished $ROUTE_DST\" >> {runs}\n");
        Dir.Script("routes", "20-next", $"#!/bin/sh\necho \"next $ROUTE_DST\" >> {runs}\n");
        var config = Config(system: "ScriptTimeoutSec = 30\n");
        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(config, notify);

        Ns.Ip("route add 198.51.100.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => File.Exists(runs));
        // A second change of lo's routes, past the 200 ms window: its event queues behind the running one.
        await Task.Delay(400);
        Ns.Ip("route add 198.51.101.0/24 dev lo");
        await Task.Delay(400);
        broker.Signal(15);

        Assert.Equal("STOPPING=1", await notify.NextAsync());
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(["started 198.51.100.0/24", "finished 198.51.100.0/24"], File.ReadAllLines(runs));
        Assert.Contains("routes.d/20-next not started: shutting down", broker.StandardError);
        Assert.Contains("Shutting down: 1 queued event(s) not run", broker.StandardError);
    }
}
