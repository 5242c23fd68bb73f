using System.Globalization;
using System.Net.Sockets;
using System.Text;
using NetworkBroker.Logging;
using NetworkBroker.Native;

namespace NetworkBroker.Control;

/// <summary>
/// The daemon's control socket (<c>/run/network-broker/control</c>): a client writes one request line,
/// <c>status</c> (one JSON object comes back) or <c>monitor</c> (JSON lines until either side closes).
/// Only root and the daemon's own user are served: the directory is 0750 and the socket 0660, and the
/// peer's credentials (SO_PEERCRED) are checked at accept, before anything is read, so a loosened mode
/// still lets no one else in and a stranger never holds a slot. Requests and monitors have budgets of
/// their own; a monitor that stops reading is dropped, never waited for. Of each budget a part is kept
/// for root: the daemon's user (whose scripts run as it, and may misbehave) can fill only the rest, so
/// root always gets its status and a monitor.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    /// <summary>Connections of root or the daemon's user that are asking (a request line within 5 s) or being answered.</summary>
    public const int MaxRequests = 16;
    /// <summary>Of <see cref="MaxRequests"/>, those only root may take.</summary>
    public const int RequestsKeptForRoot = 4;
    /// <summary>Attached monitors: a budget apart, so monitors can never keep root from its status.</summary>
    public const int MaxMonitors = 16;
    /// <summary>Of <see cref="MaxMonitors"/>, those only root may take.</summary>
    public const int MonitorsKeptForRoot = 1;
    /// <summary>Refusals being delivered at once; past that a refused peer is simply disconnected.</summary>
    private const int MaxRefusing = 64;
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    /// <summary>A monitor whose socket stays full this long (it stopped reading) is dropped: the daemon never waits for one.</summary>
    public static readonly TimeSpan DefaultMonitorStall = TimeSpan.FromSeconds(10);
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<Task<DaemonStatus>> _status;

    private Func<RunScriptsRequest, Scripts.ScriptObserver, Task<string?>>? RunScripts { get; init; }
    private readonly MonitorHub _monitors;
    private readonly Logger _log;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _clients = [];
    private readonly HashSet<Socket> _sockets = [];
    private readonly RepeatFilter _refusals = new();
    private int _requests;
    private int _monitorCount;
    private int _refusing;
    private Task _accepting = Task.CompletedTask;

    private TimeSpan MonitorStall { get; init; } = DefaultMonitorStall;

    /// <summary>The daemon's user, served beside root within the budgets less what is kept for root.</summary>
    private uint DaemonUid { get; init; }

    private ControlServer(Socket listener, string path, Func<Task<DaemonStatus>> status, MonitorHub monitors, Logger log)
    {
        _listener = listener;
        _path = path;
        _status = status;
        _monitors = monitors;
        _log = log;
    }

    /// <summary>
    /// Binds the socket; null (logged) when it cannot, since the daemon's work does not depend on it.
    /// </summary>
    /// <exception cref="ControlSocketInUseException">Another daemon answers on the socket.</exception>
    /// <param name="monitorStall">How long a monitor may stop reading before it is dropped (<see cref="DefaultMonitorStall"/>).</param>
    /// <param name="runScripts">run-scripts: queues the event with the observer; null when queued, else why not.</param>
    /// <param name="daemonUid">The daemon's user (by default the effective uid: the daemon has become its User= by now).</param>
    public static ControlServer? Start(string path, Func<Task<DaemonStatus>> status, MonitorHub monitors, Logger log, TimeSpan? monitorStall = null,
        Func<RunScriptsRequest, Scripts.ScriptObserver, Task<string?>>? runScripts = null, uint? daemonUid = null)
    {
        // File.Exists is true for a socket too (anything but a directory).
        if (File.Exists(path))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new ControlSocketInUseException(path);
            }
            catch (SocketException)
            {
                // Left behind by a daemon that died: nobody listens, take it over.
                TryDelete(path);
            }
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            listener.Listen(MaxRequests);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            // .NET reports a bind into a missing directory as EADDRNOTAVAIL; the admin's fact is the missing directory.
            var why = Path.GetDirectoryName(path) is { } directory && !Directory.Exists(directory)
                ? $"{Native.Libc.Describe(Native.Libc.ENOENT)}: {directory} does not exist"
                : Native.ErrorText.Of(e);
            log.Warn($"No control socket ({path}: {why}): status shows no daemon counters and monitor cannot attach");
            return null;
        }
        var server = new ControlServer(listener, path, status, monitors, log)
        {
            MonitorStall = monitorStall ?? DefaultMonitorStall, RunScripts = runScripts, DaemonUid = daemonUid ?? Libc.geteuid(),
        };
        server._accepting = server.AcceptAsync();
        log.Debug($"Control socket {path}");
        return server;
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.Warn($"Control socket: accept failed: {Native.ErrorText.Of(e)}");
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            // Who it is, before anything is read: a stranger never holds a slot, however silent it stays.
            (int Pid, uint Uid) peer;
            try
            {
                peer = PeerOf(client);
            }
            catch (SocketException)
            {
                client.Dispose();
                continue;
            }
            var own = DaemonUid;
            if (peer.Uid != 0 && peer.Uid != own)
            {
                if (_refusals.IsNew($"uid {peer.Uid}", "refused"))
                    _log.Warn($"Control socket: refused pid {peer.Pid} (uid {peer.Uid}): only root and uid {own} may connect");
                Refuse(client, $"permission denied: uid {peer.Uid} is neither root nor the daemon's user (uid {own})");
                continue;
            }
            if (Interlocked.Increment(ref _requests) > RequestBudget(peer.Uid))
            {
                Interlocked.Decrement(ref _requests);
                Refuse(client, peer.Uid == 0
                    ? $"too many clients (at most {MaxRequests} requests at a time)"
                    : $"too many clients (at most {RequestBudget(peer.Uid)} requests at a time for uid {peer.Uid}; root keeps {RequestsKeptForRoot} more)");
                continue;
            }
            lock (_clients)
                _sockets.Add(client); // before serving starts: serving removes it when done
            var serving = ServeAsync(client, peer.Pid, peer.Uid);
            lock (_clients)
            {
                _clients.RemoveAll(t => t.IsCompleted);
                _clients.Add(serving);
            }
        }
    }

    /// <summary>How many requests may be under way, this one counted, when <paramref name="uid"/> asks: all for root, all but root's part for the daemon's user.</summary>
    private static int RequestBudget(uint uid) => uid == 0 ? MaxRequests : MaxRequests - RequestsKeptForRoot;

    private static int MonitorBudget(uint uid) => uid == 0 ? MaxMonitors : MaxMonitors - MonitorsKeptForRoot;

    private async Task ServeAsync(Socket client, int pid, uint uid)
    {
        var asking = true;
        try
        {
            string? request;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
            {
                timeout.CancelAfter(RequestTimeout);
                request = await ReadLineAsync(client, timeout.Token).ConfigureAwait(false);
            }
            switch (request)
            {
                case "status":
                    await SendAsync(client, (await _status().ConfigureAwait(false)).ToJson() + "\n", _stopping.Token).ConfigureAwait(false);
                    break;
                case "monitor":
                    // From now on it counts as a monitor, not as a request.
                    Interlocked.Decrement(ref _requests);
                    asking = false;
                    if (Interlocked.Increment(ref _monitorCount) > MonitorBudget(uid))
                    {
                        Interlocked.Decrement(ref _monitorCount);
                        await SendAsync(client, Error(uid == 0
                            ? $"too many monitors (at most {MaxMonitors})"
                            : $"too many monitors (at most {MonitorBudget(uid)} for uid {uid}; root keeps {MonitorsKeptForRoot} more)"), _stopping.Token).ConfigureAwait(false);
                        break;
                    }
                    try
                    {
                        await MonitorAsync(client, pid).ConfigureAwait(false);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _monitorCount);
                    }
                    break;
                case null:
                    break;
                case not null when request.StartsWith(RunScriptsRequest.Verb + " ", StringComparison.Ordinal) && RunScripts is not null:
                    await RunScriptsAsync(client, pid, request[(RunScriptsRequest.Verb.Length + 1)..]).ConfigureAwait(false);
                    break;
                default:
                    await SendAsync(client, Error($"unknown request \"{PeerText.Excerpt(request, 40)}\" (known: status, monitor, run-scripts)"), _stopping.Token).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The client went away or was too slow to ask: nothing to keep.
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // The broker's loop has stopped (the daemon is stopping; scripts still drain): said, not an error.
            try
            {
                await SendAsync(client, Error("the daemon is stopping"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException or TimeoutException)
            {
            }
        }
        catch (Exception e)
        {
            _log.Error($"Control socket: {e.Message}");
        }
        finally
        {
            if (asking)
                Interlocked.Decrement(ref _requests);
            DiscardUnread(client);
            lock (_clients)
                _sockets.Remove(client);
            client.Dispose();
        }
    }

    /// <summary>Runs a directory's scripts as the daemon runs them, streaming their output and results back; a client that goes away stops only the stream.</summary>
    private async Task RunScriptsAsync(Socket client, int pid, string text)
    {
        if (RunScriptsRequest.Parse(text, out var error) is not { } request)
        {
            await SendAsync(client, Error(error!), _stopping.Token).ConfigureAwait(false);
            return;
        }
        var observer = new Scripts.ScriptObserver(request.Environment);
        if (await RunScripts!(request, observer).ConfigureAwait(false) is { } refused)
        {
            await SendAsync(client, Error(refused), _stopping.Token).ConfigureAwait(false);
            return;
        }
        _log.Info($"Control socket: pid {pid} asked to run {request.State}.d{(request.Link is null ? "" : " for " + PeerText.Excerpt(request.Link, 32))}");
        var sending = true;
        await foreach (var observation in observer.Observations.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
        {
            if (!sending)
                continue;
            try
            {
                // A client that stops reading is let go, as a monitor is: it never holds a request slot for ever.
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                stall.CancelAfter(MonitorStall);
                await SendAsync(client, RunScriptsRequest.Reply(observation), stall.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException || e is OperationCanceledException && !_stopping.IsCancellationRequested)
            {
                // The scripts run on as any event's would; only the stream to this client ends.
                sending = false;
            }
        }
        if (sending)
            await SendAsync(client, Line("done", "\"ok\":true"), _stopping.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Closing a Unix socket with unread input resets the peer, which may then lose our reply: read what a
    /// client sent beyond its request line (an overlong or garbage request) before closing.
    /// </summary>
    private static void DiscardUnread(Socket client)
    {
        try
        {
            var buffer = new byte[4096];
            for (var total = 0; client.Available > 0 && total < 1024 * 1024; )
                total += client.Receive(buffer);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task MonitorAsync(Socket client, int pid)
    {
        var subscriber = _monitors.Subscribe();
        using var gone = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        // The client sends nothing more: a read that ends means it closed (an idle monitor learns it at once).
        var watch = WatchClosedAsync(client, gone);
        try
        {
            await SendAsync(client, Line("monitor", $"\"pid\":{Environment.ProcessId}"), gone.Token).ConfigureAwait(false);
            var batch = new StringBuilder();
            var reader = subscriber.Lines.Reader;
            while (await reader.WaitToReadAsync(gone.Token).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Length < 64 * 1024 && reader.TryRead(out var line))
                    batch.Append(line).Append('\n');
                if (Interlocked.Exchange(ref subscriber.Lost, 0) is var lost and > 0)
                    batch.Append(Line("lost", $"\"count\":{lost.ToString(CultureInfo.InvariantCulture)}"));
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(gone.Token);
                stall.CancelAfter(MonitorStall);
                try
                {
                    await SendAsync(client, batch.ToString(), stall.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!gone.IsCancellationRequested)
                {
                    _log.Warn($"Control socket: dropped the monitor of pid {pid}: it read nothing for {MonitorStall.TotalSeconds:0.#} s " +
                              $"({Interlocked.Read(ref subscriber.Lost)} lines lost meanwhile)");
                    return;
                }
            }
        }
        finally
        {
            _monitors.Unsubscribe(subscriber);
            await gone.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(false);
        }
    }

    private static async Task WatchClosedAsync(Socket client, CancellationTokenSource gone)
    {
        var buffer = new byte[64];
        try
        {
            while (await client.ReceiveAsync(buffer, SocketFlags.None, gone.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        await gone.CancelAsync().ConfigureAwait(false);
    }

    private static async Task<string?> ReadLineAsync(Socket client, CancellationToken cancellation)
    {
        // 256 bytes for the short requests; a run-scripts request may carry variables, up to its own bound.
        var buffer = new byte[256];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length >= RunScriptsRequest.MaxBytes || !buffer.AsSpan().StartsWith("run-scripts "u8))
                    break;
                Array.Resize(ref buffer, Math.Min(buffer.Length * 4, RunScriptsRequest.MaxBytes));
            }
            var read = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellation).ConfigureAwait(false);
            if (read == 0)
                break;
            var before = length;
            length += read;
            if (Array.IndexOf(buffer, (byte)'\n', before, length - before) is var end and >= 0)
                return Encoding.UTF8.GetString(buffer, 0, end).Trim();
        }
        return length == 0 ? null : Encoding.UTF8.GetString(buffer, 0, length).Trim();
    }

    /// <summary>
    /// Tells a client why it is refused, then closes in an orderly way: our side first (shutdown), then what it
    /// sent is read and dropped for a moment, so that the close does not reset the connection before it read the reason.
    /// </summary>
    private void Refuse(Socket client, string why)
    {
        if (Interlocked.Increment(ref _refusing) > MaxRefusing)
        {
            Interlocked.Decrement(ref _refusing);
            client.Dispose();
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(1));
                await SendAsync(client, Error(why), timeout.Token).ConfigureAwait(false);
                client.Shutdown(SocketShutdown.Send);
                var buffer = new byte[4096];
                for (var total = 0; total < 1024 * 1024; )
                {
                    var read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (read == 0)
                        break;
                    total += read;
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                client.Dispose();
                Interlocked.Decrement(ref _refusing);
            }
        });
    }

    private static async Task SendAsync(Socket client, string text, CancellationToken cancellation)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var sent = 0;
        while (sent < bytes.Length)
            sent += await client.SendAsync(bytes.AsMemory(sent), SocketFlags.None, cancellation).ConfigureAwait(false);
    }

    /// <summary>The peer's pid and uid, from the kernel (struct ucred: pid, uid, gid).</summary>
    private static (int Pid, uint Uid) PeerOf(Socket client)
    {
        Span<byte> credentials = stackalloc byte[12];
        client.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        return (BitConverter.ToInt32(credentials), BitConverter.ToUInt32(credentials[4..]));
    }

    private static string Error(string message) =>
        $"{{\"error\":\"{System.Text.Json.JsonEncodedText.Encode(message)}\"}}\n";

    private static string Line(string name, string fields) =>
        $"{{\"time\":\"{DateTime.UtcNow:O}\",\"event\":\"{name}\",{fields}}}\n";

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Closes the socket; attached monitors get what is queued (for up to 2 s), then every connection is cut:
    /// a client that does not read never holds the daemon's stop.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _monitors.CompleteAll();
        Task[] clients;
        lock (_clients)
            clients = [.. _clients];
        await Task.WhenAny(Task.WhenAll(clients), Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        lock (_clients)
            foreach (var socket in _sockets)
                socket.Dispose();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(clients), Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        TryDelete(_path);
    }
}

/// <summary>Another network-broker answers on the control socket: two daemons would fight over the same rules.</summary>
public sealed class ControlSocketInUseException(string path)
    : Exception($"another network-broker is running: {path} answers")
{
    public string Path { get; } = path;
}
