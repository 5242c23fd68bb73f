using System.Net;
using NetworkBroker.Core;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Core;

public class NetworkdDispatcherVariablesTests
{
    private const byte Global = 0, Link = 253, Host = 254;

    private static AddressMessage Address(string text, byte scope = Global, uint flags = 0) => new()
    {
        Address = IPAddress.Parse(text), Family = text.Contains(':') ? AddressFamily.IPv6 : AddressFamily.IPv4, PrefixLength = 24, Index = 3,
        Scope = scope, Flags = flags,
    };

    [Fact]
    public void The_lists_leave_out_loopback_IPv4_and_link_local_IPv6_and_ADDR_is_the_first_IPv4()
    {
        var variables = NetworkdDispatcherVariables.Of("eth1",
            [Address("127.0.0.2"), Address("fe80::1", Link), Address("10.0.0.5"), Address("2001:db8::5"), Address("10.0.1.5")]).ToDictionary();
        Assert.Equal("eth1", variables["IFACE"]);
        Assert.Equal("10.0.0.5", variables["ADDR"]);
        Assert.Equal("10.0.0.5 10.0.1.5", variables["IP_ADDRS"]);
        Assert.Equal("2001:db8::5", variables["IP6_ADDRS"]);
        Assert.Equal("", variables["ESSID"]);
    }

    [Fact]
    public void Addresses_are_in_networkctls_order_not_the_kernels()
    {
        // networkctl status sorts: IPv4 before IPv6, then by scope (global first), then by value.
        var variables = NetworkdDispatcherVariables.Of("eth1",
            [Address("fe80::1", Link), Address("fd00::9"), Address("10.0.1.5"), Address("fd00::2"), Address("10.0.0.5"), Address("10.0.0.40", Link)]).ToDictionary();
        Assert.Equal("10.0.0.5", variables["ADDR"]);
        Assert.Equal("10.0.0.5 10.0.1.5 10.0.0.40", variables["IP_ADDRS"]);
        Assert.Equal("fd00::2 fd00::9", variables["IP6_ADDRS"]);
    }

    [Fact]
    public void Without_IPv4_ADDR_is_the_first_IPv6_address_link_local_included_as_networkd_dispatcher_gives_it()
    {
        Assert.Equal("fe80::1", NetworkdDispatcherVariables.Of("eth1", [Address("fe80::1", Link)]).ToDictionary()["ADDR"]);
        Assert.Equal("fd00::2", NetworkdDispatcherVariables.Of("eth1", [Address("fe80::1", Link), Address("fd00::2")]).ToDictionary()["ADDR"]);
        var lo = NetworkdDispatcherVariables.Of("lo", [Address("::1", Host), Address("127.0.0.1", Host)]).ToDictionary();
        Assert.Equal(("127.0.0.1", "", "::1"), (lo["ADDR"], lo["IP_ADDRS"], lo["IP6_ADDRS"]));
    }

    [Fact]
    public void Deprecated_addresses_are_left_out_as_networkctl_leaves_them_out()
    {
        var variables = NetworkdDispatcherVariables.Of("eth1",
            [Address("fd00::1", flags: AddressMessage.FlagDeprecated), Address("fd00::6"), Address("10.0.0.1", flags: AddressMessage.FlagDeprecated | AddressMessage.FlagPermanent)]).ToDictionary();
        Assert.Equal(("fd00::6", "", "fd00::6"), (variables["ADDR"], variables["IP_ADDRS"], variables["IP6_ADDRS"]));
    }

    [Fact]
    public void The_filters_are_networkd_dispatchers_textual_ones()
    {
        // It drops what starts with "fe80:", not all of fe80::/10; "127." as text is 127.0.0.0/8.
        var variables = NetworkdDispatcherVariables.Of("eth1", [Address("febf::1", Link), Address("fe80::2", Link), Address("127.9.0.1")]).ToDictionary();
        Assert.Equal(("127.9.0.1", "", "febf::1"), (variables["ADDR"], variables["IP_ADDRS"], variables["IP6_ADDRS"]));
    }

    [Fact]
    public void A_link_without_addresses_gets_empty_values_not_missing_ones()
    {
        var variables = NetworkdDispatcherVariables.Of("eth1", []).ToDictionary();
        Assert.Equal(["IFACE", "ADDR", "IP_ADDRS", "IP6_ADDRS", "ESSID"], variables.Keys);
        Assert.All(variables.Where(v => v.Key != "IFACE"), v => Assert.Equal("", v.Value));
    }
}
