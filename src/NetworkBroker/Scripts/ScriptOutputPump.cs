using System.Net.Sockets;

namespace NetworkBroker.Scripts;

/// <summary>
/// Reads one output stream of a script to its end, handing complete lines to the log, then closes it.
/// The stream is closed only at its end, never when the script exits: a background child that inherited
/// it may still write, and closing early would kill it with SIGPIPE.
/// </summary>
internal static class ScriptOutputPump
{
    public static async Task<long> RunAsync(Socket stream, Action<string> line)
    {
        var splitter = new OutputLineSplitter(line);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await stream.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                    break;
                splitter.Feed(buffer.AsSpan(0, read));
            }
        }
        catch (SocketException)
        {
            // A reset stream ends like a closed one.
        }
        finally
        {
            stream.Dispose();
        }
        splitter.Complete();
        return splitter.DroppedBytes;
    }
}
