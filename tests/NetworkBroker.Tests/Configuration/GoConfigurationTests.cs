using NetworkBroker.Configuration;
using NetworkBroker.Logging;

namespace NetworkBroker.Tests.Configuration;

/// <summary>
/// The Go network-event-broker's own configuration files pass unchanged, and the old idioms of its users are
/// warned about. The fixtures are its files byte for byte (Fixtures/go-network-event-broker/SOURCES names each
/// one's path and commit in github.com/vmware/network-event-broker).
/// </summary>
public class GoConfigurationTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "go-network-event-broker", name);

    private static LoadedConfiguration Read(string name) => ConfigurationLoader.Read(Fixture(name), _ => null, mustExist: true);

    [Fact]
    public void The_shipped_distribution_file_passes_with_its_meaning_and_no_warning()
    {
        // distribution/network-broker.toml at d2b31a3e7006bd228ab148b35cac06ce0cb50444
        var loaded = Read("distribution-network-broker.toml");
        Assert.Empty(loaded.Warnings);
        Assert.Equal(LogLevel.Info, loaded.Config.LogLevel);
        Assert.Equal(LogFormat.Text, loaded.Config.LogFormat);
        Assert.Equal(EventSources.SystemdNetworkd, loaded.Config.Generator);
        Assert.Equal<string>(["eth0", "eth1"], loaded.Config.Links.Names);
        Assert.Equal<string>(["eth0", "eth1"], loaded.Config.RoutingPolicyRules);
        Assert.True(loaded.Config.EmitJSON);
    }

    [Fact]
    public void The_earlier_shipped_file_passes_with_no_warning()
    {
        // conf/network-broker.toml at 6fda88259db5b710c2f253cbb4f5de4e165b768c
        var loaded = Read("conf-network-broker.toml");
        Assert.Empty(loaded.Warnings);
        Assert.Equal<string>(["ens33", "ens37"], loaded.Config.Links.Names);
        Assert.Equal<string>(["ens33", "ens37"], loaded.Config.RoutingPolicyRules);
    }

    [Fact]
    public void The_shipped_file_with_Generator_under_Network_passes_and_it_is_ignored_as_the_Go_daemon_ignored_it()
    {
        // conf/network-broker.toml at 101e110e4682829e8e7b627bff4c2e52faeb8c6b: its reader had no [Network] Generator.
        var loaded = Read("conf-network-broker-generator-in-network.toml");
        Assert.Equal(EventSources.SystemdNetworkd, loaded.Config.Generator);
        Assert.True(loaded.Config.Links.IsAll);
        var warning = Assert.Single(loaded.Warnings);
        Assert.Equal(7, warning.Line);
        Assert.Equal("[Network] Generator", warning.Key);
        Assert.StartsWith("ignored: Generator= belongs in [System]", warning.Message);
    }

    [Fact]
    public void The_README_samples_pass()
    {
        // README.md at 101e110e4682829e8e7b627bff4c2e52faeb8c6b, and the later README with routes.d: the samples.
        var first = Read("readme-sample-ens33.toml");
        Assert.Empty(first.Warnings);
        Assert.Equal(LogLevel.Debug, first.Config.LogLevel);
        Assert.Equal<string>(["ens33", "ens37"], first.Config.Links.Names);

        var later = Read("readme-sample-eth1.toml");
        Assert.Empty(later.Warnings);
        Assert.Equal<string>(["eth1"], later.Config.RoutingPolicyRules);
        Assert.True(later.Config.UseDNS && later.Config.UseDomain && later.Config.EmitJSON);
    }

    [Fact]
    public void The_README_sample_with_its_Generator_typo_passes_with_a_warning_that_names_both_readings()
    {
        // README.md at 2fde88bdf6144643ccc0b0966c7bf8d7aa712832 says Generator="systemd-networks".
        var loaded = Read("readme-sample-systemd-networks.toml");
        Assert.Equal(EventSources.SystemdNetworkd, loaded.Config.Generator);
        Assert.True(loaded.Config.UseDNS && loaded.Config.UseDomain && loaded.Config.EmitJSON);
        var warning = Assert.Single(loaded.Warnings);
        Assert.Equal(
            $"{Fixture("readme-sample-systemd-networks.toml")}:3: [System] Generator: unknown generator \"systemd-networks\", read as systemd-networkd; " +
            "the Go network-event-broker read any value without \"systemd-networkd\" as dhclient: write \"systemd-networkd\", or \"dhclient\" if that is what ran",
            warning.ToString());
    }

    private static (BrokerConfiguration Config, List<ConfigurationError> Errors, List<ConfigurationError> Warnings) Parse(string toml)
    {
        var errors = new List<ConfigurationError>();
        var warnings = new List<ConfigurationError>();
        var config = ConfigurationLoader.Parse(toml, "x.toml", errors, warnings);
        return (config, errors, warnings);
    }

    [Theory]
    [InlineData("Links", "ens")]
    [InlineData("Links", "eth")]
    [InlineData("Links", "enp")]
    [InlineData("Links", "en")]
    [InlineData("Links", "wlan")]
    [InlineData("Links", "wlp")]
    [InlineData("RoutingPolicyRules", "enx")]
    [InlineData("RoutingPolicyRules", "eth")]
    public void A_bare_prefix_is_accepted_with_a_warning_that_it_matches_only_that_exact_name(string key, string prefix)
    {
        var (config, errors, warnings) = Parse($"[Network]\n{key} = \"eth0 {prefix}\"\n");

        Assert.Empty(errors);
        Assert.Equal(
            $"x.toml:2: [Network] {key}: \"{prefix}\" matches only a link named exactly {prefix}; for every link whose name begins with {prefix}, write \"{prefix}*\"",
            Assert.Single(warnings).ToString());
        var names = key == "Links" ? config.Links.Names : config.RoutingPolicyRules;
        Assert.Equal<string>(["eth0", prefix], names);
        Assert.False(new LinkFilter(names).Matches(prefix + "3"));
    }

    [Theory]
    [InlineData("eth0 eth1")]
    [InlineData("ens3 ens33 ens192")]
    [InlineData("enp0s3 enp3s0f1 eno1 enP2p1s0")]
    [InlineData("wlp2s0 wlan0 wwp0s20f0u6")]
    [InlineData("enx0250b6a1c2d3 enx00e04c68010a")]
    [InlineData("lo bond0 br0 vlan10 veth1 wg0 tun0 ib0 usb0")]
    [InlineData("wan lan uplink mgmt")]
    [InlineData("ens* eth? en[ps]*")]
    public void Full_names_own_names_and_globs_give_no_warning(string links)
    {
        var (_, errors, warnings) = Parse($"[Network]\nLinks = \"{links}\"\nRoutingPolicyRules = \"{links}\"\n");
        Assert.Empty(errors);
        Assert.Empty(warnings);
    }

    [Fact]
    public void A_comma_stays_an_error_with_the_hint_in_RoutingPolicyRules_too()
    {
        var (_, errors, _) = Parse("[Network]\nRoutingPolicyRules = \"eth0,eth1\"\n");
        Assert.Equal("x.toml:2: [Network] RoutingPolicyRules: \"eth0,eth1\": names are separated by spaces, not commas (write \"eth0 eth1\")",
            Assert.Single(errors).ToString());
    }

    [Fact]
    public void A_near_miss_generator_is_read_as_what_it_nearly_names_with_a_warning_and_a_far_one_stays_an_error()
    {
        var (config, errors, warnings) = Parse("[System]\nGenerator = \"dhclent systemd-networkd\"\n");
        Assert.Empty(errors);
        Assert.Equal(EventSources.DHClient | EventSources.SystemdNetworkd, config.Generator);
        Assert.Equal("x.toml:2: [System] Generator: unknown generator \"dhclent\", read as dhclient: write \"dhclient\"", Assert.Single(warnings).ToString());

        (_, errors, warnings) = Parse("[System]\nGenerator = \"NetworkManager\"\n");
        Assert.Empty(warnings);
        Assert.StartsWith("x.toml:2: [System] Generator: unknown generator \"NetworkManager\"", Assert.Single(errors).ToString());
    }

    [Fact]
    public void Only_Generator_under_Network_is_ignored_other_keys_in_the_wrong_section_stay_errors()
    {
        var (config, errors, warnings) = Parse("[Network]\nGenerator = \"dhclient\"\nLogLevel = \"debug\"\n");
        Assert.Equal(EventSources.SystemdNetworkd, config.Generator);
        Assert.Equal("[Network] Generator", Assert.Single(warnings).Key);
        Assert.Equal("x.toml:3: [Network] LogLevel: unknown key", Assert.Single(errors).ToString());
    }
}
