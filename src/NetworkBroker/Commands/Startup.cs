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
            var config = ConfigurationLoader.Load(command.ConfigPath, Environment.GetEnvironmentVariable, out var exists, forDaemon, command.ConfigGiven);
            var log = Logger.ToStandardError(config.LogLevel, config.LogFormat);
            if (!exists)
                log.Info($"{command.ConfigPath} does not exist: using the defaults");
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

    public static ScriptRunnerOptions ScriptOptions(BrokerConfiguration config) => new()
    {
        ScriptRoot = config.ScriptRoots[0],
        MoreScriptRoots = [.. config.ScriptRoots.Skip(1)],
        Timeout = config.ScriptTimeout,
    };
}
