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
        // The first script runs until the test lets it go, once the daemon said it is stopping: how long the steps
        // before the SIGTERM take on a busy machine does not matter.
        var release = Dir.Combine("release");
        Dir.Script("routes", "10-slow",
            $"#!/bin/sh\necho \"started $ROUTE_DST\" >> {runs}\nwhile [ ! -e {release} ]; do sleep 0.02; done\necho \"finished $ROUTE_DST\" >> {runs}\n");
        Dir.Script("routes", "20-next", $"#!/bin/sh\necho \"next $ROUTE_DST\" >> {runs}\n");
        var config = Config(system: "ScriptTimeoutSec = 30\n");
        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(config, notify);

        Ns.Ip("route add 198.51.100.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => File.Exists(runs));
        // A second change of lo's routes: its event queues behind the held one once the 200 ms window closed.
        Ns.Ip("route add 198.51.101.0/24 dev lo");
        await Task.Delay(2000);
        broker.Signal(15);

        Assert.Equal("STOPPING=1", await notify.NextAsync());
        File.WriteAllText(release, "");
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(["started 198.51.100.0/24", "finished 198.51.100.0/24"], File.ReadAllLines(runs));
        Assert.Contains("routes.d/20-next not started: shutting down", broker.StandardError);
        Assert.Contains("Shutting down: 1 queued event(s) not run", broker.StandardError);
    }

    [Fact]
    public async Task A_monitor_piped_into_a_reader_that_paused_holds_up_neither_the_daemons_stop_nor_its_own_Ctrl_C()
    {
        var config = Config();
        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(config, notify);
        // `network-broker monitor --json | less`, with less paused: nothing ever reads the pipe.
        var binary = Environment.GetEnvironmentVariable("NETWORK_BROKER_BIN");
        Assert.False(string.IsNullOrEmpty(binary), "needs the native binary (make test sets NETWORK_BROKER_BIN)");
        var monitorPid = Dir.Combine("monitor.pid");
        using var paused = System.Diagnostics.Process.Start("sh",
            ["-c", $"RUNTIME_DIRECTORY={broker.RuntimeDirectory} sh -c 'echo $$ > {monitorPid}; exec {binary} monitor --json 2>/dev/null' | sleep 600"])!;
        await BrokerHarness.WaitForAsync(async () => (await Control.ControlClient.StatusAsync(Path.Combine(broker.RuntimeDirectory, "control"), TimeSpan.FromSeconds(5))).Monitors == 1);

        // Thousands of lines: the pipe, the monitor's socket and its queue fill up.
        var batch = new System.Text.StringBuilder();
        for (var i = 0; i < 3000; i++)
            batch.Append($"addr add 127.9.{i / 250}.{i % 250 + 1}/32 dev lo\naddr del 127.9.{i / 250}.{i % 250 + 1}/32 dev lo\n");
        Ns.IpBatch(batch.ToString());
        await Task.Delay(1000);

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains("Stopped", broker.StandardError);

        // The monitor is blocked writing to the pipe; SIGINT still ends it.
        var pid = int.Parse(File.ReadAllText(monitorPid).Trim());
        try
        {
            Assert.False(NetworkBroker.Tests.Support.Processes.IsDead(pid));
            BrokerBinary.Kill(pid, 2);
            Assert.True(await NetworkBroker.Tests.Support.Processes.EventuallyDead(pid, TimeSpan.FromSeconds(10)), "network-broker monitor ignored SIGINT");
        }
        finally
        {
            BrokerBinary.Kill(pid, 9);
            paused.Kill(entireProcessTree: true);
        }
    }
}
