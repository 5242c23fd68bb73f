using System.Buffers.Binary;

namespace NetworkBroker.Netlink;

/// <summary>struct nlmsghdr: every netlink message starts with it. Host byte order (little-endian on every target we build for).</summary>
public readonly record struct NetlinkHeader(uint Length, NetlinkMessageType Type, NetlinkFlags Flags, uint Sequence, uint PortId)
{
    public const int Size = 16;

    public static NetlinkHeader Read(ReadOnlySpan<byte> data)
    {
        if (data.Length < Size)
            throw NetlinkParseException.TooShort("netlink header", Size, data.Length);
        return new NetlinkHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(data),
            (NetlinkMessageType)BinaryPrimitives.ReadUInt16LittleEndian(data[4..]),
            (NetlinkFlags)BinaryPrimitives.ReadUInt16LittleEndian(data[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[12..]));
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)Type);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], PortId);
    }

    /// <summary>Netlink aligns messages and attributes to 4 bytes (NLMSG_ALIGN, NLA_ALIGN).</summary>
    public static int Align(int length) => (length + 3) & ~3;
}

/// <summary>One message of a datagram: its header and its payload (what follows the header).</summary>
public readonly ref struct NetlinkMessage(NetlinkHeader header, ReadOnlySpan<byte> payload)
{
    public NetlinkHeader Header { get; } = header;
    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>Iterates the messages of one received datagram: <c>while (reader.Next(out var m)) { ... }</c>.</summary>
public ref struct NetlinkMessageReader(ReadOnlySpan<byte> datagram)
{
    private ReadOnlySpan<byte> _rest = datagram;

    public bool Next(out NetlinkMessage message)
    {
        if (_rest.IsEmpty)
        {
            message = default;
            return false;
        }
        var header = NetlinkHeader.Read(_rest);
        if (header.Length < NetlinkHeader.Size || header.Length > _rest.Length)
            throw new NetlinkParseException($"netlink message length {header.Length} outside 16..{_rest.Length}");
        message = new NetlinkMessage(header, _rest[NetlinkHeader.Size..(int)header.Length]);
        var next = NetlinkHeader.Align((int)header.Length);
        _rest = next >= _rest.Length ? [] : _rest[next..];
        return true;
    }
}
