using System.Net;
using NetworkBroker.Core;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Core;

public class NetworkdDispatcherVariablesTests
{
    private static AddressMessage Address(string text) => new()
    {
        Address = IPAddress.Parse(text), Family = text.Contains(':') ? AddressFamily.IPv6 : AddressFamily.IPv4, PrefixLength = 24, Index = 3,
    };

    [Fact]
    public void The_lists_leave_out_loopback_IPv4_and_link_local_IPv6_and_ADDR_is_the_first_IPv4()
    {
        var variables = NetworkdDispatcherVariables.Of("eth1",
            [Address("127.0.0.2"), Address("fe80::1"), Address("10.0.0.5"), Address("2001:db8::5"), Address("10.0.1.5")]).ToDictionary();
        Assert.Equal("eth1", variables["IFACE"]);
        Assert.Equal("10.0.0.5", variables["ADDR"]);
        Assert.Equal("10.0.0.5 10.0.1.5", variables["IP_ADDRS"]);
        Assert.Equal("2001:db8::5", variables["IP6_ADDRS"]);
        Assert.Equal("", variables["ESSID"]);
    }

    [Fact]
    public void A_link_without_addresses_gets_empty_values_not_missing_ones()
    {
        var variables = NetworkdDispatcherVariables.Of("eth1", []).ToDictionary();
        Assert.Equal(["IFACE", "ADDR", "IP_ADDRS", "IP6_ADDRS", "ESSID"], variables.Keys);
        Assert.All(variables.Where(v => v.Key != "IFACE"), v => Assert.Equal("", v.Value));
    }
}
