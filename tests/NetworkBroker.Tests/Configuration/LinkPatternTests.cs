using NetworkBroker.Configuration;

namespace NetworkBroker.Tests.Configuration;

/// <summary>Links= and RoutingPolicyRules= take names and shell globs, as systemd's Name= does.</summary>
public class LinkPatternTests
{
    [Theory]
    [InlineData("eth1", "eth1", true)]
    [InlineData("eth1", "eth10", false)]
    [InlineData("eth*", "eth10", true)]
    [InlineData("eth*", "ens3", false)]
    [InlineData("en?3", "ens3", true)]
    [InlineData("en[os]*", "eno1", true)]
    [InlineData("en[!o]*", "eno1", false)]
    [InlineData("veth[0-9]", "veth7", true)]
    [InlineData("veth[0-9]", "vethx", false)]
    [InlineData("*", "anything", true)]
    [InlineData("a[b", "a[b", true)]
    [InlineData("*1", "eth1", true)]
    [InlineData("*1", "eth12", false)]
    public void Names_match_exactly_and_globs_as_the_shell_does(string pattern, string name, bool matches) =>
        Assert.Equal(matches, LinkPattern.Matches(pattern, name));

    [Fact]
    public void A_filter_mixes_names_and_globs_and_an_empty_one_takes_every_link()
    {
        var filter = new LinkFilter(["eth0", "wl*"]);
        Assert.True(filter.Matches("eth0"));
        Assert.True(filter.Matches("wlan0"));
        Assert.False(filter.Matches("eth00"));
        Assert.True(LinkFilter.All.Matches("x"));
    }

    [Fact]
    public void A_comma_separated_list_is_an_error_that_says_how_to_write_it()
    {
        var errors = new List<ConfigurationError>();
        ConfigurationLoader.Parse("[Network]\nLinks = \"eth0,eth1\"\n", "x.toml", errors);
        Assert.Equal("x.toml:2: [Network] Links: \"eth0,eth1\": names are separated by spaces, not commas (write \"eth0 eth1\")", Assert.Single(errors).ToString());
        errors.Clear();
        var config = ConfigurationLoader.Parse("[Network]\nLinks = \"eth*\"\nRoutingPolicyRules = \"eth[12]\"\n", "x.toml", errors);
        Assert.Empty(errors);
        Assert.True(config.Links.Matches("eth7"));
        Assert.True(NetworkBroker.Routing.PolicyRoutingDesired.IsPolicyRouted(config, "eth2"));
        Assert.False(NetworkBroker.Routing.PolicyRoutingDesired.IsPolicyRouted(config, "eth3"));
    }

    [Fact]
    public void StateProperties_takes_networkds_link_state_properties_only()
    {
        var errors = new List<ConfigurationError>();
        var config = ConfigurationLoader.Parse("[Network]\nStateProperties = \"OperationalState OnlineState\"\n", "x.toml", errors);
        Assert.Empty(errors);
        Assert.Equal(["OperationalState", "OnlineState"], config.StateProperties.ToArray());
        ConfigurationLoader.Parse("[Network]\nStateProperties = \"PATH\"\n", "x.toml", errors);
        Assert.StartsWith("x.toml:2: [Network] StateProperties: \"PATH\" is not a networkd link state property", Assert.Single(errors).ToString());
    }

    [Fact]
    public void ScriptDirectories_defaults_to_the_configurations_then_the_packages_and_takes_absolute_paths()
    {
        var errors = new List<ConfigurationError>();
        Assert.Equal(["/etc/nb", "/usr/lib/network-broker"], ConfigurationLoader.Parse("", "/etc/nb/x.toml", errors).ScriptRoots);
        var config = ConfigurationLoader.Parse("[System]\nScriptDirectories = \"/etc/nb/ /srv/hooks\"\n", "/etc/nb/x.toml", errors);
        Assert.Empty(errors);
        Assert.Equal(["/etc/nb", "/srv/hooks"], config.ScriptRoots);
        ConfigurationLoader.Parse("[System]\nScriptDirectories = \"hooks\"\n", "x.toml", errors);
        Assert.Equal("x.toml:2: [System] ScriptDirectories: \"hooks\" is not an absolute path", Assert.Single(errors).ToString());
    }
}
