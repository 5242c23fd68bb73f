using NetworkBroker.Cli;
using NetworkBroker.Configuration;
using NetworkBroker.Logging;
using NetworkBroker.Scripts;

namespace NetworkBroker.Commands;

/// <summary>What every long-running command does first: read the configuration and make the logger from it.</summary>
internal static class Startup
{
    /// <returns>null, with the errors logged, when the configuration is invalid.</returns>
    /// <param name="forDaemon">Check also what the daemon's start needs (<see cref="ConfigurationLoader.Load"/>).</param>
    public static (BrokerConfiguration Config, Logger Log)? Load(CommandLine command, bool forDaemon = false)
    {
        try
        {
            var loaded = ConfigurationLoader.Read(command.ConfigPath, Environment.GetEnvironmentVariable, forDaemon, command.ConfigGiven);
            var config = loaded.Config;
            var log = Logger.ToStandardError(config.LogLevel, config.LogFormat);
            if (!loaded.MainFileExists)
                log.Info($"{command.ConfigPath} does not exist: using the defaults{(loaded.DropIns.IsEmpty ? "" : ", then its drop-ins")}");
            if (forDaemon)
                LogReading(loaded, log);
            return (config, log);
        }
        catch (ConfigurationException e)
        {
            var log = Logger.ToStandardError(LogLevel.Info, LogFormat.Text);
            foreach (var error in e.Errors)
                log.Fatal(error.ToString());
            return null;
        }
    }

    /// <summary>The drop-ins read and the warnings, at start and at every reload.</summary>
    public static void LogReading(LoadedConfiguration loaded, Logger log)
    {
        if (!loaded.DropIns.IsEmpty)
            log.Info($"Configuration drop-ins: {string.Join(' ', loaded.DropIns.Select(PeerText.Excerpt))}");
        foreach (var warning in loaded.Warnings)
            log.Warn($"Configuration: {warning}");
    }

    public static ScriptRunnerOptions ScriptOptions(BrokerConfiguration config) => new()
    {
        ScriptRoot = config.ScriptRoots[0],
        MoreScriptRoots = [.. config.ScriptRoots.Skip(1)],
        Timeout = config.ScriptTimeout,
    };
}
