using NetworkBroker.DBus;
using NetworkBroker.Networkd;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Networkd;

/// <summary>
/// networkd's answers (GetAll, ListLinks) read with typed calls: what passes is a state word of a documented property,
/// and anything malformed is a <see cref="DBusFormatException"/>, never another exception.
/// </summary>
public class NetworkdRepliesTests
{
    private const string LinkPath = "/org/freedesktop/network1/link/_35";

    private static byte[] Reply(string signature, Action<DBusWriter> body) =>
        DBusMessage.Encode(DBusMessageType.MethodReturn, DBusMessageFlags.None, 9, null, null, null, ":1.7", signature, body,
            replySerial: 3, sender: ":1.5");

    /// <summary>A link's GetAll as networkd 252 answers it (every property it has, of their own types).</summary>
    private static readonly byte[] LinkGetAll = Reply("a{sv}", w => w.WriteValue("a{sv}", new Dictionary<object, object>
    {
        ["OperationalState"] = new DBusVariant("s", "routable"),
        ["CarrierState"] = new DBusVariant("s", "carrier"),
        ["AddressState"] = new DBusVariant("s", "routable"),
        ["IPv4AddressState"] = new DBusVariant("s", "routable"),
        ["IPv6AddressState"] = new DBusVariant("s", "degraded"),
        ["OnlineState"] = new DBusVariant("s", "online"),
        ["AdministrativeState"] = new DBusVariant("s", "configured"),
        ["BitRates"] = new DBusVariant("(tt)", new object[] { 0UL, 0UL }),
    }));

    private static readonly byte[] ListLinks = Reply("a(iso)", w => w.WriteValue("a(iso)", new object[]
    {
        new object[] { 1, "lo", "/org/freedesktop/network1/link/_31" },
        new object[] { 5, "eth1", LinkPath },
    }));

    [Fact]
    public void A_links_GetAll_gives_its_state_properties_and_drops_the_rest_with_a_note()
    {
        var dropped = new List<string>();
        var states = NetworkdSignals.States(false, DBusMessage.Decode(LinkGetAll), dropped, LinkPath);
        Assert.Equal("routable", states["OperationalState"]);
        Assert.Equal("configured", states["AdministrativeState"]);
        Assert.Equal(7, states.Count);
        Assert.Contains(dropped, note => note.Contains("\"BitRates\"") && note.Contains("not a state property"));
    }

    [Fact]
    public void A_state_property_of_another_type_is_dropped_naming_its_type()
    {
        var reply = Reply("a{sv}", w => w.WriteValue("a{sv}", new Dictionary<object, object> { ["OperationalState"] = new DBusVariant("u", 3u) }));
        var dropped = new List<string>();
        Assert.Empty(NetworkdSignals.States(false, DBusMessage.Decode(reply), dropped, LinkPath));
        Assert.Contains("a value of type \"u\", not a state word", Assert.Single(dropped));
    }

    [Fact]
    public void A_GetAll_of_another_signature_is_a_format_error()
    {
        var reply = Reply("a{ss}", w => w.WriteValue("a{ss}", new Dictionary<object, object> { ["OperationalState"] = "routable" }));
        Assert.Throws<DBusFormatException>(() => NetworkdSignals.States(false, DBusMessage.Decode(reply), [], LinkPath));
    }

    [Fact]
    public void ListLinks_gives_each_links_index_name_and_path()
    {
        Assert.Equal([(1, "lo", "/org/freedesktop/network1/link/_31"), (5, "eth1", LinkPath)], NetworkdBus.ReadLinks(DBusMessage.Decode(ListLinks)));
        var wrong = Reply("a(iss)", w => w.WriteValue("a(iss)", new object[] { new object[] { 1, "lo", "/x" } }));
        Assert.Throws<DBusFormatException>(() => NetworkdBus.ReadLinks(DBusMessage.Decode(wrong)));
    }

