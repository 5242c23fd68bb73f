using NetworkBroker.DBus;
using NetworkBroker.Networkd;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Security;

/// <summary>Which messages from networkd's side are believed: sender first, then only documented states with state words.</summary>
public class NetworkdSignalsTests
{
    private const string Owner = ":1.5";
    private const string LinkPath = "/org/freedesktop/network1/link/_35";

    /// <summary>A signal as the bus delivers it: the bus fills in the sender.</summary>
    private static DBusMessage Signal(string? sender, string path, string iface, string member, string signature, Action<DBusWriter>? body)
    {
        var decoded = DBusMessage.Decode(DBusMessage.Encode(DBusMessageType.Signal, DBusMessageFlags.None, 7, path, iface, member, null, signature, body));
        return new DBusMessage
        {
            Type = decoded.Type, Serial = decoded.Serial, Path = decoded.Path, Interface = decoded.Interface, Member = decoded.Member,
            Signature = decoded.Signature, Sender = sender, Raw = decoded.Raw, BodyOffset = decoded.BodyOffset,
        };
    }

    private static DBusMessage PropertiesChanged(string? sender, string path, string iface, params (string Name, object Value)[] properties) =>
        Signal(sender, path, NetworkdBus.PropertiesInterface, "PropertiesChanged", "sa{sv}as", w =>
        {
            w.WriteString(iface);
            w.WriteValue("a{sv}", properties.ToDictionary(p => (object)p.Name, p => (object)new DBusVariant(p.Value switch
            {
                string => "s",
                int => "i",
                ulong => "t",
                _ => throw new ArgumentException("a test property of another type"),
            }, p.Value)));
            w.WriteValue("as", Array.Empty<object>());
        });

    [Fact]
    public void Only_the_owner_of_networkds_name_speaks_for_networkd()
    {
        var signal = PropertiesChanged(":1.99", LinkPath, NetworkdBus.LinkInterface, ("OperationalState", "routable"));
        Assert.False(NetworkdSignals.IsFromNetworkd(signal, Owner));
        Assert.False(NetworkdSignals.IsFromNetworkd(signal, null));
        Assert.True(NetworkdSignals.IsFromNetworkd(PropertiesChanged(Owner, LinkPath, NetworkdBus.LinkInterface), Owner));
    }

    [Fact]
    public void NameOwnerChanged_counts_only_from_the_bus_and_only_for_networkds_name()
    {
        Action<DBusWriter> body = w =>
        {
            w.WriteString(NetworkdBus.Service);
            w.WriteString(":1.5");
            w.WriteString(":1.99");
        };
        Assert.Equal((":1.5", ":1.99"), NetworkdSignals.OwnerChange(Signal(NetworkdSignals.BusName, NetworkdSignals.BusPath, NetworkdSignals.BusName, "NameOwnerChanged", "sss", body)));
        Assert.Null(NetworkdSignals.OwnerChange(Signal(":1.99", NetworkdSignals.BusPath, NetworkdSignals.BusName, "NameOwnerChanged", "sss", body)));
        Assert.Null(NetworkdSignals.OwnerChange(Signal(NetworkdSignals.BusName, NetworkdSignals.BusPath, NetworkdSignals.BusName, "NameOwnerChanged", "sss", w =>
        {
            w.WriteString("org.example.other");
            w.WriteString("");
            w.WriteString(":1.7");
        })));
    }

    [Fact]
    public void Manager_properties_outside_networkds_states_never_pass()
    {
        var dropped = new List<string>();
        var change = NetworkdSignals.PropertiesChanged(PropertiesChanged(Owner, NetworkdBus.ManagerPath, NetworkdBus.ManagerInterface,
            ("PATH", "/tmp/evil"), ("LD_PRELOAD", "/tmp/evil.so"), ("OperationalState", "routable"), ("NamespaceId", 4026531840UL)), dropped);
        Assert.NotNull(change);
        Assert.Equal(0, change.IfIndex);
        Assert.Equal([KeyValuePair.Create("OperationalState", "routable")], change.Changed.ToArray());
        Assert.Equal(3, dropped.Count);
    }

