using NetworkBroker.DBus;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.DBus;

/// <summary>The reader's typed calls: what the daemon reads is the type it expects, or a format error, never a cast.</summary>
public class DBusTypedReadTests
{
    private static DBusMessage Reply(string signature, Action<DBusWriter> body) =>
        DBusMessage.Decode(DBusMessage.Encode(DBusMessageType.MethodReturn, DBusMessageFlags.None, 9, null, null, null, ":1.7", signature, body,
            replySerial: 3, sender: ":1.5"));

    [Fact]
    public void A_property_set_keeps_strings_and_names_the_type_of_everything_else()
    {
        var reply = Reply("a{sv}", w => w.WriteValue("a{sv}", new Dictionary<object, object>
        {
            ["OperationalState"] = new DBusVariant("s", "routable"),
            ["BitRates"] = new DBusVariant("(tt)", new object[] { 1000UL, 2000UL }),
            ["Nested"] = new DBusVariant("v", new DBusVariant("s", "not at this level")),
            ["Path"] = new DBusVariant("o", "/org/x"),
        }));
        var properties = reply.BodyReader("a{sv}").ReadStringVariantDictionary();
        Assert.Equal(new DBusVariantText("s", "routable"), properties["OperationalState"]);
        Assert.Equal(new DBusVariantText("(tt)", null), properties["BitRates"]);
        Assert.Equal(new DBusVariantText("v", null), properties["Nested"]);
        Assert.Equal(new DBusVariantText("o", null), properties["Path"]);
    }

    [Fact]
    public void A_property_named_twice_keeps_its_last_value()
    {
        var reply = Reply("a{sv}", w =>
        {
            var array = w.BeginArray('{');
            foreach (var value in new[] { "carrier", "routable" })
            {
                w.AlignStruct();
                w.WriteString("OperationalState");
                w.WriteSignature("s");
                w.WriteString(value);
            }
            w.EndArray(array);
        });
        Assert.Equal("routable", reply.BodyReader().ReadStringVariantDictionary()["OperationalState"].Text);
    }

    [Fact]
    public void A_body_of_another_signature_is_a_format_error_naming_both()
    {
        var reply = Reply("as", w => w.WriteValue("as", new[] { "x" }));
        var e = Assert.Throws<DBusFormatException>(() => reply.BodyReader("a{sv}"));
        Assert.Contains("\"as\"", e.Message);
        Assert.Contains("\"a{sv}\"", e.Message);
    }

    [Fact]
    public void A_string_variant_is_read_and_any_other_is_null()
    {
        Assert.Equal("node7", Reply("v", w => w.WriteValue("v", new DBusVariant("s", "node7"))).BodyReader("v").ReadStringVariant());
        Assert.Null(Reply("v", w => w.WriteValue("v", new DBusVariant("u", 7u))).BodyReader("v").ReadStringVariant());
        Assert.Null(Reply("v", w => w.WriteValue("v", new DBusVariant("as", new[] { "a" }))).BodyReader("v").ReadStringVariant());
    }

    [Fact]
    public void A_variant_of_more_than_one_type_is_a_format_error()
    {
        var reply = Reply("v", w =>
        {
            w.WriteSignature("ss");
            w.WriteString("a");
            w.WriteString("b");
        });
        Assert.Throws<DBusFormatException>(() => reply.BodyReader().ReadStringVariant());
    }

    [Fact]
    public void Variants_nested_beyond_the_limit_are_a_format_error_not_a_stack_overflow()
    {
        var writer = new DBusWriter();
        for (var i = 0; i < 10_000; i++)
            writer.WriteSignature("v");
        writer.WriteSignature("s");
        writer.WriteString("deep");
        var bytes = writer.Written.ToArray();
        Assert.Throws<DBusFormatException>(() => new DBusReader(bytes, false).SkipValue("v"));
        Assert.Throws<DBusFormatException>(() => new DBusReader(bytes, false).ReadVariantText());
    }

    /// <summary><paramref name="count"/> variants, each holding the next, the last a string.</summary>
    private static byte[] Variants(int count)
    {
        var writer = new DBusWriter();
        for (var i = 1; i < count; i++)
            writer.WriteSignature("v");
        writer.WriteSignature("s");
        writer.WriteString("deep");
        return writer.Written.ToArray();
    }

    /// <summary>
    /// <paramref name="containers"/> containers, a variant holding an array of variants holding ...: each variant's own
    /// signature ("av") is one array deep, so only a count across variants bounds them.
    /// </summary>
    private static byte[] VariantsOfArrays(int containers)
    {
        var writer = new DBusWriter();
        var arrays = new Stack<DBusWriter.ArrayMark>();
        for (var level = 1; level <= containers; level++)
        {
            if (level % 2 == 1)
                writer.WriteSignature(level == containers ? "s" : "av");
            else
                arrays.Push(writer.BeginArray('v'));
        }
        if (containers % 2 == 1)
            writer.WriteString("deep");
        while (arrays.Count > 0)
            writer.EndArray(arrays.Pop());
        return writer.Written.ToArray();
    }

