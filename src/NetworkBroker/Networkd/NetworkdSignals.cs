using System.Collections.Immutable;
using NetworkBroker.DBus;
using NetworkBroker.Events;
using NetworkBroker.Logging;
using NetworkBroker.Scripts;

namespace NetworkBroker.Networkd;

/// <summary>
/// What of a D-Bus message from networkd's side may be believed. Pure, so every rule is unit-tested and
/// fuzzed without a bus. The bus fills in every message's sender itself, so a sender is a fact; any local
/// user may send a signal, though, broadcast or addressed to us, whatever our match rules say. So:
/// a PropertiesChanged counts only when its sender is the current owner of org.freedesktop.network1, and a
/// NameOwnerChanged only when the bus sent it. Of what networkd says, only its documented state properties
/// with state words as values pass; every other name or value is dropped with a note.
/// </summary>
public static class NetworkdSignals
{
    public const string BusName = "org.freedesktop.DBus";
    public const string BusPath = "/org/freedesktop/DBus";

    /// <summary>More properties than networkd has in one signal is not networkd.</summary>
    private const int MaxProperties = 64;

    /// <summary>NameOwnerChanged(name, old, new) for networkd's name, sent by the bus; else null.</summary>
    public static (string Old, string New)? OwnerChange(DBusMessage signal)
    {
        if (signal.Sender != BusName || signal.Member != "NameOwnerChanged" || signal.Interface != BusName ||
            signal.Path != BusPath || signal.Signature != "sss")
            return null;
        var reader = signal.BodyReader();
        var (name, old, owner) = (reader.ReadString(), reader.ReadString(), reader.ReadString());
        return name == NetworkdBus.Service ? (old, owner) : null;
    }

    /// <summary>Whether the bus itself sent this (NameAcquired, NameOwnerChanged): never a forgery.</summary>
    public static bool IsFromBus(DBusMessage message) => message.Sender == BusName;

    /// <summary>Whether <paramref name="owner"/> (networkd's unique name, null while unknown) sent it.</summary>
    public static bool IsFromNetworkd(DBusMessage message, string? owner) =>
        owner is not null && message.Sender == owner;

    /// <summary>
    /// A PropertiesChanged of networkd's manager (ifindex 0) or a link, with only the properties that pass;
    /// null when the signal is not one (other member, interface, path or signature). What was dropped is
    /// said in <paramref name="dropped"/>, each note already safe to log.
    /// </summary>
    public static LinkStatesChanged? PropertiesChanged(DBusMessage signal, List<string> dropped)
    {
        if (signal.Member != "PropertiesChanged" || signal.Interface != NetworkdBus.PropertiesInterface || signal.Path is null)
            return null;
        if (signal.Signature != "sa{sv}as")
        {
            dropped.Add($"PropertiesChanged on {PeerText.Excerpt(signal.Path)} with signature \"{PeerText.Excerpt(signal.Signature)}\" (expected sa{{sv}}as)");
            return null;
        }
        var reader = signal.BodyReader();
        var iface = reader.ReadString();
        int index;
        if (signal.Path == NetworkdBus.ManagerPath && iface == NetworkdBus.ManagerInterface)
            index = 0;
        else if (NetworkdBus.IfIndexOf(signal.Path) is { } link && iface == NetworkdBus.LinkInterface)
            index = link;
        else
            return null;

        var changed = Filter(index == 0 ? ScriptVariables.ManagerStates : ScriptVariables.LinkStates,
            reader.ReadStringVariantDictionary(), dropped, signal.Path);
        return changed.IsEmpty ? null : new LinkStatesChanged(index, changed);
    }

    /// <summary>
    /// GetAll's answer for a link or the manager, with the same rules as a signal's. A reply that is not an "a{sv}",
    /// or does not decode, is a <see cref="DBusFormatException"/>.
    /// </summary>
    public static ImmutableDictionary<string, string> States(bool manager, DBusMessage reply, List<string> dropped, string path) =>
        Filter(manager ? ScriptVariables.ManagerStates : ScriptVariables.LinkStates, reply.BodyReader("a{sv}").ReadStringVariantDictionary(),
            dropped, path).ToImmutableDictionary();

    private static ImmutableArray<KeyValuePair<string, string>> Filter(IReadOnlyList<string> known, Dictionary<string, DBusVariantText> properties,
        List<string> dropped, string path)
    {
        if (properties.Count > MaxProperties)
        {
            dropped.Add($"{properties.Count} properties on {PeerText.Excerpt(path)}, more than networkd has");
            return [];
        }
        var changed = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        foreach (var (name, value) in properties)
        {
            // The names and words kept are the shared instances: a link's states live as long as the link.
            if (ScriptVariables.KnownName(known, name) is not { } property)
            {
                // Not a state networkd documents (BitRates, NamespaceId, a newer property, or a forgery): never a variable.
                dropped.Add($"property \"{PeerText.Excerpt(name)}\" on {PeerText.Excerpt(path)}: not a state property");
                continue;
            }
            if (value.Text is not { } text)
            {
                dropped.Add($"{name} on {PeerText.Excerpt(path)}: a value of type \"{PeerText.Excerpt(value.Signature)}\", not a state word");
                continue;
            }
            if (!ScriptVariables.IsStateWord(text))
            {
                dropped.Add($"{name} on {PeerText.Excerpt(path)}: \"{PeerText.Excerpt(text)}\" is not a state word");
                continue;
            }
            changed.Add(new(property, ScriptVariables.SharedStateWord(text)));
        }
        return changed.ToImmutable();
    }
}
