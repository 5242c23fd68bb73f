using NetworkBroker.Configuration;
using NetworkBroker.Logging;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Configuration;

public class ConfigurationLoaderTests
{
    private static (BrokerConfiguration Config, List<ConfigurationError> Errors) Parse(string toml)
    {
        var errors = new List<ConfigurationError>();
        var config = ConfigurationLoader.Parse(toml, "/etc/network-broker/network-broker.toml", errors);
        return (config, errors);
    }

    private static BrokerConfiguration Valid(string toml)
    {
        var (config, errors) = Parse(toml);
        Assert.Empty(errors);
        return config;
    }

    private static ConfigurationError SingleError(string toml)
    {
        var (_, errors) = Parse(toml);
        return Assert.Single(errors);
    }

    [Fact]
    public void DHClientLeaseFile_takes_several_paths_each_absolute()
    {
        Assert.Equal(["/run/a.leases", "/var/lib/dhcp/*.leases"],
            Valid("[System]\nDHClientLeaseFile = \"/run/a.leases  /var/lib/dhcp/*.leases\"").DHClientLeaseFiles);
        Assert.Contains("\"dhcp/x.leases\" is not an absolute path", SingleError("[System]\nDHClientLeaseFile = \"/run/a.leases dhcp/x.leases\"").Message);
        Assert.Contains("at least one path is needed", SingleError("[System]\nDHClientLeaseFile = \" \"").Message);
    }

    [Fact]
    public void An_empty_file_gives_the_defaults()
    {
        var config = Valid("");
        Assert.Equal(LogLevel.Info, config.LogLevel);
        Assert.Equal(LogFormat.Text, config.LogFormat);
        Assert.Equal(EventSources.SystemdNetworkd, config.Generator);
        Assert.Equal("network-broker", config.User);
        // Where Debian and Ubuntu's dhclient writes, and Red Hat's and Photon OS's.
        Assert.Equal(["/var/lib/dhcp/dhclient*.leases", "/var/lib/dhclient/*.leases"], config.DHClientLeaseFiles);
        Assert.Equal(TimeSpan.FromSeconds(30), config.ScriptTimeout);
        Assert.False(config.RunStartupTriggers);
        Assert.True(config.Links.IsAll);
        Assert.Empty(config.RoutingPolicyRules);
        Assert.False(config.UseDNS);
        Assert.False(config.UseDomain);
        Assert.False(config.UseHostname);
        Assert.True(config.EmitJSON);
        Assert.Equal(9999u, config.RouteTableBase);
        Assert.Equal(32000u, config.RoutingPolicyRulePriority);
        Assert.False(config.RemoveRulesOnStop);
        Assert.Equal("/etc/network-broker", config.Directory);
    }

    [Fact]
    public void Every_key_is_read()
    {
        var config = Valid("""
            [System]
            LogLevel = "debug"
            LogFormat = "json"
            Generator = "systemd-networkd dhclient"
            User = "root"
            DHClientLeaseFile = "/var/lib/dhcp/dhclient.*.leases"
            ScriptTimeoutSec = 5
            RunStartupTriggers = true

            [Network]
            Links = "eth0 eth1"
            RoutingPolicyRules = "eth1"
            UseDNS = true
            UseDomain = true
            UseHostname = true
            EmitJSON = false
            RouteTableBase = 20000
            RoutingPolicyRulePriority = 1000
            RemoveRulesOnStop = true
            """);
        Assert.Equal(LogLevel.Debug, config.LogLevel);
        Assert.Equal(LogFormat.Json, config.LogFormat);
        Assert.Equal(EventSources.SystemdNetworkd | EventSources.DHClient, config.Generator);
        Assert.Equal("root", config.User);
        Assert.Equal("/var/lib/dhcp/dhclient.*.leases", config.DHClientLeaseFile);
        Assert.Equal(TimeSpan.FromSeconds(5), config.ScriptTimeout);
        Assert.True(config.RunStartupTriggers);
        Assert.Equal<string>(["eth0", "eth1"], config.Links.Names);
        Assert.Equal<string>(["eth1"], config.RoutingPolicyRules);
        Assert.True(config.UseDNS && config.UseDomain && config.UseHostname);
        Assert.False(config.EmitJSON);
        Assert.Equal(20000u, config.RouteTableBase);
        Assert.Equal(1000u, config.RoutingPolicyRulePriority);
        Assert.True(config.RemoveRulesOnStop);
    }

