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

    /// <summary>"ay".</summary>
    public void WriteByteArray(ReadOnlySpan<byte> bytes)
    {
        var mark = BeginArray('y');
        bytes.CopyTo(Take(bytes.Length, 1));
        EndArray(mark);
    }

    private void Ensure(int more)
    {
        if (Length + more > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + more));
    }
}
