using System.Globalization;
using NetworkBroker.DBus;

namespace NetworkBroker.Networkd;

/// <summary>systemd-networkd's names on the bus (org.freedesktop.network1(5)).</summary>
public static class NetworkdBus
{
    public const string Service = "org.freedesktop.network1";
    public const string ManagerPath = "/org/freedesktop/network1";
    public const string LinkPathPrefix = "/org/freedesktop/network1/link/";
    public const string ManagerInterface = "org.freedesktop.network1.Manager";
    public const string LinkInterface = "org.freedesktop.network1.Link";
    public const string PropertiesInterface = "org.freedesktop.DBus.Properties";

    public const string PropertiesMatch =
        "type='signal',sender='org.freedesktop.network1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/network1'";

    public const string OwnerMatch =
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.freedesktop.network1'";

    /// <summary>The ifindex of a link object path ("/org/freedesktop/network1/link/_35" is 5), or null.</summary>
    public static int? IfIndexOf(string path)
    {
        if (!path.StartsWith(LinkPathPrefix, StringComparison.Ordinal))
            return null;
        var label = DBusObjectPath.UnescapeLabel(path[LinkPathPrefix.Length..]);
        return int.TryParse(label, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index > 0 ? index : null;
    }

    public static string LinkPath(int ifindex) => LinkPathPrefix + DBusObjectPath.EscapeLabel(ifindex.ToString(CultureInfo.InvariantCulture));
}