    [Theory]
    [InlineData("../../etc")]
    [InlineData("routable/../../tmp")]
    [InlineData("Routable")]
    [InlineData("")]
    [InlineData("routable\nPATH=/tmp")]
    [InlineData("a-very-long-state-word-that-goes-on-and-on")]
    public void A_state_value_that_is_not_a_state_word_is_dropped(string value)
    {
        var dropped = new List<string>();
        Assert.Null(NetworkdSignals.PropertiesChanged(PropertiesChanged(Owner, LinkPath, NetworkdBus.LinkInterface, ("OperationalState", value)), dropped));
        var note = Assert.Single(dropped);
        Assert.DoesNotContain("\n", note);
    }

    [Fact]
    public void A_path_that_only_looks_like_a_links_after_parsing_speaks_for_no_link()
    {
        // "_32_00" is "2" and a NUL: not the path networkd gives ifindex 2 ("_32").
        var dropped = new List<string>();
        Assert.Null(NetworkdSignals.PropertiesChanged(PropertiesChanged(Owner, "/org/freedesktop/network1/link/_32_00", NetworkdBus.LinkInterface,
            ("OperationalState", "routable")), dropped));
        Assert.Equal(2, NetworkdSignals.PropertiesChanged(PropertiesChanged(Owner, "/org/freedesktop/network1/link/_32", NetworkdBus.LinkInterface,
            ("OperationalState", "routable")), dropped)!.IfIndex);
    }

    [Fact]
    public void A_wrong_variant_type_and_a_megabyte_string_are_dropped_and_never_quoted_at_length()
    {
        var dropped = new List<string>();
        var huge = new string('a', 1 << 20);
        Assert.Null(NetworkdSignals.PropertiesChanged(PropertiesChanged(Owner, LinkPath, NetworkdBus.LinkInterface,
            ("OperationalState", 5), ("CarrierState", huge), (huge, "routable")), dropped));
        Assert.Equal(3, dropped.Count);
        Assert.All(dropped, note => Assert.True(note.Length < 300, $"a note of {note.Length} characters"));
    }

    [Fact]
    public void A_signature_other_than_PropertiesChanged_s_is_ignored_with_a_note()
    {
        var dropped = new List<string>();
        Assert.Null(NetworkdSignals.PropertiesChanged(Signal(Owner, LinkPath, NetworkdBus.PropertiesInterface, "PropertiesChanged", "s", w => w.WriteString("x")), dropped));
        Assert.Single(dropped);
    }

    [Fact]
    public void Random_bodies_from_the_owner_give_a_verdict_or_a_format_error_never_anything_else()
    {
        var random = new Random(99);
        var template = PropertiesChanged(Owner, LinkPath, NetworkdBus.LinkInterface, ("OperationalState", "routable"), ("CarrierState", "carrier"));
        var raw = template.Raw.ToArray();
        for (var round = 0; round < 5000; round++)
        {
            var mutated = (byte[])raw.Clone();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
                mutated[random.Next(template.BodyOffset, mutated.Length)] = (byte)random.Next(256);
            var message = new DBusMessage
            {
                Type = template.Type, Serial = 7, Path = template.Path, Interface = template.Interface, Member = template.Member,
                Signature = template.Signature, Sender = Owner, Raw = mutated, BodyOffset = template.BodyOffset,
            };
            try
            {
                var change = NetworkdSignals.PropertiesChanged(message, []);
                if (change is null)
                    continue;
                Assert.All(change.Changed, c => Assert.Contains(c.Key, global::NetworkBroker.Scripts.ScriptVariables.LinkStates));
                Assert.All(change.Changed, c => Assert.True(global::NetworkBroker.Scripts.ScriptVariables.IsStateWord(c.Value)));
            }
            catch (DBusFormatException)
            {
            }
        }
    }
}
