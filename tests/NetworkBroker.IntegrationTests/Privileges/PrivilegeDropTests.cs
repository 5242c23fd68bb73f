using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Privileges;

/// <summary>Started as root by hand, the daemon becomes User= with exactly CAP_NET_ADMIN and CAP_SYS_ADMIN, in every thread and script.</summary>
public class PrivilegeDropTests : DaemonInNamespace
{
    /// <summary>CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21).</summary>
    private const string NetAdminAndSysAdmin = "0000000000201000";

    [Fact]
    public async Task Every_thread_and_every_script_runs_as_the_user_with_only_net_admin_and_sys_admin()
    {
        var output = Dir.Combine("out");
        Directory.CreateDirectory(output);
        File.SetUnixFileMode(output, (UnixFileMode)0b111_111_111); // the scripts run as the daemon's user
        Dir.Script("routes", "10-identity",
            $"#!/bin/sh\n{{ id -u; grep CapEff /proc/self/status | cut -f2; ip rule add from 10.9.9.9 lookup 100 && echo rule-added; }} > {output}/identity 2>&1\n");
        var config = Config(user: AsUser.DaemonName);

        // Ready means the kernel's state is loaded: a route added after it is news, not the initial state.
        using var notify = new NotifySocket(Dir.Combine("notify.sock"), everyone: true); // the daemon notifies as its user
        using var broker = await StartAsync(config, notify);

        // `ip netns exec`, setpriv and the broker all exec: the pid is the daemon's.
        var threads = Directory.GetDirectories($"/proc/{broker.Pid}/task");
        Assert.True(threads.Length > 3, $"{threads.Length} threads");
        foreach (var thread in threads)
        {
            var status = File.ReadAllLines(Path.Combine(thread, "status"));
            Assert.Equal(string.Join('\t', Enumerable.Repeat(AsUser.Daemon, 4)), status.Single(l => l.StartsWith("Uid:")).Split(':')[1].Trim());
            Assert.Equal(NetAdminAndSysAdmin, status.Single(l => l.StartsWith("CapEff:")).Split(':')[1].Trim());
            Assert.Equal(NetAdminAndSysAdmin, status.Single(l => l.StartsWith("CapBnd:")).Split(':')[1].Trim());
        }
        // stderr reaches the test through an asynchronous reader: the line may trail the READY datagram.
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains($"Dropping privileges: re-executing as {AsUser.DaemonName} (uid {AsUser.Daemon})"));

        Ns.Ip("route add 198.51.100.0/24 dev lo");
        await BrokerHarness.WaitForAsync(() => File.Exists(Path.Combine(output, "identity")) && File.ReadAllText(Path.Combine(output, "identity")).Contains("rule"));
        var identity = File.ReadAllLines(Path.Combine(output, "identity"));
        Assert.Equal([AsUser.Daemon.ToString(), NetAdminAndSysAdmin, "rule-added"], identity);
        Assert.Contains("from 10.9.9.9 lookup 100", Ns.Exec("ip rule show"));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Run_scripts_runs_them_as_the_daemon_would_as_its_user_with_its_capabilities()
    {
        var output = Dir.Combine("out");
        Directory.CreateDirectory(output);
        File.SetUnixFileMode(output, (UnixFileMode)0b111_111_111);
        Dir.Script("routable", "10-identity", $"#!/bin/sh\n{{ id -u; grep CapEff /proc/self/status | cut -f2; }} > {output}/identity\n");
        // Root's own and unreadable to anyone else: the daemon's user cannot run it, and run-scripts says so too.
        Dir.Script("routable", "20-private", "#!/bin/sh\nexit 0\n", (UnixFileMode)0b111_000_000);
        var config = Config(user: AsUser.DaemonName);

        using var run = BrokerBinary.Start(["run-scripts", "--config", config, "--link", "lo", "--state", "routable"],
            prefix: ["ip", "netns", "exec", Ns.Name]);
        Assert.Equal(1, await run.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([AsUser.Daemon.ToString(), NetAdminAndSysAdmin], File.ReadAllLines(Path.Combine(output, "identity")));
        Assert.Contains("routable.d/20-private", run.StandardError);
        Assert.Contains("Permission denied", run.StandardError);
    }

    [Fact]
    public async Task A_missing_user_is_a_clear_error()
    {
        var config = Dir.Write("network-broker.toml", "[System]\nUser = \"nb-no-such-user\"\nGenerator = \"dhclient\"\n");
        using var broker = BrokerBinary.Start(["--config", config]);
        Assert.Equal(78, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"{config}:2: [System] User: user \"nb-no-such-user\" does not exist: create it", broker.StandardError);
    }
}
