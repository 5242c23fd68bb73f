using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Networkd;

/// <summary>
/// The daemon binary stopped with a run queued, on the real systemd-networkd, and started again with the same
/// runtime directory (as `systemctl restart` keeps it): the dropped run runs then, and only it.
/// </summary>
public class RestartMemoryTests
{
    [Fact]
    public async Task A_run_dropped_at_stop_runs_at_the_next_start_and_nothing_else_of_its_link_runs_again()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        var record = dir.Combine("record");
        var hold = dir.Combine("hold");
        var held = dir.Combine("held");
        var release = dir.Combine("release");
        foreach (var state in States)
            dir.Script(state, "10-record", $"#!/bin/sh\n[ \"$LINK\" = eth1 ] || exit 0\necho \"$STATE\" >> {record}\n");
        // While the test holds it, configured.d runs until the test lets it go: what networkd does meanwhile queues behind it.
        dir.Script("configured", "20-hold",
            $"#!/bin/sh\n[ \"$LINK\" = eth1 ] && [ -e {hold} ] || exit 0\ntouch {held}\nwhile [ ! -e {release} ]; do sleep 0.02; done\n");
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\nScriptTimeoutSec = 60\n");
        var runtime = dir.Combine("run");
        Directory.CreateDirectory(runtime);
        var eth1 = sandbox.Node.IfIndex("eth1");
        var stateFile = Path.Combine(sandbox.NetifDirectory, "links", eth1.ToString());
        bool NetworkdSays(string operational) =>
            File.Exists(stateFile) && File.ReadAllText(stateFile) is var state && state.Contains($"OPER_STATE={operational}\n") && state.Contains("ADMIN_STATE=configured\n");
        await BrokerHarness.WaitForAsync(() => NetworkdSays("routable"));
        string[] Record() => File.Exists(record) ? File.ReadAllLines(record) : [];

        BrokerBinary Start(NotifySocket notify) => BrokerBinary.Start(["--config", config],
            new Dictionary<string, string>
            {
                ["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address,
                ["NOTIFY_SOCKET"] = notify.Path,
                ["RUNTIME_DIRECTORY"] = runtime,
            },
            prefix: ["ip", "netns", "exec", sandbox.Node.Name]);

        // The first start of the boot: eth1's current states run once.
        using (var notify = new NotifySocket(dir.Combine("notify-1.sock")))
        using (var first = Start(notify))
        {
            Assert.StartsWith("READY=1", await notify.NextAsync(60));
            await BrokerHarness.WaitForAsync(() => Record().Order().SequenceEqual(["configured", "routable"]));
            await IdleAsync(first);

            // eth1's carrier goes and comes back: networkd configures it again, and configured.d holds.
            File.WriteAllText(hold, "");
            sandbox.Carrier(false);
            await BrokerHarness.WaitForAsync(() => NetworkdSays("no-carrier"));
            sandbox.Carrier(true);
            await BrokerHarness.WaitForAsync(() => File.Exists(held));
            // The carrier goes again: no-carrier.d queues behind the held run (networkd leaves AdministrativeState as it is).
            sandbox.Carrier(false);
            await BrokerHarness.WaitForAsync(() => first.StandardError.Split("OperationalState is no-carrier").Length == 3);

            first.Signal(15);
            Assert.Equal("STOPPING=1", await notify.NextAsync());
            File.WriteAllText(release, "");
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            // no-carrier.d, and whatever networkd signalled after configured (routable, in some orders) with it.
            Assert.Matches(@"[1-9]\d* queued event\(s\) did not run; they run at the next start", first.StandardError);
        }
        var before = Record();
        Assert.Equal(["routable", "configured", "no-carrier"], before[..3]);
        Assert.Equal("configured", before[^1]);
        File.Delete(hold);

        // The next start: the dropped no-carrier.d runs, once; configured.d, which had run, does not run again.
        using (var notify = new NotifySocket(dir.Combine("notify-2.sock")))
        using (var second = Start(notify))
        {
            Assert.StartsWith("READY=1", await notify.NextAsync(60));
            await BrokerHarness.WaitForAsync(() => second.StandardError.Contains("only what changed meanwhile runs"));
            await BrokerHarness.WaitForAsync(() => Record().Length > before.Length);
            await IdleAsync(second);
            Assert.Equal(["no-carrier"], Record()[before.Length..]);
            second.Signal(15);
            Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }
    }

    /// <summary>Until no script runs and the daemon's counts stay the same across 300 ms.</summary>
    private static Task IdleAsync(BrokerBinary broker)
    {
        var socket = Path.Combine(broker.RuntimeDirectory, "control");
        return BrokerHarness.WaitForAsync(async () =>
        {
            var first = await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10));
            await Task.Delay(300);
            var second = await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10));
            return second.ScriptsRunning == 0 && second.ScriptEvents == first.ScriptEvents && second.Events == first.Events;
        });
    }
}
