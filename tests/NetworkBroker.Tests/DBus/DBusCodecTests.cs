using NetworkBroker.DBus;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.DBus;

public class DBusCodecTests
{
    [Theory]
    [InlineData("_35", "5")]
    [InlineData("_310", "10")]
    [InlineData("_3123", "123")]
    [InlineData("eth0", "eth0")]
    [InlineData("_", "")]
    [InlineData("a_2db", "a-b")]
    public void Bus_path_labels_unescape_as_sd_bus_writes_them(string label, string expected)
    {
        Assert.Equal(expected, DBusObjectPath.UnescapeLabel(label));
    }

    [Theory]
    [InlineData("5")]
    [InlineData("10")]
    [InlineData("eth-1.2")]
    [InlineData("")]
    public void Escaping_round_trips(string label)
    {
        var escaped = DBusObjectPath.EscapeLabel(label);
        Assert.True(DBusObjectPath.IsValid("/x/" + escaped));
        Assert.Equal(label, DBusObjectPath.UnescapeLabel(escaped));
    }

    [Theory]
    [InlineData("_3")]
    [InlineData("_zz")]
    [InlineData("a-b")]
    public void Bad_escapes_are_rejected(string label)
    {
        Assert.Null(DBusObjectPath.UnescapeLabel(label));
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("/org/freedesktop/network1/link/_35", true)]
    [InlineData("", false)]
    [InlineData("org", false)]
    [InlineData("/org/", false)]
    [InlineData("/org//x", false)]
    [InlineData("/org/x-y", false)]
    public void Object_paths_are_validated(string path, bool valid)
    {
        Assert.Equal(valid, DBusObjectPath.IsValid(path));
    }

    [Theory]
    [InlineData("sa{sv}as", 3)]
    [InlineData("a(iay)", 1)]
    [InlineData("(ybnqiuxtdsogv)", 1)]
    [InlineData("", 0)]
    public void Signatures_count_complete_types(string signature, int count)
    {
        Assert.Equal(count, DBusSignature.CountCompleteTypes(signature));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("a{vs}")]
    [InlineData("a{sss}")]
    [InlineData("{sv}")]
    [InlineData("(")]
    [InlineData("()")]
    [InlineData("z")]
    public void Invalid_signatures_are_format_errors(string signature)
    {
        Assert.Throws<DBusFormatException>(() => DBusSignature.Validate(signature));
    }

    [Fact]
    public void Signatures_nested_beyond_the_limit_are_rejected()
    {
        Assert.Throws<DBusFormatException>(() => DBusSignature.Validate(new string('a', 33) + "s"));
        Assert.Throws<DBusFormatException>(() => DBusSignature.Validate(new string('(', 33) + "s" + new string(')', 33)));
    }

    [Fact]
    public void Signatures_nest_32_arrays_and_32_structs_and_one_more_of_either_is_refused()
    {
        DBusSignature.Validate(new string('a', 32) + "s");
        DBusSignature.Validate(new string('(', 32) + "s" + new string(')', 32));
        DBusSignature.Validate(new string('a', 32) + new string('(', 32) + "s" + new string(')', 32));
        // A dict entry counts as an array (the one it is in) and as a struct.
        DBusSignature.Validate(string.Concat(Enumerable.Repeat("a{s", 32)) + "v" + new string('}', 32));
        Assert.Throws<DBusFormatException>(() => DBusSignature.Validate(string.Concat(Enumerable.Repeat("a{s", 33)) + "v" + new string('}', 33)));
        Assert.Throws<DBusFormatException>(() => DBusSignature.Validate(new string('a', 32) + "(as)"));
        Assert.Throws<DBusFormatException>(() => DBusSignature.Validate(new string('(', 32) + "(sa{s(s)})" + new string(')', 32)));
    }

    [Fact]
    public void Signatures_nested_a_hundred_thousand_deep_are_a_format_error_not_a_stack_overflow()
    {
        // The length of one complete type is measured before any signature's length is checked (a variant's, a
        // field's): its recursion must stop at the nesting limit, whatever the text's length.
        Assert.Throws<DBusFormatException>(() => DBusSignature.CompleteTypeLength(new string('a', 100_000) + "s"));
        Assert.Throws<DBusFormatException>(() => DBusSignature.CompleteTypeLength(new string('(', 100_000) + "s" + new string(')', 100_000)));
        Assert.Throws<DBusFormatException>(() => DBusSignature.CountCompleteTypes(string.Concat(Enumerable.Repeat("a{s", 100_000))));
        Assert.Throws<DBusFormatException>(() => DBusSignature.Validate(new string('a', 100_000) + "s"));
    }

