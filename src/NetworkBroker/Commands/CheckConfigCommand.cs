using NetworkBroker.Cli;
using NetworkBroker.Configuration;

namespace NetworkBroker.Commands;

/// <summary><c>network-broker check-config</c>: validates the file and prints the effective configuration.</summary>
public static class CheckConfigCommand
{
    public static int Run(CommandLine command)
    {
        try
        {
            var config = ConfigurationLoader.Load(command.ConfigPath, Environment.GetEnvironmentVariable, out var exists, forDaemon: true, command.ConfigGiven);
            if (command.Quiet)
                return ExitCodes.Success;
            if (!exists)
                Console.Out.WriteLine($"# {command.ConfigPath} does not exist: the defaults apply");
            Console.Out.Write(ConfigurationFormatter.Format(config));
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
