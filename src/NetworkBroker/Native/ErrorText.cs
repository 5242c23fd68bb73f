using System.Net.Sockets;

namespace NetworkBroker.Native;

/// <summary>
/// An I/O exception in the words of strerror(3) ("Permission denied"). The binary is built with
/// UseSystemResourceKeys, which turns .NET's own messages into resource keys (UnauthorizedAccess_IODenied_Path):
/// the errno behind them is what an admin can act on.
/// </summary>
public static class ErrorText
{
    public static string Of(Exception e) => e switch
    {
        UnauthorizedAccessException => Libc.Describe(13),
        FileNotFoundException or DirectoryNotFoundException => Libc.Describe(Libc.ENOENT),
        PathTooLongException => Libc.Describe(36),
        SocketException socket => $"{socket.SocketErrorCode}: {Libc.Describe(socket.NativeErrorCode).Split(": ", 2)[1]}",
        // On Linux .NET keeps the raw errno of a failed call as the HResult of the IOException it throws.
        IOException { HResult: > 0 and < 4096 } io => Libc.Describe(io.HResult),
        _ => e.Message,
    };
}
