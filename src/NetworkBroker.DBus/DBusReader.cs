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

    /// <summary>A variant: its signature, then its value decoded by <see cref="ReadValue"/>.</summary>
    public object ReadVariant()
    {
        var signature = ReadSignature();
        if (DBusSignature.CountCompleteTypes(signature) != 1)
            throw new DBusFormatException($"variant signature \"{signature}\" is not one complete type");
        Enter();
        var value = ReadValue(signature);
        _depth--;
        return value;
    }

    /// <summary>
    /// Reads one complete type into a plain .NET value: integers, bool, double and strings as
    /// themselves, arrays as object[] (byte arrays as byte[]), dictionaries as
    /// Dictionary&lt;object, object&gt;, structs as object[], variants as their value.
    /// </summary>
    public object ReadValue(ReadOnlySpan<char> signature)
    {
        if (signature.IsEmpty)
            throw new DBusFormatException("no type to read");
        switch (signature[0])
        {
            case 'y': return ReadByte();
            case 'b': return ReadBoolean();
            case 'n': return ReadInt16();
            case 'q': return ReadUInt16();
            case 'i': return ReadInt32();
            case 'u': return ReadUInt32();
            case 'x': return ReadInt64();
            case 't': return ReadUInt64();
            case 'd': return ReadDouble();
            case 'h': return ReadUInt32();
            case 's': return ReadString();
            case 'o': return ReadObjectPath();
            case 'g': return ReadSignature();
            case 'v': return ReadVariant();
            case 'a':
            {
                var element = signature[1..DBusSignature.CompleteTypeLength(signature)];
                Enter();
                var end = ReadArrayStart(element[0]);
                object result;
                if (element[0] == 'y')
                {
                    result = Take(end - _position, 1).ToArray();
                }
                else if (element[0] == '{')
                {
                    var entries = new Dictionary<object, object>();
                    var key = element[1..2];
                    var value = element[2..^1];
                    while (HasNext(end))
                    {
                        AlignStruct();
                        entries[ReadValue(key)] = ReadValue(value);
                    }
                    result = entries;
                }
                else
                {
                    var items = new List<object>();
                    while (HasNext(end))
                        items.Add(ReadValue(element));
                    result = items.ToArray();
                }
                ExpectArrayEnd(end);
                _depth--;
                return result;
            }
            case '(':
            {
                Enter();
                AlignStruct();
                var fields = new List<object>();
                var inner = signature[1..(DBusSignature.CompleteTypeLength(signature) - 1)];
                while (!inner.IsEmpty)
                {
                    var length = DBusSignature.CompleteTypeLength(inner);
                    fields.Add(ReadValue(inner[..length]));
                    inner = inner[length..];
                }
                _depth--;
                return fields.ToArray();
            }
            default:
                throw new DBusFormatException($"unsupported type '{signature[0]}'");
        }
    }

    private void Enter()
    {
        if (++_depth > MaxDepth)
            throw new DBusFormatException($"nesting deeper than {MaxDepth}");
    }
}
