using NetworkBroker.Cli;
using NetworkBroker.Commands;

namespace NetworkBroker;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var command = CommandLineParser.Parse(args);
        if (command.Error is not null)
        {
            await Console.Error.WriteLineAsync($"network-broker: {command.Error}\nTry 'network-broker --help'.");
            return ExitCodes.Usage;
        }

        return command.Command switch
        {
            CommandKind.Help => Print(CommandHelp.For(command.HelpTopic)),
            CommandKind.Version => Print($"network-broker {BuildInfo.Version}"),
            CommandKind.CheckConfig => CheckConfigCommand.Run(command),
            CommandKind.RunScripts => await RunScriptsCommand.RunAsync(command),
            CommandKind.Status => await StatusCommand.RunAsync(command),
            CommandKind.Monitor => await MonitorCommand.RunAsync(command),
            _ => await DaemonCommand.RunAsync(command),
        };
    }

    private static int Print(string text)
    {
        Console.Out.WriteLine(text);
        return ExitCodes.Success;
    }
}