    /// <summary>Decodes <paramref name="bytes"/> as a whole message and reads it as both answers; only a format error may escape.</summary>
    private static void ReadAsEveryAnswer(byte[] bytes, int length)
    {
        try
        {
            var size = DBusMessage.TotalSize(bytes.AsSpan(0, length));
            if (size == 0 || size > length)
                return;
            var message = DBusMessage.Decode(bytes.AsMemory(0, size));
            try
            {
                var states = NetworkdSignals.States(false, message, [], LinkPath);
                Assert.All(states, s => Assert.True(global::NetworkBroker.Scripts.ScriptVariables.IsStateWord(s.Value)));
            }
            catch (DBusFormatException)
            {
            }
            NetworkdBus.ReadLinks(message);
        }
        catch (DBusFormatException)
        {
        }
    }

    [Fact]
    public void Mutated_GetAll_and_ListLinks_replies_fail_only_with_a_format_error()
    {
        var random = new Random(14);
        foreach (var valid in new[] { LinkGetAll, ListLinks })
        {
            for (var round = 0; round < 20000; round++)
            {
                var bytes = (byte[])valid.Clone();
                for (var flips = random.Next(1, 5); flips > 0; flips--)
                    bytes[random.Next(bytes.Length)] = random.Next(3) == 0 ? (byte)0xFF : (byte)random.Next(256);
                ReadAsEveryAnswer(bytes, random.Next(4) == 0 ? random.Next(bytes.Length) : bytes.Length);
            }
        }
    }

    [Fact]
    public void Random_bytes_behind_a_valid_header_fail_only_with_a_format_error()
    {
        var random = new Random(6);
        foreach (var signature in new[] { "a{sv}", "a(iso)" })
        {
            for (var round = 0; round < 20000; round++)
            {
                var body = new byte[random.Next(64)];
                random.NextBytes(body);
                // Small lengths so that arrays and strings sometimes fit.
                for (var i = 0; i < body.Length; i += 4)
                    if (random.Next(2) == 0)
                        body[i] = (byte)random.Next(16);
                var bytes = Reply(signature, w => { });
                var message = new byte[bytes.Length + body.Length];
                bytes.CopyTo(message, 0);
                body.CopyTo(message, bytes.Length);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(4), (uint)body.Length);
                ReadAsEveryAnswer(message, message.Length);
            }
            for (var round = 0; round < 5000; round++)
            {
                var noise = new byte[random.Next(16, 256)];
                random.NextBytes(noise);
                noise[0] = (byte)'l';
                noise[3] = 1;
                ReadAsEveryAnswer(noise, noise.Length);
            }
        }
    }

    [Theory]
    [InlineData("/org/freedesktop/network1/link/_35", 5)]
    [InlineData("/org/freedesktop/network1/link/_31_30", 10)]
    [InlineData("/org/freedesktop/network1/link/_32147483647", int.MaxValue)]
    [InlineData("/org/freedesktop/network1/link/_32_00", null)]
    [InlineData("/org/freedesktop/network1/link/_32_00_00", null)]
    [InlineData("/org/freedesktop/network1/link/_00_32", null)]
    [InlineData("/org/freedesktop/network1/link/_32_20", null)]
    [InlineData("/org/freedesktop/network1/link/_20_32", null)]
    [InlineData("/org/freedesktop/network1/link/_2b2", null)]
    [InlineData("/org/freedesktop/network1/link/_2d2", null)]
    [InlineData("/org/freedesktop/network1/link/_302", null)]
    [InlineData("/org/freedesktop/network1/link/_30", null)]
    [InlineData("/org/freedesktop/network1/link/_32147483648", null)]
    [InlineData("/org/freedesktop/network1/link/_399999999999", null)]
    [InlineData("/org/freedesktop/network1/link/_d9_a2", null)]
    [InlineData("/org/freedesktop/network1/link/_", null)]
    [InlineData("/org/freedesktop/network1/link/x2", null)]
    [InlineData("/org/freedesktop/network1/link/_35/x", null)]
    [InlineData("/org/freedesktop/network1", null)]
    public void A_link_path_names_an_ifindex_only_as_networkd_writes_it(string path, int? ifindex) =>
        Assert.Equal(ifindex, NetworkdBus.IfIndexOf(path));

    [Fact]
    public void Every_ifindex_comes_back_from_its_path()
    {
        foreach (var ifindex in new[] { 1, 2, 9, 10, 99, 100, 65535, 1 << 20, int.MaxValue })
            Assert.Equal(ifindex, NetworkdBus.IfIndexOf(NetworkdBus.LinkPath(ifindex)));
    }
}
