using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;

namespace NetworkBroker.Netlink.Messages;

/// <summary>One path of a multipath route (struct rtnexthop and its RTA_GATEWAY).</summary>
public sealed record NextHop(int Index, IPAddress? Gateway, byte Weight);

/// <summary>RTM_NEWROUTE / RTM_DELROUTE: struct rtmsg and its RTA_* attributes.</summary>
public sealed record RouteMessage
{
    public const int HeaderSize = 12;

    private const ushort RTA_DST = 1, RTA_SRC = 2, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_PREFSRC = 7,
        RTA_METRICS = 8, RTA_MULTIPATH = 9, RTA_TABLE = 15, RTA_VIA = 18, RTA_PREF = 20;
    private const ushort RTAX_MTU = 2, RTAX_ADVMSS = 8, RTAX_HOPLIMIT = 10;

    public byte Family { get; init; }
    public byte DestinationLength { get; init; }
    public byte SourceLength { get; init; }
    public byte Tos { get; init; }
    /// <summary>RTA_TABLE where present: rtm_table holds only 8 bits (tables above 255 read as 252, RT_TABLE_COMPAT).</summary>
    public uint Table { get; init; }
    public byte Protocol { get; init; }
    public byte Scope { get; init; }
    public byte Type { get; init; } = RouteType.Unicast;
    public uint Flags { get; init; }
    /// <summary>Null for a default route (DestinationLength 0).</summary>
    public IPAddress? Destination { get; init; }
    public IPAddress? Source { get; init; }
    public IPAddress? Gateway { get; init; }
    public int OutputIndex { get; init; }
    public uint Priority { get; init; }
    public IPAddress? PreferredSource { get; init; }
    public ImmutableArray<NextHop> MultiPath { get; init; } = [];
    public uint Mtu { get; init; }
    public uint AdvMss { get; init; }
    public uint HopLimit { get; init; }
    public byte? Preference { get; init; }

    public bool IsDefault => DestinationLength == 0;

    /// <summary>Every link the route leaves by: its output interface and those of its next hops.</summary>
    public IEnumerable<int> Links => MultiPath.IsEmpty
        ? OutputIndex == 0 ? [] : [OutputIndex]
        : MultiPath.Select(h => h.Index).Prepend(OutputIndex).Where(i => i != 0).Distinct();

    public static RouteMessage Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderSize)
            throw NetlinkParseException.TooShort("rtmsg", HeaderSize, payload.Length);
        // Collected in locals and built once: a `with` per attribute would copy the whole record each time.
        uint table = payload[4], priority = 0, mtu = 0, advMss = 0, hopLimit = 0;
        IPAddress? destination = null, source = null, gateway = null, preferredSource = null;
        int output = 0;
        byte? preference = null;
        var multiPath = ImmutableArray<NextHop>.Empty;

        var attributes = new NetlinkAttributeReader(payload[HeaderSize..]);
        while (attributes.Next())
        {
            switch (attributes.Type)
            {
                case RTA_DST: destination = attributes.Address(); break;
                case RTA_SRC: source = attributes.Address(); break;
                case RTA_OIF: output = attributes.Int32(); break;
                case RTA_GATEWAY: gateway = attributes.Address(); break;
                case RTA_PRIORITY: priority = attributes.UInt32(); break;
                case RTA_PREFSRC: preferredSource = attributes.Address(); break;
                case RTA_TABLE: table = attributes.UInt32(); break;
                case RTA_PREF: preference = attributes.Byte(); break;
                case RTA_VIA:
                    // struct rtvia: u16 family, then the address (an IPv4 gateway of an IPv6 route, RFC 5549).
                    var via = attributes.Payload;
                    if (via.Length is not (2 + 4) and not (2 + 16))
                        throw new NetlinkParseException($"RTA_VIA of {via.Length} bytes");
                    gateway = new IPAddress(via[2..]);
                    break;
                case RTA_METRICS:
                    var metrics = attributes.Nested();
                    while (metrics.Next())
                    {
                        switch (metrics.Type)
                        {
                            case RTAX_MTU: mtu = metrics.UInt32(); break;
                            case RTAX_ADVMSS: advMss = metrics.UInt32(); break;
                            case RTAX_HOPLIMIT: hopLimit = metrics.UInt32(); break;
                        }
                    }
                    break;
                case RTA_MULTIPATH: multiPath = DecodeMultiPath(attributes.Payload); break;
            }
        }
        return new RouteMessage
        {
            Family = payload[0],
            DestinationLength = payload[1],
            SourceLength = payload[2],
            Tos = payload[3],
            Protocol = payload[5],
            Scope = payload[6],
            Type = payload[7],
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]),
            Table = table, Destination = destination, Source = source, Gateway = gateway, OutputIndex = output,
            Priority = priority, PreferredSource = preferredSource, MultiPath = multiPath, Mtu = mtu, AdvMss = advMss,
            HopLimit = hopLimit, Preference = preference,
        };
    }

    private static ImmutableArray<NextHop> DecodeMultiPath(ReadOnlySpan<byte> data)
    {
        var hops = ImmutableArray.CreateBuilder<NextHop>();
        while (data.Length >= 8)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(data);
            if (length < 8 || length > data.Length)
                throw new NetlinkParseException($"rtnexthop length {length} outside 8..{data.Length}");
            IPAddress? gateway = null;
            var attributes = new NetlinkAttributeReader(data[8..length]);
            while (attributes.Next())
                if (attributes.Type == RTA_GATEWAY)
                    gateway = attributes.Address();
            hops.Add(new NextHop(BinaryPrimitives.ReadInt32LittleEndian(data[4..]), gateway, (byte)(data[3] + 1)));
            var next = NetlinkHeader.Align(length);
            data = next >= data.Length ? [] : data[next..];
        }
        return hops.ToImmutable();
    }

    public static NetlinkRequestWriter Get(uint sequence, byte family = AddressFamily.Unspecified) =>
        NetlinkRequestWriter.Dump(NetlinkMessageType.GetRoute, HeaderSize, family, sequence);

    /// <summary>RTM_NEWROUTE / RTM_DELROUTE for this route (single path).</summary>
    public NetlinkRequestWriter Encode(NetlinkMessageType type, NetlinkFlags flags, uint sequence)
    {
        var request = NetlinkRequestWriter.Change(type, flags, sequence);
        var header = request.Reserve(HeaderSize);
        header[0] = Family;
        header[1] = DestinationLength;
        header[2] = SourceLength;
        header[3] = Tos;
        header[4] = RouteTable.HeaderByte(Table);
        header[5] = Protocol;
        header[6] = Scope;
        header[7] = Type;
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Flags);
        request.Attribute(RTA_TABLE, Table);
        if (Destination is not null)
            request.Attribute(RTA_DST, Destination);
        if (Source is not null)
            request.Attribute(RTA_SRC, Source);
        if (Gateway is not null)
            request.Attribute(RTA_GATEWAY, Gateway);
        if (OutputIndex != 0)
            request.Attribute(RTA_OIF, (uint)OutputIndex);
        if (Priority != 0)
            request.Attribute(RTA_PRIORITY, Priority);
        if (PreferredSource is not null)
            request.Attribute(RTA_PREFSRC, PreferredSource);
        return request;
    }
}
