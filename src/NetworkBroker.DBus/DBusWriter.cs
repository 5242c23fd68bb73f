using System.Buffers.Binary;
using System.Text;

namespace NetworkBroker.DBus;

/// <summary>
/// Writes D-Bus marshalled values (little-endian). Offsets count from the start of the message, so a
/// body writer starts at the body's offset (always a multiple of 8, which keeps alignment the same).
/// </summary>
public sealed class DBusWriter
{
    private byte[] _buffer = new byte[256];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Length);

    public void Align(int alignment)
    {
        var aligned = (Length + alignment - 1) & ~(alignment - 1);
        Ensure(aligned - Length);
        _buffer.AsSpan(Length, aligned - Length).Clear();
        Length = aligned;
    }

    private Span<byte> Take(int count, int alignment)
    {
        Align(alignment);
        Ensure(count);
        var span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }

    public void WriteByte(byte value) => Take(1, 1)[0] = value;

    public void WriteBoolean(bool value) => WriteUInt32(value ? 1u : 0u);

    public void WriteInt16(short value) => BinaryPrimitives.WriteInt16LittleEndian(Take(2, 2), value);

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2, 2), value);

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4, 4), value);

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4, 4), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8, 8), value);

    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8, 8), value);

    public void WriteDouble(double value) => WriteUInt64(BitConverter.DoubleToUInt64Bits(value));

    public void WriteString(string value)
    {
        if (value.Contains('\0'))
            throw new ArgumentException("a D-Bus string cannot hold NUL", nameof(value));
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteUInt32((uint)bytes.Length);
        var span = Take(bytes.Length + 1, 1);
        bytes.CopyTo(span);
        span[^1] = 0;
    }

    public void WriteObjectPath(string path)
    {
        if (!DBusObjectPath.IsValid(path))
            throw new ArgumentException($"invalid object path \"{path}\"", nameof(path));
        WriteString(path);
    }

    public void WriteSignature(string signature)
    {
        DBusSignature.Validate(signature);
        WriteByte((byte)signature.Length);
        var span = Take(signature.Length + 1, 1);
        Encoding.ASCII.GetBytes(signature, span);
        span[^1] = 0;
    }

    /// <summary>Where an array's length is and where its first element starts.</summary>
    public readonly record struct ArrayMark(int LengthAt, int ElementsStart);

    /// <summary>Starts an array; pass the mark to <see cref="EndArray"/>. The padding before the first element is not part of the length.</summary>
    public ArrayMark BeginArray(char elementType)
    {
        Align(4);
        var lengthAt = Length;
        Take(4, 4);
        Align(DBusSignature.Alignment(elementType));
        return new ArrayMark(lengthAt, Length);
    }

    public void EndArray(ArrayMark mark) =>
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(mark.LengthAt), (uint)(Length - mark.ElementsStart));

    public void AlignStruct() => Align(8);

    /// <summary>
    /// Writes one complete type from a plain .NET value, the inverse of <see cref="DBusReader.ReadValue"/>:
    /// arrays from any IEnumerable (byte[] for "ay"), dictionaries from IDictionary, structs from object[],
    /// variants from <see cref="DBusVariant"/>.
    /// </summary>
    public void WriteValue(ReadOnlySpan<char> signature, object value)
    {
        switch (signature[0])
        {
            case 'y': WriteByte(Convert.ToByte(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 'b': WriteBoolean((bool)value); break;
            case 'n': WriteInt16(Convert.ToInt16(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 'q': WriteUInt16(Convert.ToUInt16(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 'i': WriteInt32(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 'u' or 'h': WriteUInt32(Convert.ToUInt32(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 'x': WriteInt64(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 't': WriteUInt64(Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 'd': WriteDouble(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            case 's': WriteString((string)value); break;
            case 'o': WriteObjectPath((string)value); break;
            case 'g': WriteSignature((string)value); break;
            case 'v':
                var variant = (DBusVariant)value;
                WriteSignature(variant.Signature);
                WriteValue(variant.Signature, variant.Value);
                break;
            case 'a':
            {
                var element = signature[1..DBusSignature.CompleteTypeLength(signature)];
                var mark = BeginArray(element[0]);
                if (element[0] == 'y')
                {
                    var bytes = (byte[])value;
                    bytes.CopyTo(Take(bytes.Length, 1));
                }
                else if (element[0] == '{')
                {
                    var key = element[1..2];
                    var itemSignature = element[2..^1];
                    foreach (System.Collections.DictionaryEntry entry in (System.Collections.IDictionary)value)
                    {
                        AlignStruct();
                        WriteValue(key, entry.Key);
                        WriteValue(itemSignature, entry.Value!);
                    }
                }
                else
                {
                    foreach (var item in (System.Collections.IEnumerable)value)
                        WriteValue(element, item!);
                }
                EndArray(mark);
                break;
            }
            case '(':
            {
                AlignStruct();
                var fields = (object[])value;
                var inner = signature[1..(DBusSignature.CompleteTypeLength(signature) - 1)];
                var i = 0;
                while (!inner.IsEmpty)
                {
                    var length = DBusSignature.CompleteTypeLength(inner);
                    WriteValue(inner[..length], fields[i++]);
                    inner = inner[length..];
                }
                break;
            }
            default:
                throw new ArgumentException($"unsupported type '{signature[0]}'", nameof(signature));
        }
    }

    private void Ensure(int more)
    {
        if (Length + more > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + more));
    }
}
