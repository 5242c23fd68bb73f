using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Core;

/// <summary>What <see cref="NetworkdDispatcherJson"/> describes: one link, as of one event.</summary>
/// <param name="Name">The link's name as shown (<see cref="KernelText.Display"/>).</param>
/// <param name="Link">The kernel's link, null when it is gone.</param>
/// <param name="States">networkd's states of the link as of the event.</param>
/// <param name="NetworkdFile">KEY=value pairs of networkd's state file of the link.</param>
/// <param name="Lease">networkd's DHCP lease file of the link (KEY=value lines), null without one.</param>
/// <param name="DeviceType">DEVTYPE of the link's uevent ("wlan", "bridge", ...), null when the kernel gives none.</param>
/// <param name="MasterName">The name of the link's master (bridge, bond), when it has one.</param>
public sealed record NetworkdDispatcherLink(
    string Name,
    LinkMessage? Link,
    IReadOnlyList<AddressMessage> Addresses,
    IReadOnlyList<RouteMessage> Routes,
    ImmutableDictionary<string, string> States,
    IReadOnlyDictionary<string, string> NetworkdFile,
    string? Lease,
    Udev.UdevLink Udev,
    string? DeviceType,
    string? MasterName);

/// <summary>
/// The <c>json</c> variable in networkd-dispatcher's shape (networkd-dispatcher 2.2, <c>get_interface_data</c>): its
/// own keys <c>Type</c>, <c>OperationalState</c>, <c>AdministrativeState</c>, <c>InterfaceName</c> and <c>State</c>
/// ("routable (configured)") as strings, and, as lists of strings, every line of <c>networkctl status</c> that it
/// parses, under networkctl's own label ("Address", "Gateway", "DNS", "Search Domains", "Hardware Address", "MTU",
/// "Network File", ...), with the lines networkctl (systemd 252) prints under the conditions it prints them.
/// Made from the event's own state (the kernel model, networkd's files, udev's database), never by running
/// networkctl. Written as Python's <c>json.dumps(data, sort_keys=True)</c> writes it: keys sorted, ", " and ": "
/// between items, everything outside printable ASCII escaped, so that a hook that greps the text finds it too.
/// Not produced (they need ethtool, nl80211, LLDP or a bus call): "Auto negotiation", "Speed", "Duplex", "Port",
/// "WiFi access point", "Bit Rate (Tx/Rx)", "Connected To", "Offered DHCP leases", "Carrier Bound To/By", the
/// bridge, bond and tunnel details, and the hardware database's vendor after a MAC address.
/// </summary>
public static class NetworkdDispatcherJson
{
    private const uint IFA_F_DEPRECATED = 0x20;
    private static readonly string[] AddressGenerationModes = ["eui64", "none", "stable-privacy", "random"];

