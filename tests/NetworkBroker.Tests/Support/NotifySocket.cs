using System.Net.Sockets;
using System.Text;

namespace NetworkBroker.Tests.Support;

/// <summary>A NOTIFY_SOCKET of the test's own, as systemd gives one to a Type=notify service.</summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    /// <param name="everyone">Writable by any user (a daemon that dropped to nobody still notifies).</param>
    public NotifySocket(string path, bool everyone = false)
    {
        Path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        if (everyone)
            File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
    }

    public string Path { get; }

    /// <summary>The next message ("READY=1\nSTATUS=...", "WATCHDOG=1", ...).</summary>
    public async Task<string> NextAsync(int seconds = 30)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var received = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, received);
    }

    public void Dispose() => _socket.Dispose();
}
