using System.Net.Sockets;
using System.Text;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>The control socket serves root and the daemon's own user, and nobody else.</summary>
public class ControlSocketTests : DaemonInNamespace
{
    private static readonly string[] AsNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    private static readonly string[] AsDaemonUser = ["setpriv", $"--reuid={AsUser.Daemon}", $"--regid={AsUser.Daemon}", "--clear-groups"];
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
        using var broker = await StartAsync(Config(AsUser.DaemonName), notify);

        using (var status = BrokerBinary.Start(["status", "--config", Dir.Combine("network-broker.toml")], broker.ClientEnvironment(),
                   prefix: ["ip", "netns", "exec", Ns.Name]))
        {
            Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains($"running: pid {broker.Pid}, network-broker", status.StandardOutput);
            Assert.Contains($"user {AsUser.DaemonName} (uid {AsUser.Daemon})", status.StandardOutput);
        }

        using (var monitor = BrokerBinary.Start(["monitor", "--json"], broker.ClientEnvironment(), prefix: AsDaemonUser))
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

    /// <summary>One request line as the daemon's user sends it, and everything the daemon answers until it closes.</summary>
    private static async Task<string> AskAsDaemonUser(string socket, string request)
    {
        using var client = AsUser.Connect(socket, AsUser.Daemon);
        await client.SendAsync(Encoding.UTF8.GetBytes(request + "\n"), SocketFlags.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reply = new StringBuilder();
        var buffer = new byte[4096];
        while (await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) is var n and > 0)
            reply.Append(Encoding.UTF8.GetString(buffer, 0, n));
        return reply.ToString();
    }

    [Fact]
    public async Task Run_scripts_for_a_name_no_link_can_have_is_refused_before_anything_runs_or_is_logged()
    {
        var output = Dir.Combine("out");
        Directory.CreateDirectory(output);
        File.SetUnixFileMode(output, (UnixFileMode)0b111_111_111);
        Dir.Script("routable", "10-record", $"#!/bin/sh\nprintf '%s\\n' \"$LINK\" >> {output}/links\n");
        using var notify = new NotifySocket(Dir.Combine("notify.sock"), everyone: true);
        using var broker = await StartAsync(Config(AsUser.DaemonName, more: "[Network]\nLinks = \"eth0\"\n"), notify);
        var socket = Path.Combine(broker.RuntimeDirectory, "control");

        // lo is not selected; "lo" and a NUL must not get round that, by the name of a link that is not there.
        Assert.Equal("{\"error\":\"lo is not selected by Links=: the daemon runs no scripts for it\"}\n",
            await AskAsDaemonUser(socket, """run-scripts {"state":"routable","link":"lo"}"""));
        Assert.Equal("{\"error\":\"\\u0022lo?\\u0022 is not a link name: 1-15 bytes, no \\u0027/\\u0027, \\u0027:\\u0027, white space or control character, not \\u0022.\\u0022 or \\u0022..\\u0022\"}\n",
            await AskAsDaemonUser(socket, """run-scripts {"state":"routable","link":"lo\u0000"}"""));
        var long60k = await AskAsDaemonUser(socket, $$"""run-scripts {"state":"routable","link":"{{new string('x', 60_000)}}"}""");
        Assert.StartsWith("{\"error\":\"\\u0022xxxx", long60k);
        Assert.True(long60k.Length < 300, long60k);

        // The daemon still serves, ran nothing for any of them, and logged no request at length.
        Assert.Equal(0, (await NetworkBroker.Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10))).Scripts);
        Assert.False(File.Exists(Path.Combine(output, "links")));
        Assert.DoesNotContain("asked to run", broker.StandardError);
        Assert.All(broker.StandardError.Split('\n'), line => Assert.True(line.Length < 1000, $"a line of {line.Length} characters"));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>
    /// The daemon's own user keeping every connection it can open: silent ones, each opened again as soon as the
    /// daemon closes it (after its 5 s to ask, or at once when it refuses it).
    /// </summary>
    private sealed class SilentConnections
    {
        private int _refused;

        public SilentConnections(string socket, int count, CancellationToken cancellation) =>
            Holding = Task.WhenAll(Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
            {
                var buffer = new byte[256];
                while (!cancellation.IsCancellationRequested)
                {
                    using var silent = AsUser.Connect(socket, AsUser.Daemon);
                    try
                    {
                        int read;
                        while ((read = await silent.ReceiveAsync(buffer, SocketFlags.None, cancellation)) > 0)
                            if (Encoding.UTF8.GetString(buffer, 0, read).Contains("too many clients"))
                                Interlocked.Increment(ref _refused);
                        await Task.Delay(20, cancellation);
                    }
                    catch (Exception e) when (e is OperationCanceledException or SocketException)
                    {
                    }
                }
            })));

        public Task Holding { get; }

        /// <summary>How many times the daemon said it had no slot left for this user.</summary>
        public int Refused => Volatile.Read(ref _refused);
    }

    [Fact]
    public async Task The_daemons_user_holding_every_slot_it_can_keeps_root_from_neither_status_nor_monitor()
    {
        using var notify = new NotifySocket(Dir.Combine("notify.sock"), everyone: true);
        using var broker = await StartAsync(Config(AsUser.DaemonName), notify);
        var socket = Path.Combine(broker.RuntimeDirectory, "control");

        using (var flood = new CancellationTokenSource())
        {
            // Once the daemon refuses one of them, its user holds all it may (without root's part, it would hold them all).
            var silent = new SilentConnections(socket, Control.ControlServer.MaxRequests, flood.Token);
            for (var waited = 0; silent.Refused == 0 && waited < 3000; waited += 20)
                await Task.Delay(20);
            using (var status = BrokerBinary.Start(["status", "--config", Dir.Combine("network-broker.toml")], broker.ClientEnvironment(),
                       prefix: ["ip", "netns", "exec", Ns.Name]))
            {
                Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60)));
                Assert.Contains($"running: pid {broker.Pid}, network-broker", status.StandardOutput);
            }
            Assert.True(silent.Refused > 0);
            await flood.CancelAsync();
            await silent.Holding;
        }

        // Monitors of the daemon's user that never read: all but root's one are let in, the next is told why.
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < Control.ControlServer.MaxMonitors; i++)
            {
                var monitor = AsUser.Connect(socket, AsUser.Daemon);
                idle.Add(monitor);
                await monitor.SendAsync("monitor\n"u8.ToArray(), SocketFlags.None);
            }
            var last = new byte[1024];
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
                Assert.StartsWith($"{{\"error\":\"too many monitors (at most 15 for uid {AsUser.Daemon}; root keeps 1 more)",
                    Encoding.UTF8.GetString(last, 0, await idle[^1].ReceiveAsync(last, SocketFlags.None, timeout.Token)));

            using var rootMonitor = BrokerBinary.Start(["monitor", "--json"], broker.ClientEnvironment());
            await BrokerHarness.WaitForAsync(() => rootMonitor.StandardOutput.Contains("\"event\":\"monitor\"") || rootMonitor.HasExited);
            Assert.Contains("\"event\":\"monitor\"", rootMonitor.StandardOutput);
            Assert.Equal(Control.ControlServer.MaxMonitors, (await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10))).Monitors);
            rootMonitor.Signal(2);
            Assert.Equal(0, await rootMonitor.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            foreach (var monitor in idle)
                monitor.Dispose();
        }

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