    public static string Build(NetworkdDispatcherLink d)
    {
        var data = new SortedDictionary<string, object>(StringComparer.Ordinal);
        void List(string key, IEnumerable<string> values)
        {
            var list = values.ToList();
            if (list.Count > 0)
                data[key] = list;
        }
        void One(string key, string? value)
        {
            if (!string.IsNullOrEmpty(value))
                data[key] = new List<string> { value };
        }
        string? File(string key) => d.NetworkdFile.GetValueOrDefault(key) is { Length: > 0 } v ? v : null;
        IEnumerable<string> Words(string key) => File(key)?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

        var operational = d.States.GetValueOrDefault("OperationalState") ?? "";
        var administrative = d.States.GetValueOrDefault("AdministrativeState") ?? "";
        var link = d.Link;
        var type = d.DeviceType ?? (link is null ? "" : LinkDescription.LinkType(link.Type));
        data["Type"] = type;
        data["OperationalState"] = operational;
        data["AdministrativeState"] = administrative;
        data["InterfaceName"] = d.Name;
        // networkd-dispatcher's own, from the two states it keeps, over networkctl's "State:" line.
        data["State"] = $"{operational} ({administrative})";
        // networkctl prints these three always, "n/a" and "unknown" when it does not know.
        One("Link File", d.Udev.LinkFile ?? "n/a");
        One("Network File", File("NETWORK_FILE") ?? "n/a");
        One("Online state", d.States.GetValueOrDefault("OnlineState") is { Length: > 0 } online ? online : "unknown");
        One("Path", d.Udev.Path);
        One("Driver", d.Udev.Driver);
        One("Vendor", d.Udev.Vendor);
        One("Model", d.Udev.Model);
        if (link is not null)
        {
            One("Kind", link.Kind);
            List("Alternative Names", link.AlternativeNames.Select(KernelText.Display).Order(StringComparer.Ordinal));
            if (link.HardwareAddress is { Length: > 0 } mac)
                One("Hardware Address", LinkDescription.Mac(mac));
            if (link.PermanentAddress is { Length: > 0 } permanent && permanent.Any(b => b != 0)
                && !permanent.AsSpan().SequenceEqual(link.HardwareAddress))
                One("Permanent Hardware Address", LinkDescription.Mac(permanent));
            if (link.Mtu > 0)
                One("MTU", Mtu(link));
            One("QDisc", link.Qdisc);
            if (link.Master > 0)
                One("Master", d.MasterName ?? link.Master.ToString(CultureInfo.InvariantCulture));
            if (link.IPv6AddressGenerationMode is { } mode && mode < AddressGenerationModes.Length)
                One("IPv6 Address Generation Mode", AddressGenerationModes[mode]);
            if (link.TxQueues > 0 || link.RxQueues > 0)
                One("Number of Queues (Tx/Rx)", string.Create(CultureInfo.InvariantCulture, $"{link.TxQueues}/{link.RxQueues}"));
        }
        List("Address", Addresses(d.Addresses));
        List("Gateway", Gateways(d.Routes, link?.Index ?? 0));
        List("DNS", Words("DNS"));
        List("Search Domains", Words("DOMAINS"));
        List("Route Domains", Words("ROUTE_DOMAINS"));
        List("NTP", Words("NTP"));
        List("SIP", Words("SIP"));
        One("Activation Policy", File("ACTIVATION_POLICY"));
        if (File("REQUIRED_FOR_ONLINE") is { } required && Boolean(required) is { } isRequired)
            One("Required For Online", isRequired ? "yes" : "no");
        var lease = LeaseValues(d.Lease);
        One("Time Zone", lease.GetValueOrDefault("TIMEZONE"));
        One("DHCP4 Client ID", ClientId(lease.GetValueOrDefault("CLIENTID")));
        One("DHCP6 Client IAID", File("DHCP6_CLIENT_IAID"));
        One("DHCP6 Client DUID", File("DHCP6_CLIENT_DUID"));
        // networkd-dispatcher asks iw or iwconfig for a wireless link's ESSID; the broker does not ask the wireless stack.
        if (type == "wlan")
            data["ESSID"] = "";
        return Write(data);
    }

    /// <summary>networkctl's MTU line: "1500 (min: 68, max: 65535)", the range only as far as the kernel gives it.</summary>
    public static string Mtu(LinkMessage link)
    {
        var text = new StringBuilder().Append(link.Mtu.ToString(CultureInfo.InvariantCulture));
        if (link.MinMtu > 0 || link.MaxMtu > 0)
        {
            text.Append(" (");
            if (link.MinMtu > 0)
                text.Append("min: ").Append(link.MinMtu.ToString(CultureInfo.InvariantCulture));
            if (link.MinMtu > 0 && link.MaxMtu > 0)
                text.Append(", ");
            if (link.MaxMtu > 0)
                text.Append("max: ").Append(link.MaxMtu.ToString(CultureInfo.InvariantCulture));
            text.Append(')');
        }
        return text.ToString();
    }

    /// <summary>
    /// The link's addresses in networkctl's order (sd-netlink's local_addresses): IPv4 before IPv6, then by scope
    /// (global first), then by the address's bytes; deprecated ones left out. Plain addresses: networkd-dispatcher
    /// cuts networkctl's " (DHCP4 via ...)" off.
    /// </summary>
    public static IEnumerable<string> Addresses(IEnumerable<AddressMessage> addresses) => addresses
        .Where(a => (a.Flags & IFA_F_DEPRECATED) == 0 && a.Family is AddressFamily.IPv4 or AddressFamily.IPv6)
        .Select(a => (Message: a, Bytes: a.Address.GetAddressBytes()))
        .OrderBy(a => a.Message.Family == AddressFamily.IPv4 ? 0 : 1)
        .ThenBy(a => a.Message.Scope)
        .ThenBy(a => a.Bytes, ByteOrder.Instance)
        .Select(a => a.Message.Address.ToString());

