using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Networkd;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Security;

/// <summary>
/// The daemon binary on the real systemd-networkd and a real dbus-daemon whose policy, like Debian's system
/// bus, lets any user send signals; an unprivileged user (nobody) forges networkd's signals at it.
/// </summary>
public class ForgedSignalTests
{
    [Fact]
    public async Task Signals_forged_by_nobody_run_nothing_and_the_next_real_transition_runs_exactly_once()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        var record = dir.Combine("record");
        foreach (var state in States.Append("etc"))
            dir.Script(state, "10-record", $"#!/bin/sh\necho \"$STATE|$LINK|$OperationalState|$PATH|$LD_PRELOAD\" >> {record}\n");
        dir.Script("manager", "10-record", $"#!/bin/sh\necho \"manager|$STATE|$OperationalState|$PATH|$LD_PRELOAD\" >> {record}\n");
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\n");
        var eth1 = sandbox.Node.IfIndex("eth1");
        await sandbox.WaitForConfiguredAsync(eth1);

        using var notify = new NotifySocket(dir.Combine("notify.sock"));
        using var broker = await sandbox.StartBrokerAsync(config, notify);
        var daemon = Assert.Single(Attacker.UniqueNamesOf(sandbox.Bus, broker.Pid));
        var socket = Path.Combine(broker.RuntimeDirectory, "control");
        // A state that moved between the seed and the daemon's first read ran at start: done before the forgeries.
        await BrokerHarness.WaitForIdleAsync(broker);
        File.Delete(record);
        var before = await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10));
        Assert.Equal(0, before.SignalsRejected);

        using var monitor = new BusMonitor(sandbox.Bus);
        await monitor.Listening;
        var link = NetworkdBus.LinkPath(eth1);
        const string Properties = "org.freedesktop.DBus.Properties.PropertiesChanged";
        var huge = new string('x', 100_000); // near the kernel's limit for one argument of gdbus
        var forgeries = new (string Path, string Signal, string[] Arguments)[]
        {
            (NetworkdBus.ManagerPath, Properties, ["'org.freedesktop.network1.Manager'", "{'OperationalState': <'degraded'>, 'PATH': <'/tmp/evil'>, 'LD_PRELOAD': <'/tmp/evil.so'>}", "@as []"]),
            (link, Properties, ["'org.freedesktop.network1.Link'", "{'OperationalState': <'no-carrier'>, 'CarrierState': <'no-carrier'>}", "@as []"]),
            (link, Properties, ["'org.freedesktop.network1.Link'", "{'OperationalState': <'../../etc'>}", "@as []"]),
            (link, Properties, ["'org.freedesktop.network1.Link'", "{'OperationalState': <int32 5>}", "@as []"]),
            (link, Properties, ["'org.freedesktop.network1.Link'", $"{{'OperationalState': <'{huge}'>}}", "@as []"]),
            (NetworkdSignals.BusPath, "org.freedesktop.DBus.NameOwnerChanged", [$"'{NetworkdBus.Service}'", "':1.1'", "''"]),
        };
        foreach (var (path, signal, arguments) in forgeries)
        {
            Attacker.Emit(sandbox.Bus, null, path, signal, arguments);
            Attacker.Emit(sandbox.Bus, daemon, path, signal, arguments);
        }

        // Broadcasts never match the daemon's rules (sender='org.freedesktop.network1'); the addressed ones all reach it
        // (a retried gdbus may have delivered one twice).
        await BrokerHarness.WaitForAsync(async () => (await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10))).SignalsRejected >= forgeries.Length);
        var after = await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10));
        Assert.Equal(before.ScriptEvents, after.ScriptEvents);
        Assert.False(File.Exists(record), File.Exists(record) ? File.ReadAllText(record) : "");
        Assert.Contains("D-Bus signal(s) that systemd-networkd did not send", broker.StandardError);
        Assert.DoesNotContain("evil", broker.StandardError);

        // The model was not touched: the real carrier loss is still news, and runs once.
        var signalsBefore = monitor.Count;
        sandbox.Carrier(false);
        try
        {
            await BrokerHarness.WaitForAsync(() => File.Exists(record) && File.ReadAllText(record).Contains("no-carrier|eth1|no-carrier|"));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no no-carrier run; the daemon's log:\n{broker.StandardError}");
        }
        await BrokerHarness.WaitForAsync(() => File.ReadAllText(record).Contains("manager|"));
        await Task.Delay(500);
        var expected = monitor.Transitions(link, "OperationalState", signalsBefore, "routable");
        var runs = File.ReadAllLines(record);
        Assert.Equal(expected, runs.Select(l => l.Split('|')).Where(f => f[1] == "eth1" && f[0] == f[2]).Select(f => f[0]));
        Assert.Contains(runs, r => r.StartsWith("manager|no-carrier|no-carrier|", StringComparison.Ordinal));
        Assert.Equal(["no-carrier"], expected);
        var defaultPath = global::NetworkBroker.Scripts.ScriptEnvironment.DefaultPath;
        Assert.All(runs, r => Assert.EndsWith($"|{defaultPath}|", r));
        Assert.DoesNotContain(runs, r => r.StartsWith("etc|", StringComparison.Ordinal));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Oversized_signals_from_nobody_are_dropped_unread_and_leave_no_memory_behind()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\n");
        using var notify = new NotifySocket(dir.Combine("notify.sock"));
        using var broker = await sandbox.StartBrokerAsync(config, notify, rememberStates: false);
        var daemon = Assert.Single(Attacker.UniqueNamesOf(sandbox.Bus, broker.Pid));
        var socket = Path.Combine(broker.RuntimeDirectory, "control");
        await BrokerHarness.WaitForIdleAsync(broker);
        var rssBefore = ResidentKiB(broker.Pid);

        // About 1.2 MB each (twelve arguments near gdbus's limit for one), addressed to the daemon: the bus forwards up
        // to 32 MiB, and any local user may send one.
        var part = $"'{new string('x', 100_000)}'";
        const int Signals = 10;
        for (var i = 0; i < Signals; i++)
            Attacker.Emit(sandbox.Bus, daemon, "/org/example/big", "org.example.Big.Signal", [.. Enumerable.Repeat(part, 12)]);

        await BrokerHarness.WaitForAsync(async () => (await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10))).SignalsRejected >= Signals);
        Assert.Contains("dropped a signal of 1200", broker.StandardError);
        Assert.Contains("malformed or oversized D-Bus message(s)", broker.StandardError);
        // Read while it arrived and never kept: what is left is a few pages, not the messages or a buffer their size.
        var grown = ResidentKiB(broker.Pid) - rssBefore;
        Assert.True(grown < 2048, $"RSS grew by {grown} KiB after {Signals} signals of 1.2 MB");

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_user_who_takes_networkds_name_when_it_stops_is_not_believed()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        var record = dir.Combine("record");
        foreach (var state in States)
            dir.Script(state, "10-record", $"#!/bin/sh\necho \"$STATE|$LINK\" >> {record}\n");
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\n");
        var eth1 = sandbox.Node.IfIndex("eth1");
        await sandbox.WaitForConfiguredAsync(eth1);
        using var notify = new NotifySocket(dir.Combine("notify.sock"));
        using var broker = await sandbox.StartBrokerAsync(config, notify);
        var socket = Path.Combine(broker.RuntimeDirectory, "control");
        await BrokerHarness.WaitForIdleAsync(broker);
        File.Delete(record);

        // The sandbox's bus, unlike Debian's system bus, lets anyone own networkd's name: nobody queues for it, and takes
        // it when networkd stops; then says, as networkd would, that eth1 lost its carrier.
        var squatter = new System.Diagnostics.ProcessStartInfo(Attacker.AsNobody[0]) { RedirectStandardOutput = true };
        foreach (var arg in (string[])[.. Attacker.AsNobody[1..], "/usr/bin/python3", Path.Combine(AppContext.BaseDirectory, "Support", "name-squatter.py"),
                     sandbox.Bus.SocketPath, NetworkdBus.Service, NetworkdBus.LinkPath(eth1), "60"])
            squatter.ArgumentList.Add(arg);
        using (var nobody = System.Diagnostics.Process.Start(squatter)!)
        {
            try
            {
                Assert.Equal("queued", await nobody.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
                sandbox.KillNetworkd();
                await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("a process of uid 65534, not root or systemd-network: not believed"));
                await BrokerHarness.WaitForAsync(async () => (await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10))).SignalsRejected >= 5);
                await BrokerHarness.WaitForIdleAsync(broker);
                Assert.False(File.Exists(record), File.Exists(record) ? File.ReadAllText(record) : "");
            }
            finally
            {
                nobody.Kill();
                await nobody.WaitForExitAsync();
            }
        }

        // networkd back: what it says is believed again, and the real carrier loss runs once.
        sandbox.StartNodeNetworkd();
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Split('\n').Count(l => l.Contains("networkd: read ")) >= 3);
        sandbox.Carrier(false);
        await BrokerHarness.WaitForAsync(() => File.Exists(record) && File.ReadAllText(record).Contains("no-carrier|eth1"));
        await BrokerHarness.WaitForIdleAsync(broker);
        Assert.Equal(["no-carrier|eth1"], File.ReadAllLines(record));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    private static long ResidentKiB(int pid) =>
        long.Parse(File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}
