using System.Buffers.Binary;
using System.Collections.Immutable;

namespace NetworkBroker.Netlink.Messages;

/// <summary>RFC 2863 operational state of a link (IF_OPER_*), as the kernel reports it in IFLA_OPERSTATE.</summary>
public enum OperState : byte
{
    Unknown = 0,
    NotPresent = 1,
    Down = 2,
    LowerLayerDown = 3,
    Testing = 4,
    Dormant = 5,
    Up = 6,
}

/// <summary>Interface flags (IFF_*).</summary>
[Flags]
public enum LinkFlags : uint
{
    Up = 0x1,
    Broadcast = 0x2,
    Debug = 0x4,
    Loopback = 0x8,
    PointToPoint = 0x10,
    NoTrailers = 0x20,
    Running = 0x40,
    NoArp = 0x80,
    Promisc = 0x100,
    AllMulti = 0x200,
    Master = 0x400,
    Slave = 0x800,
    Multicast = 0x1000,
    LowerUp = 0x10000,
    Dormant = 0x20000,
}

/// <summary>RTM_NEWLINK / RTM_DELLINK: struct ifinfomsg and its IFLA_* attributes.</summary>
public sealed record LinkMessage
{
    public const int HeaderSize = 16;

    private const ushort IFLA_ADDRESS = 1, IFLA_BROADCAST = 2, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_LINK = 5,
        IFLA_MASTER = 10, IFLA_TXQLEN = 13, IFLA_OPERSTATE = 16, IFLA_LINKINFO = 18, IFLA_IFALIAS = 20,
        IFLA_STATS64 = 23, IFLA_GROUP = 27, IFLA_PROMISCUITY = 30, IFLA_NUM_TX_QUEUES = 31, IFLA_NUM_RX_QUEUES = 32,
        IFLA_CARRIER = 33, IFLA_GSO_MAX_SEGS = 40, IFLA_GSO_MAX_SIZE = 41, IFLA_PROP_LIST = 52, IFLA_ALT_IFNAME = 53,
        IFLA_PERM_ADDRESS = 54, IFLA_INFO_KIND = 1, IFLA_QDISC = 6, IFLA_AF_SPEC = 26, IFLA_MIN_MTU = 50, IFLA_MAX_MTU = 51,
        AF_INET6 = 10, IFLA_INET6_ADDR_GEN_MODE = 8;

    // The words most links' IFLA_INFO_KIND and IFLA_QDISC are: one instance each, not one per link.
    private static readonly string[] Kinds = ["veth", "bridge", "bond", "vlan", "macvlan", "ipvlan", "vxlan", "dummy", "tun", "wireguard", "vrf"];
    private static readonly string[] Qdiscs = ["noqueue", "fq_codel", "mq", "pfifo_fast", "fq", "noop", "cake"];

    public int Index { get; init; }
    /// <summary>ARPHRD_* (1 = ether, 772 = loopback).</summary>
    public ushort Type { get; init; }
    public LinkFlags Flags { get; init; }
    public string Name { get; init; } = "";
    public uint Mtu { get; init; }
    public uint TxQueueLength { get; init; }
    public byte[]? HardwareAddress { get; init; }
    public byte[]? Broadcast { get; init; }
    public byte[]? PermanentAddress { get; init; }
    public OperState OperState { get; init; }
    public int Master { get; init; }
    public int ParentIndex { get; init; }
    /// <summary>IFLA_INFO_KIND: "veth", "bridge", "vlan", ...; null for physical devices.</summary>
    public string? Kind { get; init; }
    public ImmutableArray<string> AlternativeNames { get; init; } = [];
    public string? Alias { get; init; }
    public LinkStatistics? Statistics { get; init; }
    public uint Promiscuity { get; init; }
    public uint TxQueues { get; init; }
    public uint RxQueues { get; init; }
    public uint GsoMaxSize { get; init; }
    public uint GsoMaxSegments { get; init; }
    public uint Group { get; init; }
    public bool? Carrier { get; init; }
    /// <summary>IFLA_MIN_MTU and IFLA_MAX_MTU: the MTUs the driver accepts (0: not said).</summary>
    public uint MinMtu { get; init; }
    public uint MaxMtu { get; init; }
    /// <summary>IFLA_QDISC: the root queueing discipline ("noqueue", "fq_codel", ...).</summary>
    public string? Qdisc { get; init; }
    /// <summary>IFLA_INET6_ADDR_GEN_MODE: how the IPv6 link-local address is made (0 eui64, 1 none, 2 stable-privacy, 3 random).</summary>
    public byte? IPv6AddressGenerationMode { get; init; }

