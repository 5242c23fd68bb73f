using NetworkBroker.Cli;

namespace NetworkBroker.Tests.Cli;

public class CommandLineParserTests
{
    [Fact]
    public void No_arguments_run_the_daemon_with_the_default_config()
    {
        var command = CommandLineParser.Parse([]);
        Assert.Null(command.Error);
        Assert.Equal(CommandKind.Run, command.Command);
        Assert.Equal("/etc/network-broker/network-broker.toml", command.ConfigPath);
    }

    [Theory]
    [InlineData("--config", "/tmp/x.toml")]
    [InlineData("-c", "/tmp/x.toml")]
    public void Config_takes_a_file(string option, string file)
    {
        Assert.Equal(file, CommandLineParser.Parse([option, file]).ConfigPath);
    }

    [Fact]
    public void Config_accepts_the_equals_form()
    {
        Assert.Equal("/a/b.toml", CommandLineParser.Parse(["--config=/a/b.toml"]).ConfigPath);
    }

    [Fact]
    public void Check_config_takes_the_config_before_or_after_it()
    {
        Assert.Equal(CommandKind.CheckConfig, CommandLineParser.Parse(["check-config", "--config", "/x"]).Command);
        var before = CommandLineParser.Parse(["--config", "/x", "check-config"]);
        Assert.Equal(CommandKind.CheckConfig, before.Command);
        Assert.Equal("/x", before.ConfigPath);
    }

    [Fact]
    public void Status_is_a_command_taking_the_config()
    {
        var command = CommandLineParser.Parse(["status", "-c", "/x.toml"]);
        Assert.Null(command.Error);
        Assert.Equal(CommandKind.Status, command.Command);
        Assert.Equal("/x.toml", command.ConfigPath);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_wins_over_everything(string option)
    {
        Assert.Equal(CommandKind.Help, CommandLineParser.Parse(["check-config", option, "--bogus"]).Command);
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("-V")]
    public void Version_is_a_command(string option)
    {
        Assert.Equal(CommandKind.Version, CommandLineParser.Parse([option]).Command);
    }

    [Fact]
    public void Run_scripts_takes_link_state_and_extra_variables()
    {
        var command = CommandLineParser.Parse(["run-scripts", "--link", "eth1", "-s", "routable", "-e", "DNS=1", "--env=DOMAIN=x=y"]);
        Assert.Null(command.Error);
        Assert.Equal(CommandKind.RunScripts, command.Command);
        Assert.Equal("eth1", command.Link);
        Assert.Equal("routable", command.State);
        Assert.Equal([new("DNS", "1"), new("DOMAIN", "x=y")], command.Environment);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "unknown option --bogus")]
    [InlineData(new[] { "--config" }, "--config needs a value")]
    [InlineData(new[] { "--config=" }, "--config needs a value")]
    [InlineData(new[] { "stray" }, "unknown command \"stray\"; the commands are check-config, status, monitor, run-scripts, help")]
    [InlineData(new[] { "statsu" }, "unknown command \"statsu\" (did you mean 'status'?)")]
    [InlineData(new[] { "--jsno" }, "unknown option --jsno (did you mean '--json'?)")]
    [InlineData(new[] { "status", "/etc/x.toml" }, "unexpected argument \"/etc/x.toml\"")]
    [InlineData(new[] { "check-config", "check-config" }, "unexpected argument \"check-config\"")]
    [InlineData(new[] { "run-scripts", "--link", "eth1" }, "run-scripts needs --link NAME and --state STATE")]
    [InlineData(new[] { "run-scripts", "--link", "eth1", "--state", "../etc" }, "is not a state name")]
    [InlineData(new[] { "run-scripts", "--link", "../lo", "--state", "routable" }, "\"../lo\" is not a link name: 1-15 bytes")]
    [InlineData(new[] { "run-scripts", "--link", "a234567890123456", "--state", "routable" }, "is not a link name")]
    [InlineData(new[] { "--link", "eth1" }, "belong to run-scripts")]
    [InlineData(new[] { "run-scripts", "-l", "e", "-s", "routable", "-e", "NOVALUE" }, "--env takes NAME=VALUE")]
    [InlineData(new[] { "run-scripts", "-l", "e", "-s", "routable", "-e", "LD_PRELOAD=/tmp/x.so" }, "--env LD_PRELOAD: not a variable the daemon sets")]
    [InlineData(new[] { "run-scripts", "-l", "e", "-s", "routable", "-e", "PATH=/tmp" }, "--env PATH: not a variable the daemon sets")]
    public void Mistakes_are_errors_that_say_what_is_wrong(string[] args, string message)
    {
        Assert.Contains(message, CommandLineParser.Parse(args).Error);
    }

    [Fact]
    public void The_usage_names_every_command_and_option()
    {
        foreach (var word in new[] { "check-config", "run-scripts", "status", "--config", "--link", "--state", "--env", "--help", "--version",
                     "NETWORK_EVENT_LOG_LEVEL", "NETWORK_EVENT_LOG_FORMAT", "DBUS_SYSTEM_BUS_ADDRESS" })
            Assert.Contains(word, CommandLineParser.Usage);
    }

    [Fact]
    public void Monitor_is_a_command_with_json_lines_on_request()
    {
        var text = CommandLineParser.Parse(["monitor"]);
        Assert.Null(text.Error);
        Assert.Equal(CommandKind.Monitor, text.Command);
        Assert.False(text.Json);
        Assert.True(CommandLineParser.Parse(["monitor", "--json"]).Json);
        Assert.True(CommandLineParser.Parse(["-j", "monitor"]).Json);
        Assert.True(CommandLineParser.Parse(["status", "--json"]).Json);
        Assert.Equal("--json belongs to monitor and status", CommandLineParser.Parse(["--json"]).Error);
        Assert.True(CommandLineParser.Parse(["status", "-v"]).Verbose);
        Assert.Equal("--verbose belongs to status", CommandLineParser.Parse(["check-config", "-v"]).Error);
    }

    [Theory]
    [InlineData(new[] { "status", "--help" }, CommandKind.Status)]
    [InlineData(new[] { "-h", "run-scripts" }, CommandKind.RunScripts)]
    [InlineData(new[] { "help", "monitor" }, CommandKind.Monitor)]
    [InlineData(new[] { "check-config", "-h", "--bogus" }, CommandKind.CheckConfig)]
    public void Help_is_about_the_command_named_with_it(string[] args, CommandKind topic)
    {
        var command = CommandLineParser.Parse(args);
        Assert.Equal(CommandKind.Help, command.Command);
        Assert.Equal(topic, command.HelpTopic);
        Assert.StartsWith($"Usage: network-broker {args.First(a => a is not ("-h" or "--help" or "help"))}", CommandHelp.For(topic));
    }

    [Fact]
    public void Help_alone_or_as_a_word_is_the_programs()
    {
        Assert.Null(CommandLineParser.Parse(["help"]).HelpTopic);
        Assert.Equal(CommandKind.Help, CommandLineParser.Parse(["help"]).Command);
        Assert.Same(CommandLineParser.Usage, CommandHelp.For(null));
    }

    [Fact]
    public void Quiet_belongs_to_check_config()
    {
        Assert.True(CommandLineParser.Parse(["check-config", "--quiet"]).Quiet);
        Assert.True(CommandLineParser.Parse(["-q", "check-config"]).Quiet);
        Assert.Equal("--quiet belongs to check-config", CommandLineParser.Parse(["status", "-q"]).Error);
    }
}
