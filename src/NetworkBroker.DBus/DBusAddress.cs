using System.Net.Sockets;

namespace NetworkBroker.DBus;

/// <summary>D-Bus server addresses ("unix:path=/run/dbus/system_bus_socket", "unix:abstract=x"; several separated by ';').</summary>
public static class DBusAddress
{
    public const string DefaultSystemBus = "unix:path=/run/dbus/system_bus_socket";

    /// <summary>DBUS_SYSTEM_BUS_ADDRESS, as every systemd tool honours it, else the standard socket.</summary>
    public static string SystemBus =>
        Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS") is { Length: > 0 } address ? address : DefaultSystemBus;

    /// <summary>The unix endpoints of an address, in the order to try them; other transports are skipped.</summary>
    public static IReadOnlyList<UnixDomainSocketEndPoint> Parse(string address)
    {
        var endpoints = new List<UnixDomainSocketEndPoint>();
        foreach (var entry in address.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.IndexOf(':');
            if (colon < 0 || entry[..colon] != "unix")
                continue;
            foreach (var pair in entry[(colon + 1)..].Split(','))
            {
                var eq = pair.IndexOf('=');
                if (eq < 0)
                    continue;
                var value = Unescape(pair[(eq + 1)..]);
                switch (pair[..eq])
                {
                    case "path": endpoints.Add(new UnixDomainSocketEndPoint(value)); break;
                    case "abstract": endpoints.Add(new UnixDomainSocketEndPoint("\0" + value)); break;
                }
            }
        }
        if (endpoints.Count == 0)
            throw new DBusConnectionException($"no unix socket in the bus address \"{address}\"");
        return endpoints;
    }

    /// <summary>Values escape bytes as %XX.</summary>
    private static string Unescape(string value) => value.Contains('%') ? Uri.UnescapeDataString(value) : value;
}
