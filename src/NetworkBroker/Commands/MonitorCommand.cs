using System.Runtime.InteropServices;
using NetworkBroker.Cli;
using NetworkBroker.Control;

namespace NetworkBroker.Commands;

/// <summary>
/// <c>network-broker monitor [--json]</c>: attaches to the running daemon's control socket and prints the
/// events it sees and the actions it takes as they happen, until Ctrl-C or the daemon stops.
/// </summary>
public static class MonitorCommand
{
    public static async Task<int> RunAsync(CommandLine command)
    {
        using var stop = new CancellationTokenSource();
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var path = RuntimeDirectory.ControlSocket;
        var output = Console.Out;
        try
        {
            await foreach (var line in ControlClient.RequestAsync(path, "monitor", stop.Token))
            {
                if (command.Json)
                    await output.WriteLineAsync(line);
                else if (line.Contains("\"event\":\"monitor\"", StringComparison.Ordinal))
                    await Console.Error.WriteLineAsync($"Monitoring the network-broker daemon on {path}; Ctrl-C stops");
                else
                    await output.WriteLineAsync(MonitorText.Render(line));
                await output.FlushAsync(stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
        catch (ControlClientException e)
        {
            await Console.Error.WriteLineAsync($"network-broker monitor: {e.Message}");
            return ExitCodes.Failure;
        }
        await Console.Error.WriteLineAsync("network-broker monitor: the daemon closed the connection (it stopped)");
        return ExitCodes.Success;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
            // A write to a paused pager (`monitor | less`) blocks and cannot be cancelled: if the orderly end has
            // not come within half a second, end without flushing what nobody reads.
            _ = Task.Delay(500).ContinueWith(_ => Native.Libc._exit(ExitCodes.Success), TaskScheduler.Default);
        }
    }
}