    [Fact]
    public void A_value_in_64_variants_is_read_and_one_more_is_a_format_error()
    {
        var deepest = Variants(DBusReader.MaxDepth);
        var reader = new DBusReader(deepest, false);
        Assert.Equal(new DBusVariantText("v", null), reader.ReadVariantText());
        Assert.True(reader.AtEnd);
        var skipper = new DBusReader(deepest, false);
        skipper.SkipValue("v");
        Assert.True(skipper.AtEnd);

        var deeper = Variants(DBusReader.MaxDepth + 1);
        Assert.Contains("nesting deeper than 64", Assert.Throws<DBusFormatException>(() => new DBusReader(deeper, false).ReadVariantText()).Message);
        Assert.Contains("nesting deeper than 64", Assert.Throws<DBusFormatException>(() => new DBusReader(deeper, false).SkipValue("v")).Message);
    }

    [Fact]
    public void Arrays_and_variants_count_together_64_containers_are_read_and_one_more_is_a_format_error()
    {
        foreach (var containers in new[] { DBusReader.MaxDepth - 1, DBusReader.MaxDepth })
        {
            var reader = new DBusReader(VariantsOfArrays(containers), false);
            reader.SkipValue("v");
            Assert.True(reader.AtEnd);
        }
        Assert.Throws<DBusFormatException>(() => new DBusReader(VariantsOfArrays(DBusReader.MaxDepth + 1), false).SkipValue("v"));
        Assert.Throws<DBusFormatException>(() => new DBusReader(VariantsOfArrays(DBusReader.MaxDepth + 2), false).SkipValue("v"));
    }

    [Fact]
    public void Arrays_in_variants_a_hundred_thousand_deep_are_a_format_error_not_a_stack_overflow()
    {
        var bytes = VariantsOfArrays(100_000);
        Assert.Throws<DBusFormatException>(() => new DBusReader(bytes, false).SkipValue("v"));
        Assert.Throws<DBusFormatException>(() => new DBusReader(bytes, false).ReadVariantText());
        Assert.Throws<DBusFormatException>(() => new DBusReader(Variants(100_000), false).SkipValue("v"));
    }

    [Fact]
    public void Skipping_a_value_checks_it_as_reading_it_would()
    {
        var writer = new DBusWriter();
        writer.WriteValue("a(iay)", new object[] { new object[] { 2, new byte[] { 10, 0, 0, 1 } } });
        var valid = writer.Written.ToArray();
        var reader = new DBusReader(valid, false);
        reader.SkipValue("a(iay)");
        Assert.True(reader.AtEnd);
        // Non-zero padding between the array's length and its first struct.
        var padded = (byte[])valid.Clone();
        padded[4] = 1;
        Assert.Throws<DBusFormatException>(() => new DBusReader(padded, false).SkipValue("a(iay)"));
        Assert.Throws<DBusFormatException>(() => new DBusReader(valid, false).SkipValue(""));
        Assert.Throws<DBusFormatException>(() => new DBusReader(valid, false).SkipValue("z"));
    }

    [Fact]
    public void A_byte_array_reads_back_as_written()
    {
        var writer = new DBusWriter();
        writer.WriteByte(7);
        writer.WriteByteArray([1, 2, 3]);
        writer.WriteByteArray([]);
        var reader = new DBusReader(writer.Written, false);
        Assert.Equal(7, reader.ReadByte());
        Assert.Equal(new byte[] { 1, 2, 3 }, reader.ReadByteArray());
        Assert.Empty(reader.ReadByteArray());
        Assert.True(reader.AtEnd);
    }

    [Fact]
    public void A_header_field_of_the_wrong_type_is_a_format_error_and_an_unknown_one_is_skipped()
    {
        // A method return whose REPLY_SERIAL (5) is a string: refused.
        var header = new DBusWriter();
        foreach (var b in new byte[] { (byte)'l', 2, 0, 1 })
            header.WriteByte(b);
        header.WriteUInt32(0);
        header.WriteUInt32(9);
        var fields = header.BeginArray('(');
        header.AlignStruct();
        header.WriteByte(5);
        header.WriteSignature("s");
        header.WriteString("3");
        header.EndArray(fields);
        header.Align(8);
        Assert.Contains("header field 5", Assert.Throws<DBusFormatException>(() => DBusMessage.Decode(header.Written.ToArray())).Message);

        // The same with a field of a code the spec does not name (a{sv}), then a good REPLY_SERIAL: read.
        var known = new DBusWriter();
        foreach (var b in new byte[] { (byte)'l', 2, 0, 1 })
            known.WriteByte(b);
        known.WriteUInt32(0);
        known.WriteUInt32(9);
        fields = known.BeginArray('(');
        known.AlignStruct();
        known.WriteByte(42);
        known.WriteSignature("a{sv}");
        known.WriteValue("a{sv}", new Dictionary<object, object> { ["x"] = new DBusVariant("s", "y") });
        known.AlignStruct();
        known.WriteByte(5);
        known.WriteSignature("u");
        known.WriteUInt32(3);
        known.EndArray(fields);
        known.Align(8);
        Assert.Equal(3u, DBusMessage.Decode(known.Written.ToArray()).ReplySerial);
    }
}
