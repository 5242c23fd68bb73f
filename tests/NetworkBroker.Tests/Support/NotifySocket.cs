using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace NetworkBroker.Tests.Support;

/// <summary>
/// A NOTIFY_SOCKET of the test's own, as systemd gives one to a Type=notify service. Datagrams that only
/// update STATUS= (sent whenever the daemon's counts change) are kept apart from state changes
/// (READY=1, RELOADING=1, WATCHDOG=1, ...), so that a test of one is not disturbed by the other.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly Channel<string> _states = Channel.CreateUnbounded<string>();
    private readonly List<string> _statuses = [];
    private readonly CancellationTokenSource _stop = new();

    /// <param name="everyone">Writable by any user (a daemon that dropped to nobody still notifies).</param>
    public NotifySocket(string path, bool everyone = false)
    {
        Path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        if (everyone)
            File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
        _ = PumpAsync();
    }

    public string Path { get; }

    /// <summary>Every STATUS= line received so far, from any datagram, in order.</summary>
    public IReadOnlyList<string> Statuses
    {
        get
        {
            lock (_statuses)
                return [.. _statuses];
        }
    }

    /// <summary>The next state change ("READY=1\nSTATUS=...", "WATCHDOG=1", ...), skipping STATUS=-only updates.</summary>
    public async Task<string> NextAsync(int seconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        return await _states.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>
    /// Waits for a STATUS= line (in any datagram) that satisfies <paramref name="match"/>, among those received
    /// after the first <paramref name="after"/> (a count of <see cref="Statuses"/> taken earlier), and returns it.
    /// </summary>
    public async Task<string> StatusAsync(Func<string, bool> match, int seconds = 30, int after = 0)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (Statuses.Skip(after).LastOrDefault(match) is { } found)
                return found;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no matching STATUS= line; received: {string.Join(" | ", Statuses)}");
    }

    private async Task PumpAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                var message = Encoding.UTF8.GetString(buffer, 0, received);
                var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                lock (_statuses)
                    _statuses.AddRange(lines.Where(l => l.StartsWith("STATUS=", StringComparison.Ordinal)).Select(l => l["STATUS=".Length..]));
                if (lines.Any(l => !l.StartsWith("STATUS=", StringComparison.Ordinal)))
                    _states.Writer.TryWrite(message);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
    }
}
