using NetworkBroker.Configuration;
using NetworkBroker.Logging;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Configuration;

/// <summary>network-broker.toml.d/*.toml: read after the main file in lexical order, each setting only the keys it names.</summary>
public class DropInTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Main => _dir.Combine("network-broker.toml");

    private string DropIn(string name, string text)
    {
        var directory = _dir.Combine("network-broker.toml.d");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private LoadedConfiguration Read(bool forDaemon = false) => ConfigurationLoader.Read(Main, _ => null, forDaemon);

    private IReadOnlyList<string> Errors(bool forDaemon = false) =>
        [.. Assert.Throws<ConfigurationException>(() => Read(forDaemon)).Errors.Select(e => e.ToString())];

    [Fact]
    public void Drop_ins_apply_after_the_main_file_in_byte_order_and_a_later_one_wins_key_by_key()
    {
        _dir.Write("network-broker.toml", "[System]\nLogLevel = \"info\"\n[Network]\nLinks = \"eth0\"\nUseDNS = true\n");
        var nine = DropIn("9-late.toml", "[System]\nLogLevel = \"error\"\n");
        var ten = DropIn("10-early.toml", "[System]\nLogLevel = \"debug\"\nScriptTimeoutSec = 5\n[Network]\nLinks = \"eth1 eth2\"\n");
        var upper = DropIn("B-upper.toml", "[System]\nLogLevel = \"warn\"\n");

        var loaded = Read();

        // Byte order, as systemd sorts drop-ins: '1' < '9' < 'B'.
        Assert.Equal<string>([ten, nine, upper], loaded.DropIns);
        Assert.Equal(LogLevel.Warn, loaded.Config.LogLevel);
        Assert.Equal(TimeSpan.FromSeconds(5), loaded.Config.ScriptTimeout);
        Assert.Equal<string>(["eth1", "eth2"], loaded.Config.Links.Names);
        Assert.True(loaded.Config.UseDNS, "a key no drop-in names keeps the main file's value");
        Assert.Equal(Main, loaded.Config.Path);
        Assert.Equal(_dir.Path, loaded.Config.Directory);
        Assert.Equal($"{upper}:2", loaded.Origins["[System] LogLevel"].ToString());
        Assert.Equal($"{ten}:3", loaded.Origins["[System] ScriptTimeoutSec"].ToString());
        Assert.Equal($"{Main}:5", loaded.Origins["[Network] UseDNS"].ToString());
        Assert.False(loaded.Origins.ContainsKey("[Network] EmitJSON"));
    }

    [Fact]
    public void Files_not_named_toml_and_hidden_ones_are_ignored()
    {
        _dir.Write("network-broker.toml", "[System]\nLogLevel = \"info\"\n");
        var only = DropIn("50-only.toml", "[System]\nLogLevel = \"debug\"\n");
        foreach (var name in new[] { "README", "10-x.conf", "20-x.toml~", "30-x.toml.dpkg-old", "40-x.toml.swp", ".60-x.toml", "70-x.TOML" })
            DropIn(name, "this is not TOML = = =\n");

        var loaded = Read();

        Assert.Equal<string>([only], loaded.DropIns);
        Assert.Equal(LogLevel.Debug, loaded.Config.LogLevel);
    }

    [Fact]
    public void An_error_in_a_drop_in_names_the_drop_in_file_and_line_and_every_file_is_reported_at_once()
    {
        _dir.Write("network-broker.toml", "[System]\nLogLevel = \"loud\"\n");
        var a = DropIn("10-a.toml", "[Network]\n\nUseDNS = \"perhaps\"\n");
        var b = DropIn("20-b.toml", "[System]\nLogLevel=debug\n");
        var c = DropIn("30-c.toml", "[Network]\nUseDomains = true\n");

        Assert.Equal(
            [
                $"{Main}:2: [System] LogLevel: unknown value \"loud\" (expected debug, info, warn, error or fatal)",
                $"{a}:3: [Network] UseDNS: expected a boolean (true or false; \"yes\"/\"no\"/\"1\"/\"0\" are accepted too), got \"perhaps\"",
                $"{b}:2: Unexpected token `debug` for a value (TOML strings are quoted: write LogLevel = \"debug\")",
                $"{c}:2: [Network] UseDomains: unknown key (did you mean UseDomain?)",
            ],
            Errors());
    }

    [Fact]
    public void A_FIFO_or_an_oversized_drop_in_is_refused_at_once_as_the_main_file_would_be()
    {
        var directory = _dir.Combine("network-broker.toml.d");
        Directory.CreateDirectory(directory);
        var fifo = Path.Combine(directory, "10-fifo.toml");
        Shell("mkfifo", fifo);
        var big = DropIn("20-big.toml", "# " + new string('x', 1 << 20) + "\n");

        var errors = Errors();

        Assert.Equal(2, errors.Count);
        Assert.Equal($"{fifo}: cannot read: a FIFO, not a regular file", errors[0]);
        Assert.StartsWith($"{big}: cannot read: ", errors[1]);
        Assert.Contains("1048576", errors[1]);
    }

    [Fact]
    public void Without_the_main_file_the_drop_ins_still_apply()
    {
        var only = DropIn("10-links.toml", "[Network]\nLinks = \"eth1\"\n");

        var loaded = Read();

        Assert.False(loaded.MainFileExists);
        Assert.Equal<string>([only], loaded.DropIns);
        Assert.Equal<string>(["eth1"], loaded.Config.Links.Names);
    }

    [Fact]
    public void A_drop_in_linked_to_dev_null_is_masked_and_a_link_to_a_file_is_followed()
    {
        _dir.Write("network-broker.toml", "");
        var masked = DropIn("10-masked.toml", "");
        File.Delete(masked);
        File.CreateSymbolicLink(masked, "/dev/null");
        var target = _dir.Write("elsewhere.txt", "[Network]\nEmitJSON = false\n");
        var linked = _dir.Combine("network-broker.toml.d", "20-linked.toml");
        File.CreateSymbolicLink(linked, target);

        var loaded = Read();

        Assert.Equal<string>([linked], loaded.DropIns);
        Assert.False(loaded.Config.EmitJSON);
    }

    [Fact]
    public void A_drop_in_path_that_is_not_a_directory_is_an_error()
    {
        _dir.Write("network-broker.toml", "");
        var notDirectory = _dir.Write("network-broker.toml.d", "[System]\n");

        Assert.Equal<string>([$"{notDirectory}: not a directory (drop-ins go in a directory of *.toml files)"], Errors());
    }

    [Fact]
    public void More_drop_ins_than_the_bound_is_an_error_naming_the_directory()
    {
        _dir.Write("network-broker.toml", "");
        for (var i = 0; i <= ConfigurationLoader.MaxDropIns; i++)
            DropIn($"{i:D3}.toml", "");

        Assert.Equal<string>([$"{_dir.Combine("network-broker.toml.d")}: more than {ConfigurationLoader.MaxDropIns} drop-ins"], Errors());
        File.Delete(_dir.Combine("network-broker.toml.d", "000.toml"));
        Assert.Equal(ConfigurationLoader.MaxDropIns, Read().DropIns.Length);
    }

    [Fact]
    public void User_checked_for_the_daemon_is_located_in_the_drop_in_that_set_it()
    {
        // As root, as the tests run: the daemon checks User= only when started as root.
        _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");
        var user = DropIn("10-user.toml", "[System]\n\nUser = \"no-such-user\"\n");

        Assert.StartsWith($"{user}:3: [System] User: user \"no-such-user\" does not exist", Assert.Single(Errors(forDaemon: true)));
    }

    [Fact]
    public void User_nobody_is_refused_for_the_daemon_it_would_share_with_every_process_running_as_nobody()
    {
        _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");
        var user = DropIn("10-user.toml", "[System]\nUser = \"nobody\"\n");

        Assert.StartsWith($"{user}:2: [System] User: user \"nobody\" (uid 65534) is shared by every process that runs as nobody",
            Assert.Single(Errors(forDaemon: true)));
        // Only what the daemon's start checks: status and run-scripts read the same file without complaint.
        Assert.Equal("nobody", Read().Config.User);
    }

    [Fact]
    public void The_effective_configuration_names_the_file_and_line_that_set_each_key_and_reads_back()
    {
        _dir.Write("network-broker.toml", "[System]\nLogLevel = \"info\"\n[Network]\nUseDNS = true\n");
        var dropIn = DropIn("10-debug.toml", "[System]\nLogLevel = \"debug\"\n");
        var loaded = ConfigurationLoader.Read(Main, name => name == ConfigurationLoader.LogFormatVariable ? "json" : null);

        var text = ConfigurationFormatter.Format(loaded);

        var lines = text.Split('\n');
        Assert.Contains($"#   and its drop-in {dropIn}", lines);
        Assert.Contains($"LogLevel = \"debug\"  # from {dropIn}:2", lines);
        Assert.Contains($"UseDNS = true  # from {Main}:4", lines);
        Assert.Contains("LogFormat = \"json\"  # from environment NETWORK_EVENT_LOG_FORMAT", lines);
        Assert.Contains("EmitJSON = true", lines);
        var errors = new List<ConfigurationError>();
        var reread = ConfigurationLoader.Parse(text, Main, errors);
        Assert.Empty(errors);
        Assert.Equal(ConfigurationFormatter.Format(loaded.Config), ConfigurationFormatter.Format(reread));
    }

    [Fact]
    public void A_control_character_in_a_drop_in_name_cannot_start_a_line_of_the_printed_configuration()
    {
        _dir.Write("network-broker.toml", "");
        DropIn("10-x\nLogLevel = \"fatal\".toml", "[System]\nLogLevel = \"debug\"\n");

        var text = ConfigurationFormatter.Format(Read());

        Assert.DoesNotContain(text.Split('\n'), line => line.StartsWith("LogLevel = \"fatal\"", StringComparison.Ordinal));
    }

    private static void Shell(string program, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(program, args);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
