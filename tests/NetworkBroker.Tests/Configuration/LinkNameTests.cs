using NetworkBroker.Configuration;

namespace NetworkBroker.Tests.Configuration;

/// <summary>Link names by the kernel's rule (dev_valid_name), whoever names them: the configuration, networkd or a client.</summary>
public class LinkNameTests
{
    [Theory]
    [InlineData("eth0", true)]
    [InlineData("enp0s31f6", true)]
    [InlineData("a23456789012345", true)]
    [InlineData("wlan-été", true)]
    [InlineData("a234567890123456", false)]
    [InlineData("ééééééé-", true)]
    [InlineData("éééééééé", false)]
    [InlineData(".", false)]
    [InlineData("..", false)]
    [InlineData("...", true)]
    [InlineData("eth0/x", false)]
    [InlineData("eth0:1", false)]
    [InlineData("eth 0", false)]
    [InlineData("eth\t0", false)]
    [InlineData("eth\u00a00", false)]
    [InlineData("lo\0", false)]
    [InlineData("lo\u001b", false)]
    [InlineData("lo\u007f", false)]
    [InlineData("lo\u0085", false)]
    [InlineData("", false)]
    public void Interface_names_follow_the_kernels_rule(string name, bool valid) => Assert.Equal(valid, LinkName.IsInterfaceName(name));

    [Fact]
    public void A_configured_name_may_be_as_long_as_an_altname()
    {
        Assert.True(LinkName.IsValid(new string('a', 127)));
        Assert.False(LinkName.IsValid(new string('a', 128)));
        Assert.False(LinkName.IsInterfaceName(new string('a', 16)));
    }
}