    [Fact]
    public void The_Go_projects_own_example_with_quoted_booleans_is_valid()
    {
        var config = Valid("""
            [System]
            LogLevel="debug"
            Generator="systemd-networkd"

            [Network]
            Links="eth0 eth1"
            RoutingPolicyRules="eth1"
            UseDNS="true"
            UseDomain="true"
            EmitJSON="true"
            """);
        Assert.True(config.UseDNS);
        Assert.True(config.UseDomain);
        Assert.True(config.EmitJSON);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("\"true\"", true)]
    [InlineData("\"false\"", false)]
    [InlineData("\"yes\"", true)]
    [InlineData("\"no\"", false)]
    [InlineData("\"1\"", true)]
    [InlineData("\"0\"", false)]
    [InlineData("\"Yes\"", true)]
    [InlineData("1", true)]
    [InlineData("0", false)]
    public void Booleans_accept_TOML_booleans_and_the_documented_strings(string value, bool expected)
    {
        Assert.Equal(expected, Valid($"[Network]\nUseDNS = {value}\n").UseDNS);
    }

    [Theory]
    [InlineData("\"maybe\"")]
    [InlineData("2")]
    [InlineData("[true]")]
    [InlineData("1.0")]
    public void A_value_that_is_not_a_boolean_is_an_error_on_its_line(string value)
    {
        var error = SingleError($"[Network]\n\nEmitJSON = {value}\n");
        Assert.Equal(3, error.Line);
        Assert.Equal("[Network] EmitJSON", error.Key);
        Assert.Contains("expected a boolean", error.Message);
    }

    [Fact]
    public void Links_are_exact_names_never_substrings()
    {
        var links = Valid("[Network]\nLinks = \"eth1\"\n").Links;
        Assert.True(links.Matches("eth1"));
        Assert.False(links.Matches("eth10"));
        Assert.False(links.Matches("eth"));
        Assert.False(links.Matches("veth1"));
        Assert.False(links.Matches(null));
    }

    [Fact]
    public void Unset_links_match_every_link()
    {
        Assert.True(Valid("").Links.Matches("anything0"));
    }

    [Fact]
    public void Links_accept_any_white_space_and_arrays_and_drop_repeats()
    {
        Assert.Equal<string>(["eth0", "eth1", "wlan0"], Valid("[Network]\nLinks = \"  eth0\teth1   wlan0 eth0 \"\n").Links.Names);
        Assert.Equal<string>(["eth0", "eth1"], Valid("[Network]\nLinks = [\"eth0\", \"eth1\"]\n").Links.Names);
    }

    [Theory]
    [InlineData("\"eth/0\"")]
    [InlineData("\"..\"")]
    [InlineData("\"eth0:1\"")]
    [InlineData("[\"eth0\", 3]")]
    [InlineData("true")]
    public void Invalid_interface_names_are_errors(string value)
    {
        var error = SingleError($"[Network]\nRoutingPolicyRules = {value}\n");
        Assert.Equal(2, error.Line);
        Assert.Equal("[Network] RoutingPolicyRules", error.Key);
    }

    [Fact]
    public void An_unknown_key_names_file_line_and_key_and_suggests_the_right_case()
    {
        var error = SingleError("[System]\nLogLevel = \"info\"\nloglevel = \"debug\"\n");
        Assert.Equal("/etc/network-broker/network-broker.toml:3: [System] loglevel: unknown key (did you mean LogLevel?)", error.ToString());
    }

    [Fact]
    public void An_unknown_key_without_a_near_match_is_still_an_error()
    {
        var error = SingleError("[Network]\nFrobnicate = 1\n");
        Assert.Equal(2, error.Line);
        Assert.Equal("unknown key", error.Message);
    }

    [Fact]
    public void A_key_of_one_section_in_the_other_is_unknown()
    {
        var error = SingleError("[Network]\nLogLevel = \"debug\"\n");
        Assert.Equal("[Network] LogLevel", error.Key);
    }

    [Fact]
    public void An_unknown_section_is_an_error_on_its_line()
    {
        var error = SingleError("[System]\n\n[Netwrk]\nLinks = \"eth0\"\n");
        Assert.Equal(3, error.Line);
        Assert.Contains("unknown section [Netwrk]", error.Message);
    }