    public static LinkMessage Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderSize)
            throw NetlinkParseException.TooShort("ifinfomsg", HeaderSize, payload.Length);
        // Collected in locals and built once: a `with` per attribute would copy the whole record each time.
        byte[]? hardwareAddress = null, broadcast = null, permanentAddress = null;
        string name = "";
        string? kind = null, alias = null, qdisc = null;
        byte? addrGenMode = null;
        uint minMtu = 0, maxMtu = 0;
        uint mtu = 0, txQueueLength = 0, group = 0, promiscuity = 0, txQueues = 0, rxQueues = 0, gsoMaxSize = 0, gsoMaxSegments = 0;
        int master = 0, parent = 0;
        var operState = OperState.Unknown;
        LinkStatistics? statistics = null;
        bool? carrier = null;
        ImmutableArray<string>.Builder? altNames = null;

        var attributes = new NetlinkAttributeReader(payload[HeaderSize..]);
        while (attributes.Next())
        {
            switch (attributes.Type)
            {
                case IFLA_ADDRESS: hardwareAddress = attributes.Bytes(); break;
                case IFLA_BROADCAST: broadcast = attributes.Bytes(); break;
                case IFLA_PERM_ADDRESS: permanentAddress = attributes.Bytes(); break;
                case IFLA_IFNAME: name = attributes.String(); break;
                case IFLA_MTU: mtu = attributes.UInt32(); break;
                case IFLA_LINK: parent = attributes.Int32(); break;
                case IFLA_MASTER: master = attributes.Int32(); break;
                case IFLA_TXQLEN: txQueueLength = attributes.UInt32(); break;
                case IFLA_OPERSTATE: operState = (OperState)attributes.Byte(); break;
                case IFLA_IFALIAS: alias = attributes.String(); break;
                case IFLA_STATS64: statistics = LinkStatistics.Decode(attributes.Payload); break;
                case IFLA_GROUP: group = attributes.UInt32(); break;
                case IFLA_PROMISCUITY: promiscuity = attributes.UInt32(); break;
                case IFLA_NUM_TX_QUEUES: txQueues = attributes.UInt32(); break;
                case IFLA_NUM_RX_QUEUES: rxQueues = attributes.UInt32(); break;
                case IFLA_CARRIER: carrier = attributes.Byte() != 0; break;
                case IFLA_GSO_MAX_SEGS: gsoMaxSegments = attributes.UInt32(); break;
                case IFLA_GSO_MAX_SIZE: gsoMaxSize = attributes.UInt32(); break;
                case IFLA_MIN_MTU: minMtu = attributes.UInt32(); break;
                case IFLA_MAX_MTU: maxMtu = attributes.UInt32(); break;
                case IFLA_QDISC: qdisc = attributes.String(Qdiscs); break;
                case IFLA_AF_SPEC:
                    var families = attributes.Nested();
                    while (families.Next())
                    {
                        if (families.Type != AF_INET6)
                            continue;
                        var inet6 = families.Nested();
                        while (inet6.Next())
                            if (inet6.Type == IFLA_INET6_ADDR_GEN_MODE)
                                addrGenMode = inet6.Byte();
                    }
                    break;
                case IFLA_LINKINFO:
                    var info = attributes.Nested();
                    while (info.Next())
                        if (info.Type == IFLA_INFO_KIND)
                            kind = info.String(Kinds);
                    break;
                case IFLA_PROP_LIST:
                    var properties = attributes.Nested();
                    while (properties.Next())
                        if (properties.Type == IFLA_ALT_IFNAME)
                            (altNames ??= ImmutableArray.CreateBuilder<string>()).Add(properties.String());
                    break;
            }
        }
        return new LinkMessage
        {
            Type = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]),
            Index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]),
            Flags = (LinkFlags)BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]),
            Name = name, Mtu = mtu, TxQueueLength = txQueueLength, HardwareAddress = hardwareAddress, Broadcast = broadcast,
            PermanentAddress = permanentAddress, OperState = operState, Master = master, ParentIndex = parent, Kind = kind,
            AlternativeNames = altNames?.ToImmutable() ?? [], Alias = alias, Statistics = statistics, Promiscuity = promiscuity,
            TxQueues = txQueues, RxQueues = rxQueues, GsoMaxSize = gsoMaxSize, GsoMaxSegments = gsoMaxSegments, Group = group,
            Carrier = carrier, MinMtu = minMtu, MaxMtu = maxMtu, Qdisc = qdisc, IPv6AddressGenerationMode = addrGenMode,
        };
    }

    /// <summary>RTM_GETLINK for every link (dump) or, with an index, for one.</summary>
    public static NetlinkRequestWriter Get(uint sequence, int index = 0)
    {
        var request = new NetlinkRequestWriter(NetlinkMessageType.GetLink,
            NetlinkFlags.Request | (index == 0 ? NetlinkFlags.Dump : NetlinkFlags.None), sequence);
        var header = request.Reserve(HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], index);
        return request;
    }
}

/// <summary>struct rtnl_link_stats64, the fields the Go network-event-broker's JSON shows.</summary>
public sealed record LinkStatistics(
    ulong RxPackets, ulong TxPackets, ulong RxBytes, ulong TxBytes, ulong RxErrors, ulong TxErrors,
    ulong RxDropped, ulong TxDropped, ulong Multicast, ulong Collisions, ulong RxLengthErrors, ulong RxOverErrors,
    ulong RxCrcErrors, ulong RxFrameErrors, ulong RxFifoErrors, ulong RxMissedErrors, ulong TxAbortedErrors,
    ulong TxCarrierErrors, ulong TxFifoErrors, ulong TxHeartbeatErrors, ulong TxWindowErrors, ulong RxCompressed,
    ulong TxCompressed)
{
    private const int Fields = 23;

    public static LinkStatistics Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < Fields * 8)
            throw NetlinkParseException.TooShort("rtnl_link_stats64", Fields * 8, payload.Length);
        Span<ulong> f = stackalloc ulong[Fields];
        for (var i = 0; i < Fields; i++)
            f[i] = BinaryPrimitives.ReadUInt64LittleEndian(payload[(i * 8)..]);
        return new LinkStatistics(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12],
            f[13], f[14], f[15], f[16], f[17], f[18], f[19], f[20], f[21], f[22]);
    }
}
