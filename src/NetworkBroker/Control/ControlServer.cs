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
/// peer's credentials (SO_PEERCRED) are checked as well, so a loosened mode still lets no one else in.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    public const int MaxClients = 16;
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<Task<DaemonStatus>> _status;
    private readonly MonitorHub _monitors;
    private readonly Logger _log;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _clients = [];
    private Task _accepting = Task.CompletedTask;

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
    public static ControlServer? Start(string path, Func<Task<DaemonStatus>> status, MonitorHub monitors, Logger log)
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
            listener.Listen(MaxClients);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            log.Warn($"No control socket ({path}: {Native.ErrorText.Of(e)}): status shows no daemon counters and monitor cannot attach");
            return null;
        }
        var server = new ControlServer(listener, path, status, monitors, log);
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
                _log.Warn($"Control socket: accept failed: {e.Message}");
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            lock (_clients)
            {
                _clients.RemoveAll(t => t.IsCompleted);
                if (_clients.Count >= MaxClients)
                {
                    _ = RefuseAsync(client, $"too many clients (at most {MaxClients})");
                    continue;
                }
                _clients.Add(ServeAsync(client));
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            try
            {
                var (pid, uid) = PeerOf(client);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                // The request is read even from a client about to be refused: closing with its bytes unread
                // would reset the connection, and the client could lose the refusal.
                var request = await ReadLineAsync(client, timeout.Token).ConfigureAwait(false);
                var own = Libc.geteuid();
                if (uid != 0 && uid != own)
                {
                    _log.Warn($"Control socket: refused pid {pid} (uid {uid}): only root and uid {own} may connect");
                    await SendAsync(client, Error($"permission denied: uid {uid} is neither root nor the daemon's user (uid {own})")).ConfigureAwait(false);
                    return;
                }
                switch (request)
                {
                    case "status":
                        await SendAsync(client, (await _status().ConfigureAwait(false)).ToJson() + "\n").ConfigureAwait(false);
                        break;
                    case "monitor":
                        await MonitorAsync(client).ConfigureAwait(false);
                        break;
                    case null:
                        break;
                    default:
                        await SendAsync(client, Error($"unknown request \"{Truncate(request)}\" (known: status, monitor)")).ConfigureAwait(false);
                        break;
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
            {
                // The client went away or was too slow to ask: nothing to keep.
            }
            catch (Exception e)
            {
                _log.Error($"Control socket: {e.Message}");
            }
            finally
            {
                DiscardUnread(client);
            }
        }
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

    private async Task MonitorAsync(Socket client)
    {
        var subscriber = _monitors.Subscribe();
        using var gone = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        // The client sends nothing more: a read that ends means it closed (an idle monitor learns it at once).
        var watch = WatchClosedAsync(client, gone);
        try
        {
            await SendAsync(client, Line("monitor", $"\"pid\":{Environment.ProcessId}")).ConfigureAwait(false);
            var batch = new StringBuilder();
            var reader = subscriber.Lines.Reader;
            while (await reader.WaitToReadAsync(gone.Token).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Length < 64 * 1024 && reader.TryRead(out var line))
                    batch.Append(line).Append('\n');
                if (Interlocked.Exchange(ref subscriber.Lost, 0) is var lost and > 0)
                    batch.Append(Line("lost", $"\"count\":{lost.ToString(CultureInfo.InvariantCulture)}"));
                await SendAsync(client, batch.ToString()).ConfigureAwait(false);
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
        var buffer = new byte[256];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellation).ConfigureAwait(false);
            if (read == 0)
                break;
            length += read;
            if (Array.IndexOf(buffer, (byte)'\n', 0, length) is var end and >= 0)
                return Encoding.UTF8.GetString(buffer, 0, end).Trim();
        }
        return length == 0 ? null : Encoding.UTF8.GetString(buffer, 0, length).Trim();
    }

    private static async Task RefuseAsync(Socket client, string why)
    {
        using (client)
        {
            try
            {
                await SendAsync(client, Error(why)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private static async Task SendAsync(Socket client, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var sent = 0;
        while (sent < bytes.Length)
            sent += await client.SendAsync(bytes.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
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

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "...";

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

    /// <summary>Closes the socket; attached monitors get what is queued, then end.</summary>
    public async ValueTask DisposeAsync()
    {
        _monitors.CompleteAll();
        Task[] clients;
        lock (_clients)
            clients = [.. _clients];
        await Task.WhenAny(Task.WhenAll(clients), Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(clients).ConfigureAwait(false);
        TryDelete(_path);
        _stopping.Dispose();
    }
}

/// <summary>Another network-broker answers on the control socket: two daemons would fight over the same rules.</summary>
public sealed class ControlSocketInUseException(string path)
    : Exception($"another network-broker is running: {path} answers")
{
    public string Path { get; } = path;
}