    [Fact]
    public void A_message_round_trips_through_encode_and_decode()
    {
        var bytes = DBusMessage.Encode(DBusMessageType.Signal, DBusMessageFlags.None, 5, "/org/freedesktop/network1/link/_35",
            "org.freedesktop.DBus.Properties", "PropertiesChanged", null, "sa{sv}as", w =>
            {
                w.WriteString("org.freedesktop.network1.Link");
                w.WriteValue("a{sv}", new Dictionary<object, object> { ["OperationalState"] = new DBusVariant("s", "routable") });
                w.WriteValue("as", Array.Empty<object>());
            });
        var message = DBusMessage.Decode(bytes);
        Assert.Equal(DBusMessageType.Signal, message.Type);
        Assert.Equal(5u, message.Serial);
        Assert.Equal("/org/freedesktop/network1/link/_35", message.Path);
        Assert.Equal("PropertiesChanged", message.Member);
        var reader = message.BodyReader();
        Assert.Equal("org.freedesktop.network1.Link", reader.ReadString());
        Assert.Equal("routable", ((Dictionary<object, object>)reader.ReadValue("a{sv}"))["OperationalState"]);
        Assert.Empty((object[])reader.ReadValue("as"));
    }

    [Fact]
    public void A_big_endian_message_is_read()
    {
        // A method return for serial 7 carrying the string "ok", written by hand in big-endian.
        byte[] message =
        [
            (byte)'B', 2, 0, 1, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 15,
            5, 1, (byte)'u', 0, 0, 0, 0, 7,
            8, 1, (byte)'g', 0, 1, (byte)'s', 0, 0,
            0, 0, 0, 2, (byte)'o', (byte)'k', 0,
        ];
        var decoded = DBusMessage.Decode(message);
        Assert.True(decoded.BigEndian);
        Assert.Equal(7u, decoded.ReplySerial);
        Assert.Equal(9u, decoded.Serial);
        Assert.Equal("ok", decoded.BodyReader().ReadString());
    }

    [Fact]
    public void An_array_longer_than_its_message_is_a_format_error_not_an_allocation()
    {
        var writer = new DBusWriter();
        writer.WriteUInt32(60_000_000);
        var message = writer.Written.ToArray();
        Assert.Throws<DBusFormatException>(() => new DBusReader(message, false).SkipValue("as"));
    }

    [Fact]
    public void Mutated_messages_fail_only_with_a_format_error()
    {
        var valid = DBusMessage.Encode(DBusMessageType.Signal, DBusMessageFlags.None, 5, "/org/freedesktop/network1/link/_35",
            "org.freedesktop.DBus.Properties", "PropertiesChanged", null, "sa{sv}asa(iay)", w =>
            {
                w.WriteString("org.freedesktop.network1.Link");
                w.WriteValue("a{sv}", new Dictionary<object, object>
                {
                    ["OperationalState"] = new DBusVariant("s", "routable"),
                    ["Nested"] = new DBusVariant("a{sv}", new Dictionary<object, object> { ["x"] = new DBusVariant("ay", new byte[] { 1, 2 }) }),
                });
                w.WriteValue("as", new[] { "Invalidated" });
                w.WriteValue("a(iay)", new object[] { new object[] { 2, new byte[] { 10, 0, 0, 1 } } });
            });
        var random = new Random(99);
        for (var round = 0; round < 20000; round++)
        {
            var bytes = (byte[])valid.Clone();
            for (var flips = random.Next(1, 5); flips > 0; flips--)
                bytes[random.Next(bytes.Length)] = random.Next(3) == 0 ? (byte)0xFF : (byte)random.Next(256);
            var length = random.Next(4) == 0 ? random.Next(bytes.Length) : bytes.Length;
            try
            {
                var size = DBusMessage.TotalSize(bytes.AsSpan(0, length));
                if (size == 0 || size > length)
                    continue;
                var message = DBusMessage.Decode(bytes.AsMemory(0, size));
                var reader = message.BodyReader();
                var signature = message.Signature.AsSpan();
                while (!signature.IsEmpty)
                {
                    var one = DBusSignature.CompleteTypeLength(signature);
                    reader.SkipValue(signature[..one]);
                    signature = signature[one..];
                }
            }
            catch (DBusFormatException)
            {
            }
        }
    }
}
