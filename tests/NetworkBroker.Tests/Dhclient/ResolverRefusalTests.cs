using NetworkBroker.Dhclient;

namespace NetworkBroker.Tests.Dhclient;

public class ResolverRefusalTests
{
    [Theory]
    [InlineData("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", true)]
    [InlineData("org.freedesktop.DBus.Error.AccessDenied", true)]
    [InlineData("org.freedesktop.DBus.Error.ServiceUnknown", false)]
    [InlineData("org.freedesktop.resolve1.LinkBusy", false)]
    public void Only_polkits_answers_are_refusals(string error, bool refusal) => Assert.Equal(refusal, ResolverPusher.IsRefusal(error));

    [Fact]
    public void A_refusal_names_the_service_the_action_the_user_and_the_fix()
    {
        Assert.Equal("dhclient: systemd-resolved refused DNS servers 10.0.0.53 (org.freedesktop.DBus.Error.InteractiveAuthorizationRequired): " +
                     "polkit does not grant org.freedesktop.resolve1.set-dns-servers to user network-broker; install polkitd " +
                     "(the package's /usr/share/polkit-1/rules.d/50-network-broker.rules grants it to network-broker), or run the daemon as root",
            ResolverPusher.Refused("DNS servers 10.0.0.53", "org.freedesktop.resolve1", "org.freedesktop.resolve1.set-dns-servers",
                "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", "network-broker"));
        Assert.StartsWith("dhclient: systemd-hostnamed refused transient host name node7",
            ResolverPusher.Refused("transient host name node7", "org.freedesktop.hostname1", "org.freedesktop.hostname1.set-hostname",
                "org.freedesktop.DBus.Error.AccessDenied", "network-broker"));
    }
}
