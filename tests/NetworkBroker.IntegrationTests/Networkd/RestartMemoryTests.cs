using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Networkd;

/// <summary>
/// The daemon binary stopped or killed with runs queued, on the real systemd-networkd, and started again with the
/// same runtime directory (as `systemctl restart` keeps it): what did not run runs then, and only it.
/// </summary>
public class RestartMemoryTests
{
    /// <summary>
    /// networkd with eth1 routable; every state directory records eth1's runs, and configured.d holds while the test
    /// says so (what networkd does meanwhile queues behind it); the daemon's runtime directory kept across its starts.
    /// </summary>
    private sealed class Machine : IDisposable
    {
        public NetworkdSandbox Sandbox { get; } = new(StaticNetwork);
        public TempDirectory Dir { get; } = new();
        public string Hold => Dir.Combine("hold");
        public string Held => Dir.Combine("held");
        public string Release => Dir.Combine("release");
        public string Runtime => Dir.Combine("run");
        private readonly string _config;
        private readonly string _stateFile;
        private int _starts;

        public Machine()
        {
            foreach (var state in States)
                Dir.Script(state, "10-record", $"#!/bin/sh\n[ \"$LINK\" = eth1 ] || exit 0\necho \"$STATE\" >> {Dir.Combine("record")}\n");
            Dir.Script("configured", "20-hold",
                $"#!/bin/sh\n[ \"$LINK\" = eth1 ] && [ -e {Hold} ] || exit 0\ntouch {Held}\nwhile [ ! -e {Release} ]; do sleep 0.02; done\n");
            _config = Dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\nScriptTimeoutSec = 60\n");
            Directory.CreateDirectory(Runtime);
            IfIndex = Sandbox.Node.IfIndex("eth1");
            _stateFile = Path.Combine(Sandbox.NetifDirectory, "links", IfIndex.ToString());
        }

        public int IfIndex { get; }

        public bool NetworkdSays(string operational) =>
            File.Exists(_stateFile) && File.ReadAllText(_stateFile) is var state && state.Contains($"OPER_STATE={operational}\n") && state.Contains("ADMIN_STATE=configured\n");

        public string[] Record() => File.Exists(Dir.Combine("record")) ? File.ReadAllLines(Dir.Combine("record")) : [];

        public string StatesFile => File.Exists(StatesPath) ? File.ReadAllText(StatesPath) : "";

        private string StatesPath => Path.Combine(Runtime, global::NetworkBroker.Core.StateMemory.FileName);

        /// <summary>Starts the daemon and waits for its READY=1.</summary>
        public async Task<(BrokerBinary Broker, NotifySocket Notify)> StartAsync()
        {
            var notify = new NotifySocket(Dir.Combine($"notify-{++_starts}.sock"));
            var broker = BrokerBinary.Start(["--config", _config],
                new Dictionary<string, string>
                {
                    ["DBUS_SYSTEM_BUS_ADDRESS"] = Sandbox.Bus.Address,
                    ["NOTIFY_SOCKET"] = notify.Path,
                    ["RUNTIME_DIRECTORY"] = Runtime,
                },
                prefix: ["ip", "netns", "exec", Sandbox.Node.Name]);
            Assert.StartsWith("READY=1", await notify.NextAsync(60));
            return (broker, notify);
        }

        /// <summary>The first start of the boot: eth1's current states run once; then configured.d is held by a carrier flap.</summary>
        public async Task<(BrokerBinary Broker, NotifySocket Notify)> StartAndHoldConfiguredAsync()
        {
            await BrokerHarness.WaitForAsync(() => NetworkdSays("routable"));
            var (broker, notify) = await StartAsync();
            await BrokerHarness.WaitForAsync(() => Record().Order().SequenceEqual(["configured", "routable"]));
            await BrokerHarness.WaitForIdleAsync(broker);
            // The start's first write of the memory (0.2-0.5 s after it): until then no file says a run ran, and a
            // run queued is not marked (a crash then makes the next start the boot's first again).
            await BrokerHarness.WaitForAsync(() => File.Exists(StatesPath));
            // eth1's carrier goes and comes back: networkd configures it again, and configured.d holds.
            File.WriteAllText(Hold, "");
            Sandbox.Carrier(false);
            await BrokerHarness.WaitForAsync(() => NetworkdSays("no-carrier"));
            Sandbox.Carrier(true);
            await BrokerHarness.WaitForAsync(() => File.Exists(Held));
            return (broker, notify);
        }

