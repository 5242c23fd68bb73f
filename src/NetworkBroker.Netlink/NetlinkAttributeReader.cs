using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace NetworkBroker.Netlink;

/// <summary>
/// Iterates the attributes (struct nlattr / rtattr: u16 length, u16 type, payload, padding to 4) of a
/// message: <c>while (reader.Next()) switch (reader.Type) { ... }</c>. No allocation per attribute;
/// every bound is checked here and a malformed attribute throws <see cref="NetlinkParseException"/>.
/// </summary>
public ref struct NetlinkAttributeReader(ReadOnlySpan<byte> data)
{
    private const ushort TypeMask = 0x3FFF; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
    private ReadOnlySpan<byte> _rest = data;

    public ushort Type { get; private set; }

    public ReadOnlySpan<byte> Payload { get; private set; }

    public bool Next()
    {
        if (_rest.Length < 4)
        {
            // Trailing bytes shorter than an attribute header are padding.
            _rest = [];
            return false;
        }
        var length = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        if (length < 4 || length > _rest.Length)
            throw new NetlinkParseException($"attribute length {length} outside 4..{_rest.Length}");
        Type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]) & TypeMask);
        Payload = _rest[4..length];
        var next = NetlinkHeader.Align(length);
        _rest = next >= _rest.Length ? [] : _rest[next..];
        return true;
    }

    public readonly byte Byte() => Sized(1)[0];

    public readonly ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Sized(2));

    public readonly uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Sized(4));

    public readonly int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Sized(4));

    public readonly ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Sized(8));

    /// <summary>
    /// A NUL-terminated string (the terminator is optional, as the kernel is not strict about it either), decoded
    /// without loss: bytes that are not UTF-8 survive (<see cref="KernelText"/>).
    /// </summary>
    public readonly string String()
    {
        var end = Payload.IndexOf((byte)0);
        return KernelText.Decode(end < 0 ? Payload : Payload[..end]);
    }

    /// <summary>
    /// <see cref="String()"/>, as the instance from <paramref name="known"/> when it is one of them (ASCII words): for
    /// the few words every link repeats (its kind, its queueing discipline), kept as long as the link is.
    /// </summary>
    public readonly string String(IReadOnlyList<string> known)
    {
        var end = Payload.IndexOf((byte)0);
        var text = end < 0 ? Payload : Payload[..end];
        foreach (var word in known)
            if (word.Length == text.Length && System.Text.Ascii.Equals(text, word))
                return word;
        return KernelText.Decode(text);
    }

    public readonly IPAddress Address() => Payload.Length is 4 or 16
        ? new IPAddress(Payload)
        : throw new NetlinkParseException($"attribute {Type}: an address has 4 or 16 bytes, not {Payload.Length}");

    public readonly byte[] Bytes() => Payload.ToArray();

    public readonly NetlinkAttributeReader Nested() => new(Payload);

    private readonly ReadOnlySpan<byte> Sized(int size) => Payload.Length >= size
        ? Payload[..size]
        : throw new NetlinkParseException($"attribute {Type}: needs {size} bytes, has {Payload.Length}");
}
