using NetworkBroker.Configuration;

namespace NetworkBroker.Tests.Configuration;

public class NetworkdDispatcherJsonKeyTests
{
    [Fact]
    public void EmitNetworkdDispatcherJSON_is_off_by_default_and_read_as_a_boolean_of_the_Network_section()
    {
        var errors = new List<ConfigurationError>();
        Assert.False(ConfigurationLoader.Parse("[Network]\n", "x.toml", errors).EmitNetworkdDispatcherJSON);
        Assert.True(ConfigurationLoader.Parse("[Network]\nEmitNetworkdDispatcherJSON = true\n", "x.toml", errors).EmitNetworkdDispatcherJSON);
        Assert.True(ConfigurationLoader.Parse("[Network]\nEmitNetworkdDispatcherJSON = \"yes\"\n", "x.toml", errors).EmitNetworkdDispatcherJSON);
        Assert.Empty(errors);
        ConfigurationLoader.Parse("[Network]\nEmitNetworkdDispatcherJSON = \"sometimes\"\n", "x.toml", errors);
        Assert.StartsWith("x.toml:2: [Network] EmitNetworkdDispatcherJSON", Assert.Single(errors).ToString());
    }

    [Fact]
    public void The_effective_configuration_shows_it_and_reads_back_to_the_same_value()
    {
        var config = new BrokerConfiguration { Path = "x.toml", EmitNetworkdDispatcherJSON = true };
        var text = ConfigurationFormatter.Format(config);
        Assert.Contains("EmitNetworkdDispatcherJSON = true\n", text);
        var errors = new List<ConfigurationError>();
        Assert.True(ConfigurationLoader.Parse(text, "x.toml", errors).EmitNetworkdDispatcherJSON);
        Assert.Empty(errors);
    }
}
