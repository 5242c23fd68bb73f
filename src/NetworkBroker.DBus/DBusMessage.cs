using System.Buffers.Binary;

namespace NetworkBroker.DBus;

/// <summary>A D-Bus message: its header fields and its body (still marshalled; read it with <see cref="BodyReader"/>).</summary>
public sealed class DBusMessage
{
    public const int MaxMessageSize = 128 * 1024 * 1024;
    public const int FixedHeaderSize = 16;

    public DBusMessageType Type { get; init; }
    public DBusMessageFlags Flags { get; init; }
    public uint Serial { get; init; }
    public string? Path { get; init; }
    public string? Interface { get; init; }
    public string? Member { get; init; }
    public string? ErrorName { get; init; }
    public uint ReplySerial { get; init; }
    public string? Destination { get; init; }
    public string? Sender { get; init; }
    public string Signature { get; init; } = "";
    public bool BigEndian { get; init; }

    /// <summary>The order in which the connection received this message (replies and signals share the count).</summary>
    public long ReceiveSequence { get; internal set; }

    /// <summary>The whole message as received (alignment of the body counts from its start).</summary>
    public ReadOnlyMemory<byte> Raw { get; init; }
    public int BodyOffset { get; init; }

    public DBusReader BodyReader() => new(Raw.Span, BigEndian, BodyOffset);

    /// <summary>The body's reader, once the body is known to have <paramref name="signature"/> (else a format error naming both).</summary>
    public DBusReader BodyReader(string signature) => Signature == signature ? BodyReader()
        : throw new DBusFormatException($"{(Member is null ? $"a reply to call {ReplySerial}" : $"{Excerpt(Interface ?? "")}.{Excerpt(Member)}")} " +
                                        $"carries \"{Excerpt(Signature)}\", not \"{signature}\"");

    private static string Excerpt(string text) => text.Length <= 32 ? text : text[..32] + "...";

