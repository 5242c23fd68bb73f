namespace NetworkBroker.Cli;

/// <summary>The help of each command (<c>network-broker status --help</c>), and the nearest word to a mistyped one.</summary>
public static class CommandHelp
{
    public static readonly IReadOnlyList<string> Commands = ["check-config", "status", "monitor", "run-scripts", "help"];

    public static readonly IReadOnlyList<string> Options =
        ["--config", "--link", "--state", "--env", "--json", "--quiet", "--verbose", "--help", "--version"];

    public static string For(CommandKind? command) => command switch
    {
        CommandKind.CheckConfig => """
            Usage: network-broker check-config [--config FILE] [--quiet]

            Validates the configuration as the daemon would at start (every key, its value, and that User=
            exists when run as root), with its drop-ins FILE.d/*.toml read after it in lexical order, then
            prints the effective configuration, each key followed by the file and line that set it. Old idioms
            (a bare prefix such as "ens" in Links=) are warnings on stderr; they do not fail.

            Options:
              -c, --config FILE   the file to check (default /etc/network-broker/network-broker.toml)
              -q, --quiet         print nothing, not even warnings, when the file is valid (the unit's
                                  ExecReload= uses it; the daemon logs the warnings when it reloads)

            Exit status: 0 when the daemon would accept the file, 1 with one line per problem
            (FILE:LINE: [Section] Key: what is wrong), 2 for a bad command line.
            """,
        CommandKind.Status => """
            Usage: network-broker status [--config FILE] [--json] [--verbose]

            Shows the running daemon's counters (asked over its control socket), then every link with its
            networkd states, the scripts that would run for each state, and the policy-routing rules and
            routes the broker owns.

            Options:
              -c, --config FILE   the configuration whose script directories and keys to use
              -j, --json          one JSON object: "running", "daemon", "links", "policy_routing", "config"
              -v, --verbose       also the effective configuration

            Exit status (as systemctl status): 0 the daemon runs, 3 it does not, 1 it could not be asked.
            """,
        CommandKind.Monitor => """
            Usage: network-broker monitor [--json]

            Attaches to the running daemon and prints, as they happen, the changes it sees (links, addresses,
            routes, networkd states, dhclient leases) and what it does (scripts and their results, policy
            routing, pushes to resolved and hostnamed). Ctrl-C ends it; so does the daemon stopping.

            Options:
              -j, --json          one JSON object per line (each with "time" and "event")
            """,
        CommandKind.RunScripts => """
            Usage: network-broker run-scripts --link NAME --state STATE [--env NAME=VALUE]... [--config FILE]

            Runs the scripts of STATE.d once for NAME with a synthesised event, as the daemon would, with
            LINK, LINKINDEX and STATE set, and exits 0 only if every script succeeded. Use it to test scripts.

            Options:
              -l, --link NAME     the link the event is about
              -s, --state STATE   the state (runs STATE.d), e.g. routable
              -e, --env N=V       a documented variable's value, e.g. DHCP_LEASE=... (repeatable)
              -c, --config FILE   the configuration whose directory holds STATE.d
            """,
        _ => CommandLineParser.Usage,
    };

    /// <summary>" (did you mean 'status'?)" for a word close to a known one, else "".</summary>
    public static string Suggest(string word, IEnumerable<string> known) =>
        NearestWord.Find(word, known) is { } nearest ? $" (did you mean '{nearest}'?)" : "";
}
