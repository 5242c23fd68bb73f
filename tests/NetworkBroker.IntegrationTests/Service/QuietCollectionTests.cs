using System.Globalization;
using System.Text.RegularExpressions;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>The daemon binary on the real systemd-networkd: the GC's memory a burst of flaps filled is returned once it quiets.</summary>
public partial class QuietCollectionTests
{
    [GeneratedRegex(@"^(\S+) debug Quiet after events: collected the (\d+) KiB .* the GC's committed memory (\d+) -> (\d+) KiB$", RegexOptions.Multiline)]
    private static partial Regex Collected();

    [Fact]
    public async Task After_a_burst_of_flaps_one_collection_returns_the_gcs_memory_once_the_daemon_is_quiet()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        foreach (var state in new[] { "carrier", "no-carrier", "routable" })
            dir.Script(state, "10-true", "#!/bin/sh\n");
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nLogLevel = \"debug\"\n[Network]\nEmitJSON = true\n");
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
        // Bursts count from the end of the start's own collection on.
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("the start has quieted")
            || broker.StandardError.Contains("its pages stay mapped"), seconds: 60);
        var before = Collected().Matches(broker.StandardError).Count;

        // About 100 KiB of garbage per flap: 40 flaps, a fifth of a second apart, are a burst of about 4 MiB (a stall of
        // this machine mid-burst may collect once within it; enough is left for the one after it).
        for (var i = 0; i < 40; i++)
        {
            sandbox.Node.Ip("link set eth1 down");
            Thread.Sleep(100);
            sandbox.Node.Ip("link set eth1 up");
            Thread.Sleep(100);
        }
        var burstEnded = DateTime.UtcNow;

        await BrokerHarness.WaitForAsync(() => Collected().Matches(broker.StandardError).Count > before
            && DateTime.Parse(Collected().Matches(broker.StandardError)[^1].Groups[1].Value, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal) >= burstEnded, seconds: 30);
        var last = Collected().Matches(broker.StandardError)[^1];
        // What it returned: the committed memory after the collection is below what the burst left.
        Assert.True(long.Parse(last.Groups[4].Value) < long.Parse(last.Groups[3].Value), last.Value);
    }
}
