using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>SIGHUP: the configuration is read again and applied, with RELOADING=1 and READY=1 around it.</summary>
public class ReloadTests : DaemonInNamespace
{
    private string Config(string links) => Config(more: $"[Network]\nLinks = \"{links}\"\n");

    private int Runs() => File.Exists(Dir.Combine("runs")) ? File.ReadAllLines(Dir.Combine("runs")).Length : 0;

    [Fact]
    public async Task A_changed_configuration_is_in_effect_after_SIGHUP_and_a_broken_one_is_refused()
    {
        Dir.Script("routes", "10-record", $"#!/bin/sh\necho \"$LINK $ROUTE_DST\" >> {Dir.Combine("runs")}\n");
        var config = Config("eth9");
        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(config, notify);

        Ns.Ip("route add 198.51.100.0/24 dev lo");
        await Task.Delay(1000); // routes.d's window is 200 ms: nothing may run for lo, which Links= leaves out
        Assert.Equal(0, Runs());

        Config("");
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        Ns.Ip("route add 198.51.101.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => Runs() == 1);
        Assert.Equal("lo 198.51.101.0/24", File.ReadAllText(Dir.Combine("runs")).Trim());
        // stderr reaches the test through an asynchronous reader: the line may trail the READY datagram.
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains($"Reloaded {config}"));

        File.WriteAllText(config, "[System]\nLogLevel = \"loud\"\n");
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        await BrokerHarness.WaitForAsync(() =>
            broker.StandardError.Contains($"Reload refused, keeping the running configuration: {config}:2: [System] LogLevel: unknown value \"loud\""));
        Ns.Ip("route add 198.51.102.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => Runs() == 2);

        // A file the TOML parser gives up on (nested too deep), then a FIFO: refused, located, READY=1 all the same.
        File.WriteAllText(config, "[System]\nLogLevel = " + new string('[', 100) + new string(']', 100) + "\n");
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        await BrokerHarness.WaitForAsync(() =>
            broker.StandardError.Contains($"Reload refused, keeping the running configuration: {config}:2: nested deeper than 64 levels of arrays or inline tables"));
        File.Delete(config);
        Shell.Run("mkfifo", config);
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains($"{config}: cannot read: a FIFO, not a regular file"));
        Ns.Ip("route add 198.51.103.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => Runs() == 3);

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_changed_drop_in_is_in_effect_after_SIGHUP_a_broken_one_is_refused_by_name_and_warnings_are_logged()
    {
        Dir.Script("routes", "10-record", $"#!/bin/sh\necho \"$LINK $ROUTE_DST\" >> {Dir.Combine("runs")}\n");
        var config = Config("lo");
        Directory.CreateDirectory(Dir.Combine("network-broker.toml.d"));
        var dropIn = Dir.Write(Path.Combine("network-broker.toml.d", "50-links.toml"), "[Network]\nLinks = \"eth\"\n");
        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(config, notify);
        await BrokerHarness.WaitForAsync(() =>
            broker.StandardError.Contains($"{dropIn}:2: [Network] Links: \"eth\" matches only a link named exactly eth"));

        // The drop-in's Links= wins over the main file's lo: nothing runs for lo.
        Ns.Ip("route add 198.51.100.0/24 dev lo");
        await Task.Delay(1000); // routes.d's window is 200 ms
        Assert.Equal(0, Runs());

        File.WriteAllText(dropIn, "[Network]\nLinks = \"l*\"\n");
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        Ns.Ip("route add 198.51.101.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => Runs() == 1);
        Assert.Equal("lo 198.51.101.0/24", File.ReadAllText(Dir.Combine("runs")).Trim());

        var broken = Dir.Write(Path.Combine("network-broker.toml.d", "60-broken.toml"), "[Network]\nLinks = \"eth0,eth1\"\n");
        broker.Signal(1);
        Assert.StartsWith("RELOADING=1", await notify.NextAsync());
        Assert.StartsWith("READY=1", await notify.NextAsync());
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains(
            $"Reload refused, keeping the running configuration: {broken}:2: [Network] Links: \"eth0,eth1\": names are separated by spaces"));
        Ns.Ip("route add 198.51.102.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => Runs() == 2);

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
