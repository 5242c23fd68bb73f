using System.Buffers.Binary;
using System.Text;

namespace NetworkBroker.DBus;

/// <summary>
/// Reads D-Bus marshalled values from a message in either byte order. Alignment is relative to the
/// start of the message and handled in one place (<see cref="Align"/>); every bound is checked and a
/// violation throws <see cref="DBusFormatException"/>, so a malformed message can never read out of
/// range, loop, or allocate more than its own size.
/// </summary>
public ref struct DBusReader
{
    /// <summary>The spec's limits: 64 MiB arrays, 32 levels each of array and struct nesting.</summary>
    public const int MaxArrayLength = 64 * 1024 * 1024;
    public const int MaxDepth = 64;

    private readonly ReadOnlySpan<byte> _message;
    private readonly bool _bigEndian;
    private int _position;
    private int _depth;

    /// <param name="message">The whole message: alignment counts from its first byte.</param>
    public DBusReader(ReadOnlySpan<byte> message, bool bigEndian, int position = 0)
    {
        _message = message;
        _bigEndian = bigEndian;
        _position = position;
    }

    public readonly int Position => _position;

    public readonly bool AtEnd => _position >= _message.Length;

    public void Align(int alignment)
    {
        var aligned = (_position + alignment - 1) & ~(alignment - 1);
        if (aligned > _message.Length)
            throw new DBusFormatException($"padding to {alignment} runs past the end ({_message.Length} bytes)");
        foreach (var pad in _message[_position..aligned])
            if (pad != 0)
                throw new DBusFormatException($"non-zero padding at {_position}");
        _position = aligned;
    }

    private ReadOnlySpan<byte> Take(int count, int alignment)
    {
        Align(alignment);
        if (count < 0 || _position + count > _message.Length)
            throw new DBusFormatException($"{count} bytes at {_position} run past the end ({_message.Length} bytes)");
        var span = _message.Slice(_position, count);
        _position += count;
        return span;
    }

    public byte ReadByte() => Take(1, 1)[0];

    public bool ReadBoolean() => ReadUInt32() switch
    {
        0 => false,
        1 => true,
        var v => throw new DBusFormatException($"boolean value {v}"),
    };

    public short ReadInt16() => (short)ReadUInt16();

    public ushort ReadUInt16()
    {
        var span = Take(2, 2);
        return _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span) : BinaryPrimitives.ReadUInt16LittleEndian(span);
    }

    public int ReadInt32() => (int)ReadUInt32();

    public uint ReadUInt32()
    {
        var span = Take(4, 4);
        return _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span);
    }

    public long ReadInt64() => (long)ReadUInt64();

    public ulong ReadUInt64()
    {
        var span = Take(8, 8);
        return _bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(span) : BinaryPrimitives.ReadUInt64LittleEndian(span);
    }

    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadUInt64());

    public string ReadString()
    {
        var length = ReadUInt32();
        if (length > int.MaxValue - 1)
            throw new DBusFormatException($"string length {length}");
        var bytes = Take((int)length + 1, 1);
        if (bytes[^1] != 0)
            throw new DBusFormatException("string without its terminating NUL");
        var text = bytes[..^1];
        if (text.Contains((byte)0))
            throw new DBusFormatException("string with an embedded NUL");
        return Encoding.UTF8.GetString(text);
    }

    public string ReadObjectPath()
    {
        var path = ReadString();
        if (!DBusObjectPath.IsValid(path))
            throw new DBusFormatException($"invalid object path \"{path}\"");
        return path;
    }

    public string ReadSignature()
    {
        var length = ReadByte();
        var bytes = Take(length + 1, 1);
        if (bytes[^1] != 0)
            throw new DBusFormatException("signature without its terminating NUL");
        var signature = Encoding.ASCII.GetString(bytes[..^1]);
        DBusSignature.Validate(signature);
        return signature;
    }

    /// <summary>Starts an array: returns the offset where it ends. Use <see cref="HasNext"/> to iterate.</summary>
    public int ReadArrayStart(char elementType)
    {
        var length = ReadUInt32();
        if (length > MaxArrayLength)
            throw new DBusFormatException($"array length {length} over the 64 MiB limit");
        // The padding to the first element is not counted in the length.
        Align(DBusSignature.Alignment(elementType));
        var end = _position + (int)length;
        if (end > _message.Length)
            throw new DBusFormatException($"array of {length} bytes runs past the end");
        return end;
    }

    public readonly bool HasNext(int arrayEnd) => _position < arrayEnd;

    /// <summary>Checks that an array's elements ended exactly where its length said.</summary>
    public readonly void ExpectArrayEnd(int arrayEnd)
    {
        if (_position != arrayEnd)
            throw new DBusFormatException($"array elements end at {_position}, its length says {arrayEnd}");
    }

    public void AlignStruct() => Align(8);

    /// <summary>A variant's signature: one complete type, whose value follows (read it, or <see cref="SkipValue"/>).</summary>
    public string ReadVariantSignature()
    {
        var signature = ReadSignature();
        if (DBusSignature.CountCompleteTypes(signature) != 1)
            throw new DBusFormatException($"variant signature \"{signature}\" is not one complete type");
        return signature;
    }

    /// <summary>A variant holding a string ("s"): that string; holding anything else: null, the value skipped.</summary>
    public string? ReadStringVariant() => ReadVariantText().Text;

    /// <summary>A variant: its signature, and its value when that is a string ("s"; anything else is skipped).</summary>
    public DBusVariantText ReadVariantText()
    {
        var signature = ReadVariantSignature();
        if (signature == "s")
            return new(signature, ReadString());
        Enter();
        SkipValue(signature);
        _depth--;
        return new(signature, null);
    }

    /// <summary>
    /// An "a{sv}" (a property set, as org.freedesktop.DBus.Properties sends it): each name with its variant's
    /// signature, and its value when that is a string. A name given twice keeps its last value.
    /// </summary>
    public Dictionary<string, DBusVariantText> ReadStringVariantDictionary()
    {
        var properties = new Dictionary<string, DBusVariantText>(StringComparer.Ordinal);
        Enter();
        var end = ReadArrayStart('{');
        while (HasNext(end))
        {
            AlignStruct();
            var name = ReadString();
            properties[name] = ReadVariantText();
        }
        ExpectArrayEnd(end);
        _depth--;
        return properties;
    }

    /// <summary>"ay": the bytes, copied.</summary>
    public byte[] ReadByteArray()
    {
        var end = ReadArrayStart('y');
        return Take(end - _position, 1).ToArray();
    }

    /// <summary>
    /// Reads past one complete type without keeping it (a header field we do not use, a property of no interest),
    /// checking it exactly as a read would: bounds, padding, lengths, nesting, and the signature of every variant.
    /// </summary>
    public void SkipValue(ReadOnlySpan<char> signature)
    {
        if (signature.IsEmpty)
            throw new DBusFormatException("no type to read");
        switch (signature[0])
        {
            case 'y': ReadByte(); break;
            case 'b': ReadBoolean(); break;
            case 'n' or 'q': ReadUInt16(); break;
            case 'i' or 'u' or 'h': ReadUInt32(); break;
            case 'x' or 't' or 'd': ReadUInt64(); break;
            case 's': ReadString(); break;
            case 'o': ReadObjectPath(); break;
            case 'g': ReadSignature(); break;
            case 'v':
            {
                var inner = ReadVariantSignature();
                Enter();
                SkipValue(inner);
                _depth--;
                break;
            }
            case 'a':
            {
                var element = signature[1..DBusSignature.CompleteTypeLength(signature)];
                Enter();
                var end = ReadArrayStart(element[0]);
                if (element[0] == 'y')
                {
                    Take(end - _position, 1);
                }
                else if (element[0] == '{')
                {
                    var key = element[1..2];
                    var value = element[2..^1];
                    while (HasNext(end))
                    {
                        AlignStruct();
                        SkipValue(key);
                        SkipValue(value);
                    }
                }
                else
                {
                    while (HasNext(end))
                        SkipValue(element);
                }
                ExpectArrayEnd(end);
                _depth--;
                break;
            }
            case '(':
            {
                Enter();
                AlignStruct();
                var inner = signature[1..(DBusSignature.CompleteTypeLength(signature) - 1)];
                while (!inner.IsEmpty)
                {
                    var length = DBusSignature.CompleteTypeLength(inner);
                    SkipValue(inner[..length]);
                    inner = inner[length..];
                }
                _depth--;
                break;
            }
            default:
                throw new DBusFormatException($"unsupported type '{signature[0]}'");
        }
    }

    /// <summary>
    /// One more level of containers (arrays, structs, variants). The spec's signatures cap arrays and structs at
    /// 32 each, but variants nest without a signature saying so: this bound keeps a hostile message off the stack.
    /// </summary>
    private void Enter()
    {
        if (++_depth > MaxDepth)
            throw new DBusFormatException($"nesting deeper than {MaxDepth}");
    }
}