    [Fact]
    public void A_key_outside_any_section_is_an_error()
    {
        var error = SingleError("LogLevel = \"debug\"\n[System]\n");
        Assert.Equal(1, error.Line);
        Assert.Contains("outside a section", error.Message);
    }

    [Theory]
    [InlineData("[System]\nLogLevel = \"verbose\"\n", 2, "unknown value \"verbose\"")]
    [InlineData("[System]\nLogLevel = 3\n", 2, "expected a string")]
    [InlineData("[System]\nLogFormat = \"xml\"\n", 2, "unknown value \"xml\"")]
    [InlineData("[System]\nGenerator = \"NetworkManager\"\n", 2, "unknown generator \"NetworkManager\"")]
    [InlineData("[System]\nGenerator = \"\"\n", 2, "at least one generator")]
    [InlineData("[System]\nScriptTimeoutSec = 0\n", 2, "out of range")]
    [InlineData("[System]\nScriptTimeoutSec = \"abc\"\n", 2, "expected an integer")]
    [InlineData("[System]\nDHClientLeaseFile = \"relative.leases\"\n", 2, "not an absolute path")]
    [InlineData("[System]\nUser = \"\"\n", 2, "expected a user name")]
    [InlineData("[System]\nUser = \"a b\"\n", 2, "not a valid user name")]
    [InlineData("[Network]\nRouteTableBase = 254\n", 2, "out of range")]
    [InlineData("[Network]\nRoutingPolicyRulePriority = 32766\n", 2, "out of range")]
    public void Bad_values_are_reported_with_their_line(string toml, int line, string message)
    {
        var error = SingleError(toml);
        Assert.Equal(line, error.Line);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Every_error_of_a_file_is_reported_at_once()
    {
        var (_, errors) = Parse("[System]\nLogLevel = \"x\"\nFoo = 1\n[Network]\nUseDNS = \"perhaps\"\n");
        Assert.Equal([2, 3, 5], errors.Select(e => e.Line));
    }

    [Fact]
    public void A_TOML_syntax_error_names_its_line()
    {
        var (_, errors) = Parse("[System]\nLogLevel = \n");
        Assert.Equal(2, Assert.Single(errors).Line);
    }

    [Fact]
    public void A_key_given_twice_is_an_error()
    {
        var (_, errors) = Parse("[System]\nLogLevel = \"info\"\nLogLevel = \"debug\"\n");
        Assert.Equal(3, Assert.Single(errors).Line);
    }

    [Fact]
    public void Quoted_integers_are_accepted_like_quoted_booleans()
    {
        Assert.Equal(TimeSpan.FromSeconds(12), Valid("[System]\nScriptTimeoutSec = \"12\"\n").ScriptTimeout);
    }

    [Fact]
    public void The_environment_wins_over_the_file()
    {
        var errors = new List<ConfigurationError>();
        var config = ConfigurationLoader.ApplyEnvironment(Valid("[System]\nLogLevel = \"error\"\nLogFormat = \"text\"\n"),
            name => name switch { "NETWORK_EVENT_LOG_LEVEL" => "debug", "NETWORK_EVENT_LOG_FORMAT" => "json", _ => null }, errors);
        Assert.Empty(errors);
        Assert.Equal(LogLevel.Debug, config.LogLevel);
        Assert.Equal(LogFormat.Json, config.LogFormat);
    }

    [Fact]
    public void A_bad_environment_override_is_an_error_naming_the_variable()
    {
        var errors = new List<ConfigurationError>();
        ConfigurationLoader.ApplyEnvironment(new BrokerConfiguration(), name => name == "NETWORK_EVENT_LOG_LEVEL" ? "loud" : null, errors);
        Assert.Equal("environment: NETWORK_EVENT_LOG_LEVEL: unknown value \"loud\" (expected debug, info, warn, error or fatal)",
            Assert.Single(errors).ToString());
    }

    [Fact]
    public void A_missing_file_means_the_defaults()
    {
        using var dir = new TempDirectory();
        var config = ConfigurationLoader.Load(dir.Combine("absent.toml"), _ => null, out var exists);
        Assert.False(exists);
        Assert.Equal(new BrokerConfiguration { Path = dir.Combine("absent.toml") }.EmitJSON, config.EmitJSON);
        Assert.Equal(dir.Path, config.Directory);
    }

    [Fact]
    public void An_invalid_file_throws_with_every_error()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("network-broker.toml", "[System]\nLogLevel = \"x\"\n[Nope]\n");
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load(path, _ => null, out _));
        Assert.Equal(2, e.Errors.Count);
        Assert.All(e.Errors, error => Assert.StartsWith(path + ":", error.ToString()));
    }

    [Fact]
    public void The_effective_configuration_reads_back_to_the_same_value()
    {
        var original = Valid("""
            [System]
            LogLevel = "warn"
            Generator = "dhclient systemd-networkd"
            ScriptTimeoutSec = 7
            [Network]
            Links = "eth0 eth1"
            RoutingPolicyRules = "eth1"
            UseHostname = "yes"
            """);
        var reread = Valid(ConfigurationFormatter.Format(original));
        Assert.Equal(ConfigurationFormatter.Format(original), ConfigurationFormatter.Format(reread));
        Assert.Equal<string>(original.Links.Names, reread.Links.Names);
        Assert.Equal(original.Generator, reread.Generator);
        Assert.True(reread.UseHostname);
    }

    [Fact]
    public void Random_mutations_of_a_valid_file_give_errors_never_exceptions()
    {
        const string seed = "[System]\nLogLevel = \"debug\"\nScriptTimeoutSec = 5\n[Network]\nLinks = [\"eth0\", \"eth1\"]\nUseDNS = \"true\"\n";
        var random = new Random(1234);
        const string alphabet = "[]=\"'\n#.{},0123456789 abcTrue\\\t";
        for (var i = 0; i < 3000; i++)
        {
            var text = seed.ToCharArray().ToList();
            for (var m = random.Next(1, 6); m > 0; m--)
            {
                var at = random.Next(text.Count + 1);
                switch (random.Next(3))
                {
                    case 0 when at < text.Count: text.RemoveAt(at); break;
                    case 1: text.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                    default: if (at < text.Count) text[at] = alphabet[random.Next(alphabet.Length)]; break;
                }
            }
            var errors = new List<ConfigurationError>();
            ConfigurationLoader.Parse(new string([.. text]), "fuzz.toml", errors);
            Assert.All(errors, e => Assert.True(e.Line >= 0));
        }
    }

    [Fact]
    public void Random_nesting_gives_errors_never_exceptions_and_too_deep_is_located()
    {
        var random = new Random(4321);
        const string alphabet = "[]{}=\"'#\n a1.,";
        for (var round = 0; round < 3000; round++)
        {
            var depth = random.Next(0, 150);
            var text = "[System]\nLogLevel = " + new string([.. Enumerable.Range(0, depth).Select(_ => random.Next(2) == 0 ? '[' : '{')])
                + new string([.. Enumerable.Range(0, random.Next(0, 40)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            var errors = new List<ConfigurationError>();
            ConfigurationLoader.Parse(text, "fuzz.toml", errors);
            Assert.All(errors, e => Assert.True(e.Line >= 0));
        }
        var deep = new List<ConfigurationError>();
        ConfigurationLoader.Parse("[System]\n# [[[[\nLogLevel = \"[[[\"\nUser = " + new string('[', 70) + new string(']', 70) + "\n", "deep.toml", deep);
        Assert.Equal("deep.toml:4: nested deeper than 64 levels of arrays or inline tables", Assert.Single(deep).ToString());
    }

    [Fact]
    public void A_systemd_style_bare_value_gets_the_quoting_hint_and_a_near_miss_key_the_nearest_one()
    {
        var errors = new List<ConfigurationError>();
        ConfigurationLoader.Parse("[System]\nLogLevel=debug\n", "x.toml", errors);
        Assert.Equal("x.toml:2: Unexpected token `debug` for a value (TOML strings are quoted: write LogLevel = \"debug\")", Assert.Single(errors).ToString());

        errors.Clear();
        ConfigurationLoader.Parse("[Network]\nUseDomains = true\nlinks = \"eth0\"\nFrobnicate = 1\n", "x.toml", errors);
        Assert.Equal(
            ["x.toml:2: [Network] UseDomains: unknown key (did you mean UseDomain?)", "x.toml:3: [Network] links: unknown key (did you mean Links?)",
             "x.toml:4: [Network] Frobnicate: unknown key"],
            errors.Select(e => e.ToString()));
    }
}
