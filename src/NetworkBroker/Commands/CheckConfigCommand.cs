using NetworkBroker.Cli;
using NetworkBroker.Configuration;

namespace NetworkBroker.Commands;

/// <summary>
/// <c>network-broker check-config</c>: validates the file and its drop-ins, prints the warnings (on stderr) and the
/// effective configuration with the file that set each key.
/// </summary>
public static class CheckConfigCommand
{
    public static int Run(CommandLine command)
    {
        try
        {
            var loaded = ConfigurationLoader.Read(command.ConfigPath, Environment.GetEnvironmentVariable, forDaemon: true, command.ConfigGiven);
            // Quiet is for ExecReload=: the daemon logs the warnings itself when it reloads.
            if (command.Quiet)
                return ExitCodes.Success;
            foreach (var warning in loaded.Warnings)
                Console.Error.WriteLine($"warning: {warning}");
            if (!loaded.MainFileExists)
                Console.Out.WriteLine(loaded.DropIns.IsEmpty
                    ? $"# {command.ConfigPath} does not exist: the defaults apply"
                    : $"# {command.ConfigPath} does not exist: the defaults apply, then its drop-ins");
            Console.Out.Write(ConfigurationFormatter.Format(loaded));
            return ExitCodes.Success;
        }
        catch (ConfigurationException e)
        {
            foreach (var error in e.Errors)
                Console.Error.WriteLine(error);
            Console.Error.WriteLine($"network-broker: {e.Errors.Count} error(s) in the configuration");
            return ExitCodes.Failure;
        }
    }
}
