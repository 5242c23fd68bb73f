namespace NetworkBroker.Cli;

/// <summary>
/// Parses the daemon's few options by hand. System.CommandLine was measured here under NativeAOT:
/// parsing this surface with it costs 1.85 MB of RSS (3.3 MB hello world to 5.2 MB) and 1.5 MB of
/// binary, a third of the daemon's 6 MB idle budget, for seven options and five commands.
/// </summary>
public static class CommandLineParser
{
    public const string Usage = """
        Usage: network-broker [--config FILE]
               network-broker check-config [--config FILE] [--quiet]
               network-broker status [--config FILE] [--json] [--verbose]
               network-broker monitor [--json]
               network-broker run-scripts --link NAME --state STATE [--env NAME=VALUE]... [--config FILE]
               network-broker COMMAND --help | help [COMMAND] | --version

        Runs scripts and configures policy routing when the network changes: it listens to
        systemd-networkd (D-Bus), dhclient (lease files) and the kernel (rtnetlink), and runs the
        executable scripts in <state>.d directories beside the configuration file.

        Commands:
          (none)         run the daemon in the foreground (systemd Type=notify)
          check-config   validate the configuration, print the effective one; exit 0 if valid, 1 if not
          status         the running daemon's counters (when it runs), links and their networkd states,
                         the scripts that would run for each, the policy rules and routes the broker owns;
                         exit 0 when the daemon runs, 3 when it does not
          monitor        print the events the running daemon sees and the actions it takes, live
          run-scripts    run the scripts of STATE.d once for LINK with a synthesised event, as the
                         daemon would, and exit with 0 if every script succeeded

        Options:
          -c, --config FILE   configuration file (default /etc/network-broker/network-broker.toml);
                              the script directories live in the directory holding it
          -l, --link NAME     run-scripts: the link the event is about
          -s, --state STATE   run-scripts: the state, e.g. routable (runs STATE.d)
          -e, --env N=V       run-scripts: a documented variable's value for the scripts (repeatable)
          -j, --json          monitor: one JSON object per line; status: one JSON object
          -v, --verbose       status: also the effective configuration
          -q, --quiet         check-config: print nothing when the file is valid
          -h, --help          show this help and exit
          -V, --version       show the version and exit

        Environment:
          NETWORK_EVENT_LOG_LEVEL    debug|info|warn|error|fatal, wins over LogLevel=
          NETWORK_EVENT_LOG_FORMAT   text|json, wins over LogFormat=
          DBUS_SYSTEM_BUS_ADDRESS    the system bus to use
          RUNTIME_DIRECTORY          where the control socket lives (default /run/network-broker)

        See network-broker(8) and network-broker.toml(5).
        """;

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new CommandLine();
        var environment = new List<KeyValuePair<string, string>>();
        var commandSeen = false;

