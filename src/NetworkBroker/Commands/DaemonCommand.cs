using System.Runtime.InteropServices;
using NetworkBroker.Cli;
using NetworkBroker.Configuration;
using NetworkBroker.Scripts;

namespace NetworkBroker.Commands;

/// <summary><c>network-broker [--config FILE]</c>: the daemon, in the foreground until SIGTERM or SIGINT.</summary>
public static class DaemonCommand
{
    public static async Task<int> RunAsync(CommandLine command)
    {
        if (Startup.Load(command) is not var (config, log))
            return ExitCodes.Config;

        log.Info($"network-broker {BuildInfo.Version} starting: configuration {config.Path}, scripts in {config.Directory}, " +
                 $"generator {EventSourceNames.Format(config.Generator)}, links {(config.Links.IsAll ? "all" : config.Links.ToString())}");
        ScriptDirectories.EnsureCreated(config.Directory, log);

        var stop = new TaskCompletionSource<PosixSignal>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        await using (var dispatcher = new ScriptDispatcher(new ScriptRunner(Startup.ScriptOptions(config), log), log))
        {
            var signal = await stop.Task;
            log.Info($"Received {signal}, stopping; running scripts may finish within their timeout");
        }
        log.Info("Stopped");
        return ExitCodes.Success;

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult(context.Signal);
        }
    }
}