        /// <summary>Starts the daemon again, waits for <paramref name="expected"/> runs and quiet, stops it: the runs it made.</summary>
        public async Task<string[]> RunsOfNextStartAsync(int before, int expected)
        {
            var (broker, notify) = await StartAsync();
            using (broker)
            using (notify)
            {
                await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("only what changed meanwhile runs"));
                await BrokerHarness.WaitForAsync(() => Record().Length >= before + expected);
                await BrokerHarness.WaitForIdleAsync(broker);
                broker.Signal(15);
                Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(60)));
                return Record()[before..];
            }
        }

        public void Dispose()
        {
            File.WriteAllText(Release, "");
            Sandbox.Dispose();
            Dir.Dispose();
        }
    }

    [Fact]
    public async Task A_run_dropped_at_stop_runs_at_the_next_start_and_nothing_else_of_its_link_runs_again()
    {
        using var machine = new Machine();
        var (first, notify) = await machine.StartAndHoldConfiguredAsync();
        using (first)
        using (notify)
        {
            // The carrier goes again: no-carrier.d queues behind the held run (networkd leaves AdministrativeState as it is).
            machine.Sandbox.Carrier(false);
            await BrokerHarness.WaitForAsync(() => first.StandardError.Split("OperationalState is no-carrier").Length == 3);

            first.Signal(15);
            Assert.Equal("STOPPING=1", await notify.NextAsync());
            File.WriteAllText(machine.Release, "");
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            // no-carrier.d, and whatever networkd signalled after configured (routable, in some orders) with it.
            Assert.Matches(@"[1-9]\d* queued event\(s\) did not run; they run at the next start", first.StandardError);
        }
        var before = machine.Record();
        Assert.Equal(["routable", "configured", "no-carrier"], before[..3]);
        Assert.Equal("configured", before[^1]);
        File.Delete(machine.Hold);

        // The next start: the dropped no-carrier.d runs, once; configured.d, which had run, does not run again.
        Assert.Equal(["no-carrier"], await machine.RunsOfNextStartAsync(before.Length, 1));
    }

    [Fact]
    public async Task A_daemon_killed_with_runs_queued_runs_them_at_the_next_start()
    {
        using var machine = new Machine();
        var (first, notify) = await machine.StartAndHoldConfiguredAsync();
        using (first)
        using (notify)
        {
            // The carrier goes and comes back again while configured.d holds: no-carrier.d and routable.d queue, and
            // eth1 ends where it was. The queued runs are marked in the states file at once, not after the write delay.
            machine.Sandbox.Carrier(false);
            await BrokerHarness.WaitForAsync(() => machine.NetworkdSays("no-carrier"));
            machine.Sandbox.Carrier(true);
            await BrokerHarness.WaitForAsync(() => first.StandardError.Split("OperationalState is routable").Length == 4);
            await BrokerHarness.WaitForAsync(() => machine.StatesFile.Contains($"\nqueued state {machine.IfIndex} eth1 OperationalState\n"));

            // A crash (the watchdog's SIGKILL): nothing is written at stop.
            first.Signal(9);
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        File.WriteAllText(machine.Release, "");
        File.Delete(machine.Hold);
        var before = machine.Record();
        Assert.Equal("configured", before[^1]);

        // The next start: eth1 is routable and configured as the file said before the flap, but the runs of the flap
        // did not run: its routable.d runs, and configured.d, which was cut short by the crash (at least once).
        Assert.Equal(["routable", "configured"], await machine.RunsOfNextStartAsync(before.Length, 2));
    }
}