    /// <summary>
    /// The total size of the message starting at <paramref name="data"/> once its fixed header and the
    /// length of its header-field array are in; 0 while fewer than 16 bytes have arrived.
    /// </summary>
    public static int TotalSize(ReadOnlySpan<byte> data)
    {
        if (data.Length < FixedHeaderSize)
            return 0;
        var bigEndian = data[0] switch
        {
            (byte)'l' => false,
            (byte)'B' => true,
            var e => throw new DBusFormatException($"unknown byte order '{(char)e}'"),
        };
        if (data[3] != 1)
            throw new DBusFormatException($"protocol version {data[3]}");
        var body = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data[4..]) : BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        var fields = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data[12..]) : BinaryPrimitives.ReadUInt32LittleEndian(data[12..]);
        var total = ((FixedHeaderSize + (long)fields + 7) & ~7L) + body;
        if (total > MaxMessageSize)
            throw new DBusFormatException($"message of {total} bytes is over the 128 MiB limit");
        return (int)total;
    }

    /// <summary>Decodes one complete message (exactly <see cref="TotalSize"/> bytes).</summary>
    public static DBusMessage Decode(ReadOnlyMemory<byte> raw)
    {
        var data = raw.Span;
        var total = TotalSize(data);
        if (total == 0 || total != data.Length)
            throw new DBusFormatException($"message is {data.Length} bytes, its header says {total}");
        var bigEndian = data[0] == 'B';
        var reader = new DBusReader(data, bigEndian, 4);
        var bodyLength = reader.ReadUInt32();
        var serial = reader.ReadUInt32();
        if (serial == 0)
            throw new DBusFormatException("serial 0");

        string? path = null, iface = null, member = null, error = null, destination = null, sender = null, signature = null;
        uint replySerial = 0;
        var end = reader.ReadArrayStart('(');
        while (reader.HasNext(end))
        {
            reader.AlignStruct();
            var code = reader.ReadByte();
            var fieldSignature = reader.ReadSignature();
            if (DBusSignature.CountCompleteTypes(fieldSignature) != 1)
                throw new DBusFormatException($"header field {code} has signature \"{fieldSignature}\", not one complete type");
            var expected = code switch
            {
                DBusHeaderField.Path => "o",
                DBusHeaderField.Interface or DBusHeaderField.Member or DBusHeaderField.ErrorName => "s",
                DBusHeaderField.ReplySerial => "u",
                DBusHeaderField.Destination or DBusHeaderField.Sender => "s",
                DBusHeaderField.Signature => "g",
                _ => null,
            };
            if (expected is null)
            {
                // A field this version of the spec does not name (UNIX_FDS among them): skipped, as the spec asks.
                reader.SkipValue(fieldSignature);
                continue;
            }
            if (fieldSignature != expected)
                throw new DBusFormatException($"header field {code} has signature \"{fieldSignature}\", not \"{expected}\"");
            switch (code)
            {
                case DBusHeaderField.Path: path = reader.ReadObjectPath(); break;
                case DBusHeaderField.Interface: iface = reader.ReadString(); break;
                case DBusHeaderField.Member: member = reader.ReadString(); break;
                case DBusHeaderField.ErrorName: error = reader.ReadString(); break;
                case DBusHeaderField.ReplySerial: replySerial = reader.ReadUInt32(); break;
                case DBusHeaderField.Destination: destination = reader.ReadString(); break;
                case DBusHeaderField.Sender: sender = reader.ReadString(); break;
                case DBusHeaderField.Signature: signature = reader.ReadSignature(); break;
            }
        }
        reader.ExpectArrayEnd(end);
        reader.Align(8);
        if (reader.Position + bodyLength != data.Length)
            throw new DBusFormatException("body length does not match");

        var type = (DBusMessageType)data[1];
        var missing = type switch
        {
            DBusMessageType.MethodCall when path is null || member is null => "a method call needs PATH and MEMBER",
            DBusMessageType.Signal when path is null || member is null || iface is null => "a signal needs PATH, INTERFACE and MEMBER",
            DBusMessageType.Error when error is null || replySerial == 0 => "an error needs ERROR_NAME and REPLY_SERIAL",
            DBusMessageType.MethodReturn when replySerial == 0 => "a method return needs REPLY_SERIAL",
            DBusMessageType.Invalid or > DBusMessageType.Signal => $"message type {(byte)type}",
            _ => null,
        };
        if (missing is not null)
            throw new DBusFormatException(missing);
        if (bodyLength > 0 && string.IsNullOrEmpty(signature))
            throw new DBusFormatException("a body without a signature");

        return new DBusMessage
        {
            Type = type,
            Flags = (DBusMessageFlags)data[2],
            Serial = serial,
            Path = path,
            Interface = iface,
            Member = member,
            ErrorName = error,
            ReplySerial = replySerial,
            Destination = destination,
            Sender = sender,
            Signature = signature ?? "",
            BigEndian = bigEndian,
            Raw = raw,
            BodyOffset = reader.Position,
        };
    }

    /// <summary>Encodes a message; <paramref name="body"/> writes the body (its writer's offsets count from the body's start).</summary>
    public static byte[] Encode(DBusMessageType type, DBusMessageFlags flags, uint serial, string? path, string? iface, string? member,
        string? destination, string signature, Action<DBusWriter>? body, uint replySerial = 0, string? errorName = null, string? sender = null)
    {
        var bodyWriter = new DBusWriter();
        body?.Invoke(bodyWriter);

        var header = new DBusWriter();
        header.WriteByte((byte)'l');
        header.WriteByte((byte)type);
        header.WriteByte((byte)flags);
        header.WriteByte(1);
        header.WriteUInt32((uint)bodyWriter.Length);
        header.WriteUInt32(serial);
        var fields = header.BeginArray('(');
        void Field(byte code, char kind, string? value)
        {
            if (value is null)
                return;
            header.AlignStruct();
            header.WriteByte(code);
            header.WriteSignature(kind.ToString());
            if (kind == 'o')
                header.WriteObjectPath(value);
            else if (kind == 'g')
                header.WriteSignature(value);
            else
                header.WriteString(value);
        }
        Field(DBusHeaderField.Path, 'o', path);
        Field(DBusHeaderField.Interface, 's', iface);
        Field(DBusHeaderField.Member, 's', member);
        Field(DBusHeaderField.ErrorName, 's', errorName);
        if (replySerial != 0)
        {
            header.AlignStruct();
            header.WriteByte(DBusHeaderField.ReplySerial);
            header.WriteSignature("u");
            header.WriteUInt32(replySerial);
        }
        Field(DBusHeaderField.Destination, 's', destination);
        // Only a bus (or a peer standing in for one) names the sender; a client leaves it to the bus.
        Field(DBusHeaderField.Sender, 's', sender);
        Field(DBusHeaderField.Signature, 'g', signature.Length > 0 ? signature : null);
        header.EndArray(fields);
        header.Align(8);

        var message = new byte[header.Length + bodyWriter.Length];
        header.Written.CopyTo(message);
        bodyWriter.Written.CopyTo(message.AsSpan(header.Length));
        return message;
    }
}
