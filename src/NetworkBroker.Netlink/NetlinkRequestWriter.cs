using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace NetworkBroker.Netlink;

/// <summary>
/// Builds one request: the header (its length filled in by <see cref="Finish"/>), the family header,
/// then attributes, each padded to 4 bytes.
/// </summary>
public sealed class NetlinkRequestWriter
{
    private byte[] _buffer = new byte[256];
    private int _length;

    public NetlinkRequestWriter(NetlinkMessageType type, NetlinkFlags flags, uint sequence)
    {
        Type = type;
        Flags = flags;
        Sequence = sequence;
        _length = NetlinkHeader.Size;
    }

    /// <summary>A dump of a whole table (RTM_GET* with NLM_F_DUMP), optionally of one address family.</summary>
    public static NetlinkRequestWriter Dump(NetlinkMessageType type, int familyHeaderSize, byte family, uint sequence)
    {
        var request = new NetlinkRequestWriter(type, NetlinkFlags.Request | NetlinkFlags.Dump, sequence);
        request.Reserve(familyHeaderSize)[0] = family;
        return request;
    }

    /// <summary>A change (RTM_NEW* / RTM_DEL*) that the kernel acknowledges, so that its error comes back.</summary>
    public static NetlinkRequestWriter Change(NetlinkMessageType type, NetlinkFlags flags, uint sequence) =>
        new(type, NetlinkFlags.Request | NetlinkFlags.Ack | flags, sequence);

    public NetlinkMessageType Type { get; }
    public NetlinkFlags Flags { get; }
    public uint Sequence { get; }

    /// <summary>Appends zeroed bytes (a family header) and returns them to fill in.</summary>
    public Span<byte> Reserve(int size)
    {
        Ensure(NetlinkHeader.Align(size));
        var span = _buffer.AsSpan(_length, size);
        span.Clear();
        _length += NetlinkHeader.Align(size);
        return span;
    }

    public void Attribute(ushort type, ReadOnlySpan<byte> payload)
    {
        var span = Reserve(4 + payload.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)(4 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], type);
        payload.CopyTo(span[4..]);
    }

    public void Attribute(ushort type, byte value) => Attribute(type, [value]);

    public void Attribute(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        Attribute(type, bytes);
    }

    public void Attribute(ushort type, IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        Attribute(type, bytes[..written]);
    }

    public void Attribute(ushort type, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value + "\0");
        Attribute(type, bytes);
    }

    /// <summary>The finished message; the writer must not be used afterwards.</summary>
    public ReadOnlyMemory<byte> Finish()
    {
        new NetlinkHeader((uint)_length, Type, Flags, Sequence, 0).Write(_buffer);
        return _buffer.AsMemory(0, _length);
    }

    private void Ensure(int more)
    {
        if (_length + more > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
    }
}
