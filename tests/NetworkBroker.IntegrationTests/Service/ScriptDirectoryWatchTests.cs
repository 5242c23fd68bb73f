using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>
/// The daemon binary on the real systemd-networkd: a state known to hold nothing runs nothing without looking, and a
/// script put into its directory, or the directory made, while the daemon runs, runs at the next flap.
/// </summary>
public class ScriptDirectoryWatchTests
{
    [Fact]
    public async Task A_script_added_to_a_state_known_to_hold_nothing_runs_at_the_next_flap()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        // Outside the script root: a file made there is a change of the root, which forgets what is known.
        using var output = new TempDirectory();
        var record = output.Combine("record");
        dir.Script("carrier", "10-record", $"#!/bin/sh\necho \"carrier $LINK\" >> {record}\n");
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\n[Network]\nLinks = \"eth1\"\n");
        var stateFile = Path.Combine(sandbox.NetifDirectory, "links", sandbox.Node.IfIndex("eth1").ToString());
        bool OperState(params string[] states) => File.Exists(stateFile) && File.ReadAllText(stateFile) is var text
            && states.Any(s => text.Contains($"OPER_STATE={s}\n"));
        await BrokerHarness.WaitForAsync(() => OperState("routable"), seconds: 60);
        using var notify = new NotifySocket(output.Combine("notify.sock"));
        using var broker = await sandbox.StartBrokerAsync(config, notify);
        int Carriers() => File.Exists(record) ? File.ReadAllLines(record).Count(l => l == "carrier eth1") : 0;
        async Task Flap(int carriers)
        {
            sandbox.Node.Ip("link set eth1 down");
            await BrokerHarness.WaitForAsync(() => OperState("off", "no-carrier"), seconds: 60);
            sandbox.Node.Ip("link set eth1 up");
            await BrokerHarness.WaitForAsync(() => Carriers() >= carriers, seconds: 60);
        }

        // no-carrier.d is empty (made at start) and the package's root has none: after one look, known.
        await Flap(1);
        await Flap(2);
        await Flap(3);
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("No scripts to run for no-carrier.d (its directories are unchanged"), seconds: 60);

        dir.Script("no-carrier", "10-record", $"#!/bin/sh\necho \"no-carrier $LINK\" >> {record}\n");
        // off.d does not exist anywhere: made now, with a script, it runs too (eth1 down is "off" or "no-carrier").
        dir.Script("off", "10-record", $"#!/bin/sh\necho \"off $LINK\" >> {record}\n");
        await Flap(4);

        await BrokerHarness.WaitForAsync(() => File.ReadAllLines(record).Any(l => l is "no-carrier eth1" or "off eth1"), seconds: 60);
    }
}
