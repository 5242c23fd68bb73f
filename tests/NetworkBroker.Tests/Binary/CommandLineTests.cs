using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Binary;

/// <summary>The program's command line as a user meets it: exit codes and what it prints.</summary>
public class CommandLineTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Help_prints_the_usage_and_exits_0()
    {
        var (code, stdout, _) = await BrokerBinary.RunAsync("--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage: network-broker [--config FILE]", stdout);
    }

    [Fact]
    public async Task Version_prints_the_version()
    {
        var (code, stdout, _) = await BrokerBinary.RunAsync("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^network-broker \d+\.\d+\.\d+", stdout);
    }

    [Fact]
    public async Task An_unknown_option_exits_2_and_points_to_help()
    {
        var (code, _, stderr) = await BrokerBinary.RunAsync("--frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("network-broker: unknown option --frobnicate", stderr);
        Assert.Contains("Try 'network-broker --help'.", stderr);
    }

    [Fact]
    public async Task Check_config_on_a_bad_file_exits_1_naming_the_file_line_and_key()
    {
        var path = _dir.Write("network-broker.toml", "[System]\nLogLevel = \"info\"\n\n[Network]\nUseDNS = \"perhaps\"\n");
        var (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--config", path);
        Assert.Equal(1, code);
        Assert.Contains($"{path}:5: [Network] UseDNS: expected a boolean", stderr);
    }

    [Fact]
    public async Task Check_config_on_a_good_file_prints_the_effective_configuration()
    {
        var path = _dir.Write("network-broker.toml", "[Network]\nLinks = \"eth0 eth1\"\nUseDNS = \"yes\"\n");
        // Unprivileged: as root the default User= (network-broker) would have to exist here, as it must for the daemon.
        var (code, stdout, _) = await BrokerBinary.RunAsNobodyAsync("check-config", "--config", path);
        Assert.Equal(0, code);
        Assert.Contains("Links = \"eth0 eth1\"", stdout);
        Assert.Contains("UseDNS = true", stdout);
        Assert.Contains("EmitJSON = true", stdout);
    }

    [Fact]
    public async Task A_config_path_given_on_the_command_line_must_exist_and_nothing_is_created_there()
    {
        var absent = _dir.Combine("mistyped", "network-broker.toml");
        var (code, _, stderr) = await BrokerBinary.RunAsNobodyAsync("check-config", "--config", absent);
        Assert.Equal(1, code);
        Assert.Contains($"{absent}: no such file (given with --config;", stderr);

        using var daemon = BrokerBinary.Start(["--config", absent]);
        Assert.Equal(78, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(Directory.Exists(_dir.Combine("mistyped")), "no script directories made beside a mistyped path");
    }

    [Fact]
    public async Task Run_scripts_runs_a_directory_with_a_synthesised_event_and_reports_failure()
    {
        var record = _dir.Combine("record");
        _dir.Script("routable", "10-record", $"#!/bin/sh\necho \"$LINK $LINKINDEX $STATE $DNS\" > {record}\n");
        _dir.Script("routable", "20-fail", "#!/bin/sh\nexit 4\n");
        var config = _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");

        var (code, _, stderr) = await BrokerBinary.RunAsync("run-scripts", "--config", config, "--link", "lo", "--state", "routable", "--env", "DNS=x");

        Assert.Equal(1, code);
        Assert.Equal("lo 1 routable x", File.ReadAllText(record).Trim());
        Assert.Contains("lo: routable.d/20-fail failed: exit status 4", stderr);
    }

    [Fact]
    public async Task Run_scripts_shows_a_scripts_control_characters_escaped_not_raw_on_the_terminal()
    {
        // A script echoing a peer's value: an ESC sequence must not reach the admin's terminal as one.
        _dir.Script("routable", "10-echo", "#!/bin/sh\nprintf 'addr %s\\n' \"$ADDR\"\n");
        var config = _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");

        var (code, stdout, _) = await BrokerBinary.RunAsync("run-scripts", "--config", config, "--link", "lo", "--state", "routable",
            "--env", "ADDR=1.2.3.4\u001b[31mRED");

        Assert.Equal(0, code);
        Assert.Contains("10-echo: addr 1.2.3.4\\x1b[31mRED", stdout);
        Assert.DoesNotContain('\u001b', stdout);
    }

    [Fact]
    public async Task A_FIFO_as_the_configuration_is_refused_at_once_by_check_config_and_the_daemon()
    {
        var fifo = _dir.Combine("network-broker.toml");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
            mkfifo.WaitForExit();

        var (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--config", fifo).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, code);
        Assert.Contains($"{fifo}: cannot read: a FIFO, not a regular file", stderr);

        using var daemon = BrokerBinary.Start(["--config", fifo]);
        Assert.Equal(78, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("a FIFO, not a regular file", daemon.StandardError);
    }

    [Theory]
    [InlineData("[System]\nLogLevel = ARRAYS\n", 2)]
    [InlineData("[Network]\nLinks = TABLES\n", 2)]
    public async Task A_file_nested_too_deep_is_a_located_error_not_a_crash(string template, int line)
    {
        var text = template.Replace("ARRAYS", new string('[', 100) + new string(']', 100))
            .Replace("TABLES", string.Concat(Enumerable.Repeat("{a = ", 100)) + "1" + new string('}', 100));
        var path = _dir.Write("network-broker.toml", text);
        var (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--config", path);
        Assert.Equal(1, code);
        Assert.Contains($"{path}:{line}: nested deeper than 64 levels of arrays or inline tables", stderr);
        Assert.DoesNotContain("Exception", stderr);

        using var daemon = BrokerBinary.Start(["--config", path]);
        Assert.Equal(78, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("Exception", daemon.StandardError);
    }

    [Fact]
    public async Task Check_config_refuses_a_user_that_the_daemon_started_as_root_would_refuse()
    {
        var path = _dir.Write("network-broker.toml", "[System]\nLogLevel = \"info\"\nUser = \"no-such-user\"\n");
        var (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--config", path);
        Assert.Equal(1, code);
        Assert.Contains($"{path}:3: [System] User: user \"no-such-user\" does not exist", stderr);

        using var daemon = BrokerBinary.Start(["--config", path]);
        Assert.Equal(78, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"{path}:3: [System] User: user \"no-such-user\" does not exist", daemon.StandardError);
    }

    [Fact]
    public async Task Check_config_reads_the_drop_ins_and_names_the_file_that_set_each_key()
    {
        var path = _dir.Write("network-broker.toml", "[Network]\nLinks = \"eth0\"\nUseDNS = true\n");
        Directory.CreateDirectory(_dir.Combine("network-broker.toml.d"));
        var dropIn = _dir.Write(Path.Combine("network-broker.toml.d", "10-links.toml"), "[Network]\nLinks = \"eth1 ens\"\n");
        _dir.Write(Path.Combine("network-broker.toml.d", "README"), "not read\n");

        var (code, stdout, stderr) = await BrokerBinary.RunAsNobodyAsync("check-config", "--config", path);

        Assert.Equal(0, code);
        Assert.Contains($"#   and its drop-in {dropIn}\n", stdout);
        Assert.Contains($"Links = \"eth1 ens\"  # from {dropIn}:2\n", stdout);
        Assert.Contains($"UseDNS = true  # from {path}:3\n", stdout);
        Assert.Contains("EmitJSON = true\n", stdout);
        Assert.Contains($"warning: {dropIn}:2: [Network] Links: \"ens\" matches only a link named exactly ens", stderr);

        var quiet = await BrokerBinary.RunAsNobodyAsync("check-config", "--quiet", "--config", path);
        Assert.Equal((0, "", ""), quiet);
    }

    [Fact]
    public async Task A_broken_drop_in_fails_check_config_and_the_daemons_start_naming_its_file_and_line()
    {
        var path = _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");
        Directory.CreateDirectory(_dir.Combine("network-broker.toml.d"));
        var dropIn = _dir.Write(Path.Combine("network-broker.toml.d", "50-level.toml"), "[System]\n\nLogLevel=debug\n");

        var (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--quiet", "--config", path);

        Assert.Equal(1, code);
        Assert.Contains($"{dropIn}:3: Unexpected token `debug` for a value (TOML strings are quoted: write LogLevel = \"debug\")", stderr);
        using var daemon = BrokerBinary.Start(["--config", path]);
        Assert.Equal(78, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"{dropIn}:3: ", daemon.StandardError);
    }

    [Theory]
    [InlineData("distribution-network-broker.toml", "")]
    [InlineData("conf-network-broker.toml", "")]
    [InlineData("conf-network-broker-generator-in-network.toml", ":7: [Network] Generator: ignored")]
    [InlineData("readme-sample-ens33.toml", "")]
    [InlineData("readme-sample-systemd-networks.toml", ":3: [System] Generator: unknown generator \"systemd-networks\", read as systemd-networkd")]
    [InlineData("readme-sample-eth1.toml", "")]
    public async Task The_Go_projects_own_configuration_files_pass_check_config_unchanged(string fixture, string warning)
    {
        // Copied byte for byte beside nothing else: their own directory holds no drop-ins. Sources: Fixtures/go-network-event-broker/SOURCES.
        var path = _dir.Write("network-broker.toml",
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "go-network-event-broker", fixture)));

        var (code, stdout, stderr) = await BrokerBinary.RunAsNobodyAsync("check-config", "--config", path);

        Assert.Equal(0, code);
        Assert.Contains("[Network]", stdout);
        if (warning.Length == 0)
            Assert.Equal("", stderr);
        else
            Assert.StartsWith($"warning: {path}{warning}", stderr);
    }
}
