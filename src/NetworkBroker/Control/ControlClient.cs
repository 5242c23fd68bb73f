using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace NetworkBroker.Control;

/// <summary>A failure to talk to the daemon, with the message a user should see.</summary>
public sealed class ControlClientException(string message, bool notRunning = false) : Exception(message)
{
    /// <summary>Nobody listens on the socket (rather than: the daemon refused, or answered nonsense).</summary>
    public bool NotRunning { get; } = notRunning;
}

/// <summary>The client side of <see cref="ControlServer"/>: <c>status</c> and <c>monitor</c> use it.</summary>
public static class ControlClient
{
    public static async Task<DaemonStatus> StatusAsync(string path, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await foreach (var line in RequestAsync(path, "status", cancel.Token).ConfigureAwait(false))
                return DaemonStatus.Parse(line);
        }
        catch (OperationCanceledException)
        {
            throw new ControlClientException($"the daemon did not answer on {path} within {timeout.TotalSeconds:0} s");
        }
        catch (JsonException e)
        {
            throw new ControlClientException($"the daemon's answer on {path} is not a status: {e.Message}");
        }
        throw new ControlClientException($"the daemon closed {path} without an answer");
    }

    /// <summary>Sends one request and yields the reply's lines; an {"error": ...} line becomes an exception.</summary>
    public static async IAsyncEnumerable<string> RequestAsync(string path, string request, [EnumeratorCancellation] CancellationToken cancellation)
    {
        using var socket = Connect(path);
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(request + "\n"), SocketFlags.None, cancellation).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new ControlClientException($"the daemon closed {path} before the request was sent: {e.Message}");
        }
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await ReadLineAsync(reader, path, cancellation).ConfigureAwait(false) is { } line)
        {
            if (line.StartsWith("{\"error\":", StringComparison.Ordinal))
                throw new ControlClientException($"the daemon refused: {ErrorOf(line)}");
            yield return line;
        }
    }

    private static async Task<string?> ReadLineAsync(StreamReader reader, string path, CancellationToken cancellation)
    {
        try
        {
            return await reader.ReadLineAsync(cancellation).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new ControlClientException($"the connection to the daemon on {path} broke: {e.Message}");
        }
    }

    private static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw e.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.ConnectionRefused =>
                    new ControlClientException($"the daemon is not running (nobody listens on {path})", notRunning: true),
                SocketError.AccessDenied =>
                    new ControlClientException($"permission denied on {path}: only root and the daemon's user may connect"),
                _ when !File.Exists(path) =>
                    new ControlClientException($"the daemon is not running (no {path})", notRunning: true),
                _ => new ControlClientException($"cannot connect to {path}: {e.Message}"),
            };
        }
    }

    private static string ErrorOf(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.GetProperty("error").GetString() ?? line;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return line;
        }
    }
}