    /// <summary>The link's default gateways in the main table, in networkctl's order: IPv4 first, then by metric and address.</summary>
    public static IEnumerable<string> Gateways(IEnumerable<RouteMessage> routes, int ifindex) => routes
        .Where(r => r.Table == RouteTable.Main && r.Type == RouteType.Unicast && r.DestinationLength == 0 && r.SourceLength == 0
            && r.OutputIndex == ifindex && r.Gateway is not null)
        .Select(r => (Route: r, Bytes: r.Gateway!.GetAddressBytes()))
        .OrderBy(r => r.Route.Family == AddressFamily.IPv4 ? 0 : 1)
        .ThenBy(r => r.Route.Priority)
        .ThenBy(r => r.Bytes, ByteOrder.Instance)
        .Select(r => r.Route.Gateway!.ToString());

    private static Dictionary<string, string> LeaseValues(string? lease)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lease?.Split('\n') ?? [])
        {
            var eq = line.IndexOf('=');
            if (eq > 0)
                values[line[..eq]] = line[(eq + 1)..];
        }
        return values;
    }

    /// <summary>systemd's parse_boolean, for REQUIRED_FOR_ONLINE.</summary>
    private static bool? Boolean(string value) => value.ToLowerInvariant() switch
    {
        "1" or "yes" or "y" or "true" or "t" or "on" => true,
        "0" or "no" or "n" or "false" or "f" or "off" => false,
        _ => null,
    };

    /// <summary>
    /// networkctl's "DHCP4 Client ID" (sd_dhcp_client_id_to_string) from the lease's CLIENTID= hex: type 255 is
    /// "IAID:0x&lt;iaid&gt;/DUID", type 1 the MAC, type 0 its text if printable, types 2 to 254 "ARP/LL".
    /// </summary>
    public static string? ClientId(string? hex)
    {
        if (hex is null || hex.Length < 4 || hex.Length % 2 != 0 || hex.Length > 2 * 130)
            return null;
        byte[] id;
        try
        {
            id = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
        var inv = CultureInfo.InvariantCulture;
        switch (id[0])
        {
            case 0:
                var text = id.AsSpan(1);
                foreach (var b in text)
                    if (b is < 0x20 or >= 0x7f)
                        return "DATA";
                return Encoding.ASCII.GetString(text);
            case 1:
                return id.Length == 7 ? string.Join(':', id.Skip(1).Select(b => b.ToString("x", inv))) : null;
            case 255:
                if (id.Length < 7)
                    return null;
                var iaid = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(id.AsSpan(1));
                return "IAID:0x" + iaid.ToString("x", inv) + "/DUID";
            default:
                return "ARP/LL";
        }
    }

    /// <summary>Python's json.dumps(data, sort_keys=True): ", " and ": " separators, ensure_ascii escapes.</summary>
    private static string Write(SortedDictionary<string, object> data)
    {
        var json = new StringBuilder(1024).Append('{');
        var first = true;
        foreach (var (key, value) in data)
        {
            if (!first)
                json.Append(", ");
            first = false;
            String(json, key);
            json.Append(": ");
            if (value is string text)
                String(json, text);
            else
            {
                json.Append('[');
                var items = (List<string>)value;
                for (var i = 0; i < items.Count; i++)
                {
                    if (i > 0)
                        json.Append(", ");
                    String(json, items[i]);
                }
                json.Append(']');
            }
        }
        return json.Append('}').ToString();
    }

    private static void String(StringBuilder json, string value)
    {
        json.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                case '\b': json.Append("\\b"); break;
                case '\f': json.Append("\\f"); break;
                case >= ' ' and <= '~': json.Append(c); break;
                // UTF-16 code units, as Python writes them (a surrogate pair stays two escapes).
                default: json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
            }
        }
        json.Append('"');
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
