using System.Globalization;
using NetworkBroker.DBus;

namespace NetworkBroker.Networkd;

/// <summary>systemd-networkd's names on the bus (org.freedesktop.network1(5)).</summary>
public static class NetworkdBus
{
    /// <summary>The user systemd-networkd runs as (its unit's User=); root may own its name too.</summary>
    public const string User = "systemd-network";

    public const string Service = "org.freedesktop.network1";
    public const string ManagerPath = "/org/freedesktop/network1";
    public const string LinkPathPrefix = "/org/freedesktop/network1/link/";
    public const string ManagerInterface = "org.freedesktop.network1.Manager";
    public const string LinkInterface = "org.freedesktop.network1.Link";
    public const string PropertiesInterface = "org.freedesktop.DBus.Properties";

    /// <summary>
    /// networkd's PropertiesChanged of the manager and every link. The bus routes by it, but the handler believes a
    /// signal only from networkd's current unique name (<see cref="NetworkdSignals.IsFromNetworkd"/>): a signal
    /// addressed to us arrives whatever the rule says.
    /// </summary>
    public static readonly DBusMatchRule PropertiesMatch = new()
    {
        Type = DBusMessageType.Signal,
        Sender = Service,
        Interface = PropertiesInterface,
        Member = "PropertiesChanged",
        PathNamespace = ManagerPath,
    };

    /// <summary>networkd joining, leaving or changing hands; believed only from the bus itself (<see cref="NetworkdSignals.OwnerChange"/>).</summary>
    public static readonly DBusMatchRule OwnerMatch = new()
    {
        Type = DBusMessageType.Signal,
        Sender = NetworkdSignals.BusName,
        Interface = NetworkdSignals.BusName,
        Member = "NameOwnerChanged",
        Arg0 = Service,
    };

    /// <summary>
    /// ListLinks' answer: each link's ifindex, name and object path, as sent (the caller decides what to believe).
    /// A reply of another signature is a format error.
    /// </summary>
    public static List<(int IfIndex, string Name, string Path)> ReadLinks(DBusMessage reply)
    {
        var reader = reply.BodyReader("a(iso)");
        var links = new List<(int, string, string)>();
        var end = reader.ReadArrayStart('(');
        while (reader.HasNext(end))
        {
            reader.AlignStruct();
            links.Add((reader.ReadInt32(), reader.ReadString(), reader.ReadObjectPath()));
        }
        reader.ExpectArrayEnd(end);
        return links;
    }

    /// <summary>
    /// The ifindex of a link object path ("/org/freedesktop/network1/link/_35" is 5), or null. The label must be
    /// the number as networkd writes it: ASCII digits, no sign, no leading zero, within int. int.TryParse alone
    /// takes trailing NULs, so "_32_00" (a "2" and an escaped NUL) would speak for ifindex 2.
    /// </summary>
    public static int? IfIndexOf(string path)
    {
        if (!path.StartsWith(LinkPathPrefix, StringComparison.Ordinal))
            return null;
        var label = DBusObjectPath.UnescapeLabel(path[LinkPathPrefix.Length..]);
        if (label is null || label.Length is 0 or > 10 || label[0] == '0' || label.AsSpan().ContainsAnyExceptInRange('0', '9'))
            return null;
        var index = long.Parse(label, NumberStyles.None, CultureInfo.InvariantCulture);
        return index <= int.MaxValue ? (int)index : null;
    }

    public static string LinkPath(int ifindex) => LinkPathPrefix + DBusObjectPath.EscapeLabel(ifindex.ToString(CultureInfo.InvariantCulture));
}
