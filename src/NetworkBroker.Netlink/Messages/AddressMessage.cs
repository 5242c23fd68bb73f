using System.Buffers.Binary;
using System.Net;

namespace NetworkBroker.Netlink.Messages;

/// <summary>RTM_NEWADDR / RTM_DELADDR: struct ifaddrmsg and its IFA_* attributes.</summary>
public sealed record AddressMessage
{
    public const int HeaderSize = 8;
    /// <summary>IFA_F_PERMANENT: a static address; its lifetimes are "forever".</summary>
    public const uint FlagPermanent = 0x80;
    /// <summary>IFA_F_DEPRECATED: the preferred lifetime is over; not chosen as a source any more.</summary>
    public const uint FlagDeprecated = 0x20;

    private const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_LABEL = 3, IFA_BROADCAST = 4, IFA_CACHEINFO = 6, IFA_FLAGS = 8;

    public byte Family { get; init; }
    public byte PrefixLength { get; init; }
    /// <summary>IFA_F_*, from IFA_FLAGS when present (it carries the bits above 8).</summary>
    public uint Flags { get; init; }
    public byte Scope { get; init; }
    public int Index { get; init; }
    /// <summary>The address of the interface: IFA_LOCAL where given (IPv4), else IFA_ADDRESS.</summary>
    public IPAddress Address { get; init; } = IPAddress.None;
    /// <summary>The other end of a point-to-point link (IFA_ADDRESS differing from IFA_LOCAL).</summary>
    public IPAddress? Peer { get; init; }
    public IPAddress? Broadcast { get; init; }
    public string? Label { get; init; }
    public uint PreferredLifetime { get; init; } = uint.MaxValue;
    public uint ValidLifetime { get; init; } = uint.MaxValue;

    public static AddressMessage Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderSize)
            throw NetlinkParseException.TooShort("ifaddrmsg", HeaderSize, payload.Length);
        IPAddress? address = null, local = null, broadcast = null;
        string? label = null;
        uint flags = payload[2], preferred = uint.MaxValue, valid = uint.MaxValue;
        var attributes = new NetlinkAttributeReader(payload[HeaderSize..]);
        while (attributes.Next())
        {
            switch (attributes.Type)
            {
                case IFA_ADDRESS: address = attributes.Address(); break;
                case IFA_LOCAL: local = attributes.Address(); break;
                case IFA_LABEL: label = attributes.String(); break;
                case IFA_BROADCAST: broadcast = attributes.Address(); break;
                case IFA_FLAGS: flags = attributes.UInt32(); break;
                case IFA_CACHEINFO:
                    var info = attributes.Payload;
                    if (info.Length < 8)
                        throw NetlinkParseException.TooShort("ifa_cacheinfo", 8, info.Length);
                    preferred = BinaryPrimitives.ReadUInt32LittleEndian(info);
                    valid = BinaryPrimitives.ReadUInt32LittleEndian(info[4..]);
                    break;
            }
        }
        var own = local ?? address ?? throw new NetlinkParseException("address message without IFA_ADDRESS or IFA_LOCAL");
        return new AddressMessage
        {
            Family = payload[0],
            PrefixLength = payload[1],
            Flags = flags,
            Scope = payload[3],
            Index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]),
            Address = own,
            Peer = local is not null && address is not null && !address.Equals(local) ? address : null,
            Broadcast = broadcast,
            Label = label,
            PreferredLifetime = preferred,
            ValidLifetime = valid,
        };
    }

    public static NetlinkRequestWriter Get(uint sequence, byte family = AddressFamily.Unspecified) =>
        NetlinkRequestWriter.Dump(NetlinkMessageType.GetAddress, HeaderSize, family, sequence);

    /// <summary>RTM_NEWADDR / RTM_DELADDR for this address (used by tests and tools; the broker never adds addresses).</summary>
    public NetlinkRequestWriter Encode(NetlinkMessageType type, NetlinkFlags flags, uint sequence)
    {
        var request = NetlinkRequestWriter.Change(type, flags, sequence);
        var header = request.Reserve(HeaderSize);
        header[0] = Family;
        header[1] = PrefixLength;
        header[2] = (byte)Flags;
        header[3] = Scope;
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], Index);
        request.Attribute(IFA_LOCAL, Address);
        request.Attribute(IFA_ADDRESS, Peer ?? Address);
        if (Broadcast is not null)
            request.Attribute(IFA_BROADCAST, Broadcast);
        if (Label is not null)
            request.Attribute(IFA_LABEL, Label);
        return request;
    }
}
