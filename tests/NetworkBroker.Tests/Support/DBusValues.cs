using System.Collections;
using System.Globalization;
using NetworkBroker.DBus;

namespace NetworkBroker.Tests.Support;

/// <summary>A value to write as a variant, with the signature it is to carry.</summary>
public sealed record DBusVariant(string Signature, object Value);

/// <summary>
/// Any complete type to and from plain .NET values, for tests that build or inspect arbitrary messages. The daemon
/// reads and writes only the types it expects, with the typed calls of <see cref="DBusReader"/> and <see cref="DBusWriter"/>.
/// </summary>
public static class DBusValues
{
    /// <summary>
    /// Reads one complete type: integers, bool, double and strings as themselves, arrays as object[] (byte arrays as
    /// byte[]), dictionaries as Dictionary&lt;object, object&gt;, structs as object[], variants as their value.
    /// </summary>
    public static object ReadValue(this ref DBusReader reader, ReadOnlySpan<char> signature) => Read(ref reader, signature, 0);

    private static object Read(ref DBusReader reader, ReadOnlySpan<char> signature, int depth)
    {
        if (depth > DBusReader.MaxDepth)
            throw new DBusFormatException($"nesting deeper than {DBusReader.MaxDepth}");
        if (signature.IsEmpty)
            throw new DBusFormatException("no type to read");
        switch (signature[0])
        {
            case 'y': return reader.ReadByte();
            case 'b': return reader.ReadBoolean();
            case 'n': return reader.ReadInt16();
            case 'q': return reader.ReadUInt16();
            case 'i': return reader.ReadInt32();
            case 'u' or 'h': return reader.ReadUInt32();
            case 'x': return reader.ReadInt64();
            case 't': return reader.ReadUInt64();
            case 'd': return reader.ReadDouble();
            case 's': return reader.ReadString();
            case 'o': return reader.ReadObjectPath();
            case 'g': return reader.ReadSignature();
            case 'v': return Read(ref reader, reader.ReadVariantSignature(), depth + 1);
            case 'a':
            {
                var element = signature[1..DBusSignature.CompleteTypeLength(signature)];
                if (element[0] == 'y')
                    return reader.ReadByteArray();
                var end = reader.ReadArrayStart(element[0]);
                object result;
                if (element[0] == '{')
                {
                    var entries = new Dictionary<object, object>();
                    while (reader.HasNext(end))
                    {
                        reader.AlignStruct();
                        var key = Read(ref reader, element[1..2], depth + 1);
                        entries[key] = Read(ref reader, element[2..^1], depth + 1);
                    }
                    result = entries;
                }
                else
                {
                    var items = new List<object>();
                    while (reader.HasNext(end))
                        items.Add(Read(ref reader, element, depth + 1));
                    result = items.ToArray();
                }
                reader.ExpectArrayEnd(end);
                return result;
            }
            case '(':
            {
                reader.AlignStruct();
                var fields = new List<object>();
                var inner = signature[1..(DBusSignature.CompleteTypeLength(signature) - 1)];
                while (!inner.IsEmpty)
                {
                    var length = DBusSignature.CompleteTypeLength(inner);
                    fields.Add(Read(ref reader, inner[..length], depth + 1));
                    inner = inner[length..];
                }
                return fields.ToArray();
            }
            default:
                throw new DBusFormatException($"unsupported type '{signature[0]}'");
        }
    }

    /// <summary>
    /// Writes one complete type, the inverse of <see cref="ReadValue"/>: arrays from any IEnumerable (byte[] for "ay"),
    /// dictionaries from IDictionary, structs from object[], variants from <see cref="DBusVariant"/>.
    /// </summary>
    public static void WriteValue(this DBusWriter writer, ReadOnlySpan<char> signature, object value)
    {
        var invariant = CultureInfo.InvariantCulture;
        switch (signature[0])
        {
            case 'y': writer.WriteByte(Convert.ToByte(value, invariant)); break;
            case 'b': writer.WriteBoolean((bool)value); break;
            case 'n': writer.WriteInt16(Convert.ToInt16(value, invariant)); break;
            case 'q': writer.WriteUInt16(Convert.ToUInt16(value, invariant)); break;
            case 'i': writer.WriteInt32(Convert.ToInt32(value, invariant)); break;
            case 'u' or 'h': writer.WriteUInt32(Convert.ToUInt32(value, invariant)); break;
            case 'x': writer.WriteInt64(Convert.ToInt64(value, invariant)); break;
            case 't': writer.WriteUInt64(Convert.ToUInt64(value, invariant)); break;
            case 'd': writer.WriteDouble(Convert.ToDouble(value, invariant)); break;
            case 's': writer.WriteString((string)value); break;
            case 'o': writer.WriteObjectPath((string)value); break;
            case 'g': writer.WriteSignature((string)value); break;
            case 'v':
                var variant = (DBusVariant)value;
                writer.WriteSignature(variant.Signature);
                writer.WriteValue(variant.Signature, variant.Value);
                break;
            case 'a':
            {
                var element = signature[1..DBusSignature.CompleteTypeLength(signature)];
                if (element[0] == 'y')
                {
                    writer.WriteByteArray((byte[])value);
                    break;
                }
                var mark = writer.BeginArray(element[0]);
                if (element[0] == '{')
                {
                    foreach (DictionaryEntry entry in (IDictionary)value)
                    {
                        writer.AlignStruct();
                        writer.WriteValue(element[1..2], entry.Key);
                        writer.WriteValue(element[2..^1], entry.Value!);
                    }
                }
                else
                {
                    foreach (var item in (IEnumerable)value)
                        writer.WriteValue(element, item!);
                }
                writer.EndArray(mark);
                break;
            }
            case '(':
            {
                writer.AlignStruct();
                var fields = (object[])value;
                var inner = signature[1..(DBusSignature.CompleteTypeLength(signature) - 1)];
                var i = 0;
                while (!inner.IsEmpty)
                {
                    var length = DBusSignature.CompleteTypeLength(inner);
                    writer.WriteValue(inner[..length], fields[i++]);
                    inner = inner[length..];
                }
                break;
            }
            default:
                throw new ArgumentException($"unsupported type '{signature[0]}'", nameof(signature));
        }
    }
}
