using System.Net.Sockets;
using System.Text;
using NetworkBroker.Control;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Control;

public class ControlServerTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MemoryLog _log = new();

    public void Dispose() => _dir.Dispose();

    private string SocketPath => _dir.Combine("control");

    private ControlServer Start(MonitorHub monitors) =>
        ControlServer.Start(SocketPath, () => Task.FromResult(new DaemonStatus { Pid = 17, Links = 3 }), monitors, _log.Logger)!;

    [Fact]
    public async Task Status_is_one_JSON_object_and_the_socket_is_for_its_owner_and_group_only()
    {
        await using var server = Start(new MonitorHub());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(SocketPath));

        var status = await ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(10));

        Assert.Equal(17, status.Pid);
        Assert.Equal(3, status.Links);
    }

    [Fact]
    public async Task An_unknown_request_gets_an_error_naming_the_known_ones()
    {
        await using var server = Start(new MonitorHub());
        var error = await Assert.ThrowsAsync<ControlClientException>(async () =>
        {
            await foreach (var _ in ControlClient.RequestAsync(SocketPath, "reboot", CancellationToken.None))
            {
            }
        });
        Assert.Equal("the daemon refused: unknown request \"reboot\" (known: status, monitor, run-scripts)", error.Message);
    }

    [Fact]
    public async Task A_monitor_gets_the_published_lines_in_order_and_is_told_when_it_lost_some()
    {
        var monitors = new MonitorHub();
        await using var server = Start(monitors);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var lines = ControlClient.RequestAsync(SocketPath, "monitor", cancel.Token).GetAsyncEnumerator(cancel.Token);

        Assert.True(await lines.MoveNextAsync());
        Assert.Contains("\"event\":\"monitor\"", lines.Current);
        Assert.Equal(1, monitors.Count);
        for (var i = 0; i < 3; i++)
            monitors.Publish($"{{\"n\":{i}}}");
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await lines.MoveNextAsync());
            Assert.Equal($"{{\"n\":{i}}}", lines.Current);
        }

        // Far more than the queue and the socket hold, while the reader does not read: the publisher never
        // waits, and the reader learns afterwards how many lines it missed.
        var padding = new string('x', 1024);
        for (var i = 0; i < MonitorHub.QueueCapacity * 3; i++)
            monitors.Publish($"{{\"m\":{i},\"pad\":\"{padding}\"}}");
        var received = 0;
        long lost = 0;
        while (received + lost < MonitorHub.QueueCapacity * 3 && await lines.MoveNextAsync())
        {
            if (lines.Current.Contains("\"event\":\"lost\""))
                lost += long.Parse(lines.Current.Split("\"count\":")[1].TrimEnd('}'));
            else
                received++;
        }
        Assert.Equal(MonitorHub.QueueCapacity * 3, received + lost);
        Assert.True(lost > 0, "the queue is bounded");
    }

    [Fact]
    public async Task A_monitor_that_disconnects_is_unsubscribed_even_while_nothing_happens()
    {
        var monitors = new MonitorHub();
        await using var server = Start(monitors);
        using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await client.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
            await client.SendAsync(Encoding.UTF8.GetBytes("monitor\n"));
            var buffer = new byte[256];
            Assert.True(await client.ReceiveAsync(buffer) > 0);
            Assert.Equal(1, monitors.Count);
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (monitors.Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.Equal(0, monitors.Count);
    }

    [Fact]
    public async Task Stopping_ends_attached_monitors_and_removes_the_socket()
    {
        var monitors = new MonitorHub();
        var server = Start(monitors);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var lines = new List<string>();
        var reading = Task.Run(async () =>
        {
            await foreach (var line in ControlClient.RequestAsync(SocketPath, "monitor", cancel.Token))
                lines.Add(line);
        });
        while (monitors.Count == 0)
            await Task.Delay(10, cancel.Token);
        monitors.Publish("{\"last\":true}");

        await server.DisposeAsync();
        await reading;

        Assert.Equal("{\"last\":true}", lines[^1]);
        Assert.False(File.Exists(SocketPath));
        var error = await Assert.ThrowsAsync<ControlClientException>(() => ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(5)));
        Assert.True(error.NotRunning);
        Assert.StartsWith("the daemon is not running", error.Message);
    }

    private async Task<string> Exchange(byte[] request, bool close = true)
    {
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        await client.SendAsync(request);
        if (close)
            client.Shutdown(SocketShutdown.Send);
        var reply = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int read;
        while ((read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            reply.Write(buffer, 0, read);
        return Encoding.UTF8.GetString(reply.ToArray());
    }

    [Fact]
    public async Task Garbage_requests_get_an_error_or_nothing_and_the_server_keeps_serving()
    {
        await using var server = Start(new MonitorHub());
        var random = new Random(11);
        for (var i = 0; i < 200; i++)
        {
            var request = new byte[random.Next(0, 600)];
            random.NextBytes(request);
            var reply = await Exchange(request);
            // An error line naming the problem, or nothing at all for an empty request; never a crash or a hang.
            Assert.True(reply.Length == 0 || reply.StartsWith("{\"error\":\"unknown request ", StringComparison.Ordinal), reply);
        }
        Assert.Equal(17, (await ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(10))).Pid);
    }

    [Fact]
    public async Task A_client_that_never_finishes_its_request_is_dropped_and_others_are_served_meanwhile()
    {
        await using var server = Start(new MonitorHub());
        using var silent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await silent.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        await silent.SendAsync("stat"u8.ToArray());

        Assert.Equal(3, (await ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(10))).Links);
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await silent.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)); // closed after 5 s
    }

    private static async Task<string> ReadAllAsync(Socket socket, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) is var n and > 0)
            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        return text.ToString();
    }

    [Fact]
    public async Task A_run_scripts_client_that_stops_reading_is_let_go_and_the_scripts_run_on()
    {
        // Scripts that print far more than the socket holds, to a client that reads nothing: the stream to it ends
        // after the stall, the scripts' output is still consumed to the end, and the connection closes without "done".
        const int Lines = 20_000;
        var consumed = new TaskCompletionSource();
        var observers = new List<NetworkBroker.Scripts.ScriptObserver>();
        await using var server = ControlServer.Start(SocketPath, () => Task.FromResult(new DaemonStatus { Pid = 17 }), new MonitorHub(), _log.Logger,
            monitorStall: TimeSpan.FromMilliseconds(300), runScripts: (request, observer) =>
            {
                observers.Add(observer);
                _ = Task.Run(async () =>
                {
                    for (var i = 0; i < Lines; i++)
                        observer.Output("/etc/network-broker/routable.d/10-chatty", false, $"line {i} {new string('x', 200)}");
                    observer.Complete();
                    await observer.Observations.Completion;
                    consumed.TrySetResult();
                });
                return Task.FromResult<string?>(null);
            })!;

        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.ReceiveBufferSize = 4096;
        client.Connect(new UnixDomainSocketEndPoint(SocketPath));
        await client.SendAsync(Encoding.UTF8.GetBytes(new RunScriptsRequest("routable", "eth1", []).ToLine() + "\n"), SocketFlags.None);

        // Every observation is taken although the client never read one.
        await consumed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(17, (await ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(5))).Pid);
        var received = await ReadAllAsync(client, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain("\"done\"", received);
        Assert.True(received.Split('\n').Length < Lines, "the stream ended early");
    }

    [Fact]
    public async Task A_stranger_is_refused_at_once_and_reads_why_even_after_sending_garbage()
    {
        await using var server = Start(new MonitorHub());
        File.SetUnixFileMode(SocketPath, (UnixFileMode)0b110_110_110); // loosened: nobody may connect, and is still refused

        using var stranger = AsUser.Connect(SocketPath);
        await stranger.SendAsync(new byte[100_000].Select(_ => (byte)'x').ToArray(), SocketFlags.None);
        var reply = await ReadAllAsync(stranger, TimeSpan.FromSeconds(10));
        Assert.Equal("{\"error\":\"permission denied: uid 65534 is neither root nor the daemon\\u0027s user (uid 0)\"}\n", reply);
        Assert.Contains(_log.Lines, l => l.Contains("Control socket: refused pid") && l.Contains("(uid 65534)"));
    }

    [Fact]
    public async Task Silent_strangers_and_monitors_that_never_read_cannot_keep_root_from_its_status()
    {
        var monitors = new MonitorHub();
        await using var server = ControlServer.Start(SocketPath, () => Task.FromResult(new DaemonStatus { Pid = 17 }), monitors, _log.Logger,
            monitorStall: TimeSpan.FromMilliseconds(500))!;
        File.SetUnixFileMode(SocketPath, (UnixFileMode)0b110_110_110);

        var strangers = Enumerable.Range(0, 3 * ControlServer.MaxRequests).Select(_ => AsUser.Connect(SocketPath)).ToList();
        var stuck = new List<Socket>();
        for (var i = 0; i < ControlServer.MaxMonitors; i++)
        {
            var monitor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            monitor.ReceiveBufferSize = 4096;
            monitor.Connect(new UnixDomainSocketEndPoint(SocketPath));
            await monitor.SendAsync("monitor\n"u8.ToArray(), SocketFlags.None);
            stuck.Add(monitor);
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (monitors.Count < ControlServer.MaxMonitors && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(ControlServer.MaxMonitors, monitors.Count);

        // A 17th monitor is told there are too many; root's status is served all the same.
        await Assert.ThrowsAsync<ControlClientException>(async () =>
        {
            await foreach (var _ in ControlClient.RequestAsync(SocketPath, "monitor", CancellationToken.None))
            {
            }
        });
        Assert.Equal(17, (await ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(5))).Pid);

        // They never read: once their sockets are full they are dropped, not waited for.
        var line = $"{{\"event\":\"x\",\"pad\":\"{new string('p', 1000)}\"}}";
        while (monitors.Count > 0 && DateTime.UtcNow < deadline.AddSeconds(20))
        {
            for (var i = 0; i < 100; i++)
                monitors.Publish(line);
            await Task.Delay(20);
        }
        Assert.Equal(0, monitors.Count);
        Assert.Contains(_log.Lines, l => l.Contains("Control socket: dropped the monitor of pid") && l.Contains("it read nothing for 0.5 s"));
        Assert.Equal(17, (await ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(5))).Pid);
        foreach (var socket in strangers.Concat(stuck))
            socket.Dispose();
    }

    /// <summary>A server whose daemon runs as nobody, as one that dropped to its User= does; the test process plays root.</summary>
    private ControlServer StartAsNobodysDaemon(MonitorHub monitors) =>
        ControlServer.Start(SocketPath, () => Task.FromResult(new DaemonStatus { Pid = 17 }), monitors, _log.Logger, daemonUid: AsUser.Nobody)!;

    [Fact]
    public async Task The_daemons_user_cannot_take_the_request_slots_kept_for_root()
    {
        await using var server = StartAsNobodysDaemon(new MonitorHub());
        File.SetUnixFileMode(SocketPath, (UnixFileMode)0b110_110_110);

        // Silent connections of the daemon's own user: those past its part are refused at once, saying why.
        var silent = Enumerable.Range(0, ControlServer.MaxRequests).Select(_ => AsUser.Connect(SocketPath)).ToList();
        var refused = silent.Skip(ControlServer.MaxRequests - ControlServer.RequestsKeptForRoot).ToList();
        foreach (var socket in refused)
            Assert.Equal($"{{\"error\":\"too many clients (at most {ControlServer.MaxRequests - ControlServer.RequestsKeptForRoot} requests at a time " +
                         $"for uid 65534; root keeps {ControlServer.RequestsKeptForRoot} more)\"}}\n", await ReadAllAsync(socket, TimeSpan.FromSeconds(10)));

        // Root has its own: all of them at once, while the daemon's user still holds its part.
        var statuses = Enumerable.Range(0, ControlServer.RequestsKeptForRoot).Select(_ => ControlClient.StatusAsync(SocketPath, TimeSpan.FromSeconds(4)));
        Assert.All(await Task.WhenAll(statuses), status => Assert.Equal(17, status.Pid));
        foreach (var socket in silent)
            socket.Dispose();
    }

    [Fact]
    public async Task The_daemons_user_cannot_take_the_monitor_kept_for_root()
    {
        var monitors = new MonitorHub();
        await using var server = StartAsNobodysDaemon(monitors);
        File.SetUnixFileMode(SocketPath, (UnixFileMode)0b110_110_110);

        var idle = new List<Socket>();
        for (var i = 0; i < ControlServer.MaxMonitors; i++)
        {
            var monitor = AsUser.Connect(SocketPath);
            await monitor.SendAsync("monitor\n"u8.ToArray(), SocketFlags.None);
            idle.Add(monitor);
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (monitors.Count < ControlServer.MaxMonitors - ControlServer.MonitorsKeptForRoot && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal($"{{\"error\":\"too many monitors (at most {ControlServer.MaxMonitors - ControlServer.MonitorsKeptForRoot} for uid 65534; " +
                     $"root keeps {ControlServer.MonitorsKeptForRoot} more)\"}}\n", await ReadAllAsync(idle[^1], TimeSpan.FromSeconds(10)));

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var lines = ControlClient.RequestAsync(SocketPath, "monitor", cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.True(await lines.MoveNextAsync());
        Assert.Contains("\"event\":\"monitor\"", lines.Current);
        Assert.Equal(ControlServer.MaxMonitors, monitors.Count);
        foreach (var socket in idle)
            socket.Dispose();
    }

    [Fact]
    public async Task Stopping_never_waits_for_a_monitor_that_does_not_read()
    {
        var monitors = new MonitorHub();
        var server = Start(monitors);
        using var monitor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        monitor.Connect(new UnixDomainSocketEndPoint(SocketPath));
        await monitor.SendAsync("monitor\n"u8.ToArray(), SocketFlags.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (monitors.Count == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        for (var i = 0; i < 5000; i++)
            monitors.Publish($"{{\"event\":\"x\",\"pad\":\"{new string('p', 500)}\"}}");

        var stopping = server.DisposeAsync().AsTask();
        Assert.Same(stopping, await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(30))));
        await stopping;
        Assert.False(File.Exists(SocketPath));
    }
}
