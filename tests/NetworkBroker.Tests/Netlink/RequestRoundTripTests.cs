using System.Net;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Netlink;

/// <summary>Every request the project sends decodes back to what was meant.</summary>
public class RequestRoundTripTests
{
    private static (NetlinkHeader Header, byte[] Payload) Single(NetlinkRequestWriter request)
    {
        var reader = new NetlinkMessageReader(request.Finish().Span);
        Assert.True(reader.Next(out var message));
        var result = (message.Header, message.Payload.ToArray());
        Assert.False(reader.Next(out _));
        return result;
    }

    [Fact]
    public void A_rule_request_round_trips_including_table_above_255_and_protocol()
    {
        var rule = new RuleMessage
        {
            Family = AddressFamily.IPv6, SourceLength = 128, Source = IPAddress.Parse("2001:db8::5"),
            Table = 10004, Priority = 32000, Protocol = 250,
        };
        var (header, payload) = Single(rule.Encode(NetlinkMessageType.NewRule, NetlinkFlags.Create | NetlinkFlags.Exclusive, 7));

        Assert.Equal(NetlinkMessageType.NewRule, header.Type);
        Assert.Equal(NetlinkFlags.Request | NetlinkFlags.Ack | NetlinkFlags.Create | NetlinkFlags.Exclusive, header.Flags);
        Assert.Equal(7u, header.Sequence);
        Assert.Equal(rule, RuleMessage.Decode(payload));
        Assert.Equal(252, payload[4]); // RT_TABLE_COMPAT in the 8-bit field, the real table in FRA_TABLE
    }

    [Fact]
    public void A_route_request_round_trips()
    {
        var route = new RouteMessage
        {
            Family = AddressFamily.IPv4, Table = 10004, Protocol = 250, Scope = RouteScope.Universe, Type = RouteType.Unicast,
            Gateway = IPAddress.Parse("10.0.0.1"), OutputIndex = 4, Priority = 0,
        };
        var (header, payload) = Single(route.Encode(NetlinkMessageType.NewRoute, NetlinkFlags.Create | NetlinkFlags.Replace, 9));
        Assert.Equal(NetlinkMessageType.NewRoute, header.Type);
        Assert.Equal(route, RouteMessage.Decode(payload));
    }

    [Fact]
    public void A_subnet_route_request_round_trips()
    {
        var route = new RouteMessage
        {
            Family = AddressFamily.IPv6, Table = 10004, Protocol = 250, Scope = RouteScope.Link,
            Destination = IPAddress.Parse("2001:db8:1::"), DestinationLength = 64, OutputIndex = 4, Priority = 256,
            PreferredSource = IPAddress.Parse("2001:db8:1::2"),
        };
        var (_, payload) = Single(route.Encode(NetlinkMessageType.DelRoute, NetlinkFlags.None, 1));
        Assert.Equal(route, RouteMessage.Decode(payload));
    }

    [Fact]
    public void An_address_request_round_trips()
    {
        var address = new AddressMessage
        {
            Family = AddressFamily.IPv4, PrefixLength = 24, Index = 3, Address = IPAddress.Parse("192.0.2.7"),
            Broadcast = IPAddress.Parse("192.0.2.255"), Label = "eth1",
        };
        var (header, payload) = Single(address.Encode(NetlinkMessageType.NewAddress, NetlinkFlags.Create, 2));
        Assert.Equal(NetlinkMessageType.NewAddress, header.Type);
        Assert.Equal(address, AddressMessage.Decode(payload));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Get_link_is_a_dump_without_an_index_and_a_single_request_with_one(int index)
    {
        var (header, payload) = Single(LinkMessage.Get(3, index));
        Assert.Equal(NetlinkMessageType.GetLink, header.Type);
        Assert.Equal(index == 0, header.Flags.HasFlag(NetlinkFlags.Dump));
        Assert.Equal(index, LinkMessage.Decode(payload).Index);
    }

    [Fact]
    public void Dump_requests_name_their_type_and_family()
    {
        Assert.Equal(NetlinkMessageType.GetAddress, Single(AddressMessage.Get(1)).Header.Type);
        Assert.Equal(NetlinkMessageType.GetRoute, Single(RouteMessage.Get(1)).Header.Type);
        var (header, payload) = Single(RuleMessage.Get(1, AddressFamily.IPv6));
        Assert.Equal(NetlinkMessageType.GetRule, header.Type);
        Assert.Equal(NetlinkFlags.Request | NetlinkFlags.Dump, header.Flags);
        Assert.Equal(AddressFamily.IPv6, payload[0]);
    }
}
