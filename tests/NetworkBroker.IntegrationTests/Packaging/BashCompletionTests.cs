using System.Text.RegularExpressions;
using NetworkBroker.Cli;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// The shipped bash completion (packaging/bash-completion/network-broker), sourced in a real bash and asked
/// as bash asks it on TAB: the words of the line in COMP_WORDS, the function `complete -p` registered.
/// What it offers is compared with the program's own lists (its commands, each command's help, the variables).
/// </summary>
public partial class BashCompletionTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string CompletionFile => Path.Combine(DebianPackage.Repository, "packaging", "bash-completion", "network-broker");

    /// <summary>What TAB offers after <paramref name="words"/> (the last one is the word being completed, possibly empty).</summary>
    private static string[] Complete(params string[] words)
    {
        const string script = """
            set -u
            source "$0"
            spec=$(complete -p network-broker)
            function=${spec#*-F }
            function=${function%% *}
            COMP_WORDS=(network-broker "$@")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            COMP_LINE="${COMP_WORDS[*]}"
            COMP_POINT=${#COMP_LINE}
            COMPREPLY=()
            "$function" network-broker "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
            printf '%s\n' "${COMPREPLY[@]}"
            """;
        return Shell.Run("bash", ["--norc", "--noprofile", "-c", script, CompletionFile, .. words])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The long options a command's own help lists (`network-broker status --help`), and --help.</summary>
    private static string[] OptionsOf(CommandKind command) =>
        HelpOption().Matches(CommandHelp.For(command)).Select(m => m.Groups[1].Value).Append("--help")
            .Distinct().Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void The_file_registers_a_completion_for_network_broker_with_a_function()
    {
        var spec = Shell.Run("bash", "--norc", "--noprofile", "-c", "source \"$0\" && complete -p network-broker", CompletionFile);
        Assert.Matches(@"^complete -F \S+ network-broker\n$", spec);
    }

    [Fact]
    public void A_prefix_completes_to_the_command_and_an_empty_word_offers_every_command()
    {
        Assert.Equal(["status"], Complete("st"));
        Assert.Equal(["check-config"], Complete("ch"));
        Assert.Equal(["run-scripts"], Complete("ru"));
        Assert.Equal(CommandHelp.Commands.Order(StringComparer.Ordinal), Complete("").Where(w => !w.StartsWith('-')));
        Assert.Equal(["--config", "--help", "--version"], Complete("--"));
    }

    [Theory]
    [InlineData("status", CommandKind.Status)]
    [InlineData("check-config", CommandKind.CheckConfig)]
    [InlineData("monitor", CommandKind.Monitor)]
    [InlineData("run-scripts", CommandKind.RunScripts)]
    public void A_command_offers_exactly_the_options_its_help_lists(string command, CommandKind kind)
    {
        Assert.Equal(OptionsOf(kind), Complete(command, "--"));
        // Also after other options, and once the command's own options are under way.
        Assert.Equal(OptionsOf(kind), Complete("--config", "/etc/network-broker/network-broker.toml", command, ""));
    }

    [Fact]
    public void Status_dash_dash_j_gives_json()
    {
        Assert.Equal(["--json"], Complete("status", "--j"));
    }

    [Fact]
    public void Help_completes_the_command_it_is_about()
    {
        Assert.Equal(["monitor"], Complete("help", "mo"));
    }

    [Fact]
    public void Config_completes_file_paths_in_both_spellings()
    {
        _dir.Write("network-broker.toml", "");
        _dir.Write("other.toml", "");
        Assert.Equal([_dir.Combine("network-broker.toml")], Complete("status", "--config", _dir.Combine("net")));
        Assert.Equal([_dir.Combine("network-broker.toml")], Complete("-c", _dir.Combine("net")));
        // bash splits --config=FILE at '=' (COMP_WORDBREAKS): the words are --config, =, and the file's start.
        Assert.Equal([_dir.Combine("other.toml")], Complete("check-config", "--config", "=", _dir.Combine("oth")));
    }

    [Fact]
    public void Env_offers_exactly_the_variables_the_daemon_sets_with_their_equals_sign()
    {
        var documented = ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates).Select(v => v + "=").Order(StringComparer.Ordinal);
        Assert.Equal(documented, Complete("run-scripts", "--env", ""));
        Assert.Equal(["IP6_ADDRS=", "IP_ADDRS=", "IPv4AddressState=", "IPv6AddressState="], Complete("run-scripts", "--link", "eth0", "--env", "IP"));
    }

    [Fact]
    public void Link_offers_the_links_of_this_namespace_and_state_the_standard_directories()
    {
        Assert.Contains("lo", Complete("run-scripts", "--link", ""));
        var states = Complete("run-scripts", "--state", "");
        foreach (var state in ScriptDirectories.Standard)
            Assert.Contains(state, states);
        Assert.Equal(["no-carrier"], Complete("run-scripts", "--state", "no"));
    }

    [GeneratedRegex(@"(?m)^\s+(?:-\w, )?(--[a-z-]+)")]
    private static partial Regex HelpOption();
}
