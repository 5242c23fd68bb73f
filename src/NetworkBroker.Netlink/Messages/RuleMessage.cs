using System.Buffers.Binary;
using System.Net;

namespace NetworkBroker.Netlink.Messages;

/// <summary>RTM_NEWRULE / RTM_DELRULE: struct fib_rule_hdr and its FRA_* attributes (a policy-routing rule).</summary>
public sealed record RuleMessage
{
    public const int HeaderSize = 12;

    private const ushort FRA_DST = 1, FRA_SRC = 2, FRA_IIFNAME = 3, FRA_PRIORITY = 6, FRA_FWMARK = 10,
        FRA_TABLE = 15, FRA_OIFNAME = 17, FRA_PROTOCOL = 21;

    public byte Family { get; init; }
    public byte DestinationLength { get; init; }
    public byte SourceLength { get; init; }
    public byte Tos { get; init; }
    /// <summary>FRA_TABLE where present (the header's byte holds only 8 bits).</summary>
    public uint Table { get; init; }
    public byte Action { get; init; } = RuleAction.ToTable;
    public uint Flags { get; init; }
    public IPAddress? Destination { get; init; }
    public IPAddress? Source { get; init; }
    public string? InputInterface { get; init; }
    public string? OutputInterface { get; init; }
    public uint Priority { get; init; }
    public uint FirewallMark { get; init; }
    /// <summary>FRA_PROTOCOL: who made the rule (Linux 4.17+); how the broker recognises its own rules.</summary>
    public byte Protocol { get; init; }

    public static RuleMessage Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderSize)
            throw NetlinkParseException.TooShort("fib_rule_hdr", HeaderSize, payload.Length);
        IPAddress? destination = null, source = null;
        string? input = null, output = null;
        uint table = payload[4], priority = 0, mark = 0;
        byte protocol = 0;
        var attributes = new NetlinkAttributeReader(payload[HeaderSize..]);
        while (attributes.Next())
        {
            switch (attributes.Type)
            {
                case FRA_DST: destination = attributes.Address(); break;
                case FRA_SRC: source = attributes.Address(); break;
                case FRA_IIFNAME: input = attributes.String(); break;
                case FRA_OIFNAME: output = attributes.String(); break;
                case FRA_PRIORITY: priority = attributes.UInt32(); break;
                case FRA_FWMARK: mark = attributes.UInt32(); break;
                case FRA_TABLE: table = attributes.UInt32(); break;
                case FRA_PROTOCOL: protocol = attributes.Byte(); break;
            }
        }
        return new RuleMessage
        {
            Family = payload[0],
            DestinationLength = payload[1],
            SourceLength = payload[2],
            Tos = payload[3],
            Table = table,
            Action = payload[7],
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]),
            Destination = destination, Source = source, InputInterface = input, OutputInterface = output,
            Priority = priority, FirewallMark = mark, Protocol = protocol,
        };
    }

    public static NetlinkRequestWriter Get(uint sequence, byte family = AddressFamily.Unspecified) =>
        NetlinkRequestWriter.Dump(NetlinkMessageType.GetRule, HeaderSize, family, sequence);

    public NetlinkRequestWriter Encode(NetlinkMessageType type, NetlinkFlags flags, uint sequence)
    {
        var request = NetlinkRequestWriter.Change(type, flags, sequence);
        var header = request.Reserve(HeaderSize);
        header[0] = Family;
        header[1] = DestinationLength;
        header[2] = SourceLength;
        header[3] = Tos;
        header[4] = RouteTable.HeaderByte(Table);
        header[7] = Action;
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Flags);
        request.Attribute(FRA_TABLE, Table);
        if (Priority != 0)
            request.Attribute(FRA_PRIORITY, Priority);
        if (Destination is not null)
            request.Attribute(FRA_DST, Destination);
        if (Source is not null)
            request.Attribute(FRA_SRC, Source);
        if (InputInterface is not null)
            request.Attribute(FRA_IIFNAME, InputInterface);
        if (OutputInterface is not null)
            request.Attribute(FRA_OIFNAME, OutputInterface);
        if (FirewallMark != 0)
            request.Attribute(FRA_FWMARK, FirewallMark);
        if (Protocol != 0)
            request.Attribute(FRA_PROTOCOL, Protocol);
        return request;
    }
}
