using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>The control socket serves root and the daemon's own user, and nobody else.</summary>
public class ControlSocketTests : DaemonInNamespace
{
    private static readonly string[] AsNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    [Fact]
    public async Task Another_user_is_refused_by_the_sockets_mode_and_if_that_is_loosened_by_its_credentials()
    {
        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(Config("root"), notify);
        var socket = Path.Combine(broker.RuntimeDirectory, "control");

        using (var monitor = BrokerBinary.Start(["monitor"], broker.ClientEnvironment(), prefix: AsNobody))
        {
            var code = await monitor.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 1, $"exit {code}: {monitor.StandardError}");
            Assert.Contains($"network-broker monitor: permission denied on {socket}: only root and the daemon's user may connect", monitor.StandardError);
        }

        // An admin who loosened the mode still lets no one else in: the daemon checks who connected.
        File.SetUnixFileMode(socket, (UnixFileMode)0b110_110_110);
        using (var monitor = BrokerBinary.Start(["monitor", "--json"], broker.ClientEnvironment(), prefix: AsNobody))
        {
            var code = await monitor.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 1, $"exit {code}: {monitor.StandardError}");
            Assert.Contains("the daemon refused: permission denied: uid 65534 is neither root nor the daemon's user (uid 0)", monitor.StandardError);
            Assert.Equal("", monitor.StandardOutput);
        }
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("Control socket: refused pid") && broker.StandardError.Contains("(uid 65534)"));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_daemon_that_dropped_to_its_user_serves_root_and_that_user()
    {
        using var notify = new NotifySocket(Dir.Combine("notify.sock"), everyone: true);
        using var broker = await StartAsync(Config("nobody"), notify);

        using (var status = BrokerBinary.Start(["status", "--config", Dir.Combine("network-broker.toml")], broker.ClientEnvironment(),
                   prefix: ["ip", "netns", "exec", Ns.Name]))
        {
            Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains($"running: pid {broker.Pid}, network-broker", status.StandardOutput);
            Assert.Contains("user nobody (uid 65534)", status.StandardOutput);
        }

        using (var monitor = BrokerBinary.Start(["monitor", "--json"], broker.ClientEnvironment(), prefix: AsNobody))
        {
            await BrokerHarness.WaitForAsync(() => monitor.StandardOutput.Contains("\"event\":\"monitor\""));
            Ns.Ip("addr add 192.0.2.7/32 dev lo");
            await BrokerHarness.WaitForAsync(() => monitor.StandardOutput.Contains("\"event\":\"address-added\",\"link\":\"lo\",\"ifindex\":1,\"address\":\"192.0.2.7/32\""));
            monitor.Signal(2);
            Assert.Equal(0, await monitor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
