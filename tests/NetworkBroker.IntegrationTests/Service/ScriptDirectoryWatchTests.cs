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
        var record = dir.Combine("record");
        dir.Script("carrier", "10-record", $"#!/bin/sh\necho \"carrier $LINK\" >> {record}\n");
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\n");
        Directory.CreateDirectory(dir.Combine("run"));
        using var notify = new NotifySocket(dir.Combine("notify.sock"));
        using var broker = BrokerBinary.Start(["--config", config],
            new Dictionary<string, string>
            {
                ["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address,
                ["NOTIFY_SOCKET"] = notify.Path,
                ["RUNTIME_DIRECTORY"] = dir.Combine("run"),
            },
            prefix: ["ip", "netns", "exec", sandbox.Node.Name]);
        Assert.StartsWith("READY=1", await notify.NextAsync(60));
        int Carriers() => File.Exists(record) ? File.ReadAllLines(record).Count(l => l == "carrier eth1") : 0;
        async Task Flap(int carriers)
        {
            sandbox.Node.Ip("link set eth1 down");
            await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("OperationalState is off") || broker.StandardError.Contains("OperationalState is no-carrier"), seconds: 30);
            sandbox.Node.Ip("link set eth1 up");
            await BrokerHarness.WaitForAsync(() => Carriers() >= carriers, seconds: 30);
        }

        // no-carrier.d is empty (made at start) and the package's root has none: after one look, known.
        await Flap(1);
        await Flap(2);
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("No scripts to run for no-carrier.d (its directories are unchanged"), seconds: 30);

        dir.Script("no-carrier", "10-record", $"#!/bin/sh\necho \"no-carrier $LINK\" >> {record}\n");
        // off.d does not exist anywhere: made now, with a script, it runs too (eth1 down is "off" or "no-carrier").
        dir.Script("off", "10-record", $"#!/bin/sh\necho \"off $LINK\" >> {record}\n");
        await Flap(3);

        await BrokerHarness.WaitForAsync(() => File.ReadAllLines(record).Any(l => l is "no-carrier eth1" or "off eth1"), seconds: 30);
    }
}