        // Help wins over everything else on the line, and is about the command named with it, if any.
        if (args.Any(a => a is "-h" or "--help") || args.Count > 0 && args[0] == "help")
        {
            var topic = args.Where(a => a != "help").Select(CommandOf).FirstOrDefault(k => k is not null);
            return new CommandLine { Command = CommandKind.Help, HelpTopic = topic };
        }

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? inlineValue = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=') is var eq and > 2)
            {
                inlineValue = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            switch (arg)
            {
                case "-V" or "--version":
                    return new CommandLine { Command = CommandKind.Version };
                case "-c" or "--config":
                    if (!TakeValue(args, ref i, inlineValue, arg, out var config, out var error))
                        return Failed(error);
                    result = result with { ConfigPath = config, ConfigGiven = true };
                    break;
                case "-l" or "--link":
                    if (!TakeValue(args, ref i, inlineValue, arg, out var link, out error))
                        return Failed(error);
                    result = result with { Link = link };
                    break;
                case "-s" or "--state":
                    if (!TakeValue(args, ref i, inlineValue, arg, out var state, out error))
                        return Failed(error);
                    result = result with { State = state };
                    break;
                case "-e" or "--env":
                    if (!TakeValue(args, ref i, inlineValue, arg, out var assignment, out error))
                        return Failed(error);
                    var split = assignment.IndexOf('=');
                    if (split <= 0)
                        return Failed($"--env takes NAME=VALUE, got \"{assignment}\"");
                    // The daemon passes only documented variables; a script tested with others would pass here and fail there.
                    if (!Scripts.ScriptVariables.IsEventVariable(assignment[..split]))
                        return Failed($"--env {assignment[..split]}: not a variable the daemon sets (see \"Script environment\" in network-broker(8))");
                    environment.Add(new(assignment[..split], assignment[(split + 1)..]));
                    break;
                case "-v" or "--verbose" when inlineValue is null:
                    result = result with { Verbose = true };
                    break;
                case "-q" or "--quiet" when inlineValue is null:
                    result = result with { Quiet = true };
                    break;
                case "-j" or "--json" when inlineValue is null:
                    result = result with { Json = true };
                    break;
                case "check-config" or "run-scripts" or "status" or "monitor" when !commandSeen:
                    commandSeen = true;
                    result = result with
                    {
                        Command = arg switch
                        {
                            "check-config" => CommandKind.CheckConfig,
                            "status" => CommandKind.Status,
                            "monitor" => CommandKind.Monitor,
                            _ => CommandKind.RunScripts,
                        },
                    };
                    break;
                default:
                    if (arg.StartsWith('-'))
                        return Failed($"unknown option {arg}{CommandHelp.Suggest(arg, CommandHelp.Options)}");
                    return Failed(commandSeen || !IsWord(arg)
                        ? $"unexpected argument \"{arg}\""
                        : $"unknown command \"{arg}\"{CommandHelp.Suggest(arg, CommandHelp.Commands)}; the commands are {string.Join(", ", CommandHelp.Commands)}");
            }
        }

        if (result.Command != CommandKind.RunScripts && (result.Link ?? result.State) is not null || environment.Count > 0 && result.Command != CommandKind.RunScripts)
            return Failed("--link, --state and --env belong to run-scripts");
        if (result.Json && result.Command is not (CommandKind.Monitor or CommandKind.Status))
            return Failed("--json belongs to monitor and status");
        if (result.Verbose && result.Command != CommandKind.Status)
            return Failed("--verbose belongs to status");
        if (result.Quiet && result.Command != CommandKind.CheckConfig)
            return Failed("--quiet belongs to check-config");
        if (result.Command == CommandKind.RunScripts && string.IsNullOrEmpty(result.State))
            return Failed("run-scripts needs --link NAME and --state STATE (only --state for manager)");
        if (result.Command == CommandKind.RunScripts && string.IsNullOrEmpty(result.Link) && result.State != "manager")
            return Failed("run-scripts needs --link NAME and --state STATE");
        if (result.Command == CommandKind.RunScripts && !Scripts.ScriptVariables.IsStateWord(result.State!))
            return Failed($"\"{result.State}\" is not a state name (lower-case letters, digits and '-')");
        if (result.Command == CommandKind.RunScripts && result.State != "manager" && Configuration.LinkName.WhyNotInterfaceName(result.Link!) is { } why)
            return Failed(why);
        return result with { Environment = environment };
    }

    private static bool TakeValue(IReadOnlyList<string> args, ref int i, string? inlineValue, string option, out string value, out string error)
    {
        error = "";
        if (inlineValue is not null)
        {
            value = inlineValue;
        }
        else if (i + 1 < args.Count)
        {
            value = args[++i];
        }
        else
        {
            value = "";
            error = $"{option} needs a value";
            return false;
        }
        if (value.Length == 0)
        {
            error = $"{option} needs a value";
            return false;
        }
        return true;
    }

    private static CommandLine Failed(string error) => new() { Error = error };

    private static CommandKind? CommandOf(string word) => word switch
    {
        "check-config" => CommandKind.CheckConfig,
        "status" => CommandKind.Status,
        "monitor" => CommandKind.Monitor,
        "run-scripts" => CommandKind.RunScripts,
        _ => null,
    };

    /// <summary>What looks like a command someone meant (a word), rather than a stray value.</summary>
    private static bool IsWord(string arg) => arg.Length is > 0 and <= 32 && arg.All(c => c is >= 'a' and <= 'z' or '-');
}
