using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>SIGHUP: the configuration is read again and applied, with RELOADING=1 and READY=1 around it.</summary>
public class ReloadTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create();
    private readonly TempDirectory _dir = new();

    public void Dispose()
    {
        _ns.Dispose();
        _dir.Dispose();
    }

    private string Config(string links) => _dir.Write("network-broker.toml",
        $"[System]\nUser = \"root\"\nGenerator = \"dhclient\"\nDHClientLeaseFile = \"{_dir.Combine("none", "x.leases")}\"\n[Network]\nLinks = \"{links}\"\n");

    private int Runs() => File.Exists(_dir.Combine("runs")) ? File.ReadAllLines(_dir.Combine("runs")).Length : 0;

    [Fact]
    public async Task A_changed_configuration_is_in_effect_after_SIGHUP_and_a_broken_one_is_refused()
    {
        _dir.Script("routes", "10-record", $"#!/bin/sh\necho \"$LINK $ROUTE_DST\" >> {_dir.Combine("runs")}\n");
        var config = Config("eth9");
        using var notify = new NotifySocket(_dir.Combine("notify.sock"));
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path },
            prefix: ["ip", "netns", "exec", _ns.Name]);
        Assert.StartsWith("READY=1", await notify.NextAsync());

        _ns.Ip("route add 198.51.100.0/24 dev lo");
        await Task.Delay(1000); // routes.d's window is 200 ms: nothing may run for lo, which Links= leaves out
        Assert.Equal(0, Runs());

        Config("");
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        _ns.Ip("route add 198.51.101.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => Runs() == 1);
        Assert.Equal("lo 198.51.101.0/24", File.ReadAllText(_dir.Combine("runs")).Trim());
        // stderr reaches the test through an asynchronous reader: the line may trail the READY datagram.
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains($"Reloaded {config}"));

        File.WriteAllText(config, "[System]\nLogLevel = \"loud\"\n");
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        await BrokerHarness.WaitForAsync(() =>
            broker.StandardError.Contains($"Reload refused, keeping the running configuration: {config}:2: [System] LogLevel: unknown value \"loud\""));
        _ns.Ip("route add 198.51.102.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => Runs() == 2);

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
