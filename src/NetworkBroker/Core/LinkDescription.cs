using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Core;

/// <summary>
/// The JSON= link description, in the Go network-event-broker's schema (its README): the kernel's view from the netlink
/// model, networkd's states and runtime file, and the driver from sysfs. Built when the event is
/// handled, from the model as of that event; no bus call, no netlink request.
/// </summary>
public static class LinkDescription
{
    /// <param name="driver">The driver sysfs names, for when udev does not say (null for a virtual link: its kind is shown).</param>
    /// <param name="udev">udev's database entry: the device path, vendor, model and driver (none without udev).</param>
    /// <param name="domainSearch">The search domains (networkd's, or the lease's option 119); null: networkd's file's DOMAINS.</param>
    public static string Build(LinkMessage link, IEnumerable<AddressMessage> addresses, IEnumerable<RouteMessage> routes,
        ImmutableDictionary<string, string> states, IReadOnlyDictionary<string, string> networkdFile, string? driver,
        Udev.UdevLink? udev = null, string? domainSearch = null)
    {
        udev ??= Udev.UdevLink.None;
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var json = new Utf8JsonWriter(buffer))
        {
            string State(string name) => states.GetValueOrDefault(name) ?? "";
            json.WriteStartObject();
            json.WriteNumber("Index", link.Index);
            json.WriteNumber("MTU", link.Mtu);
            json.WriteNumber("TxQLen", link.TxQueueLength);
            // Names are the kernel's bytes: one that is not UTF-8 shows its bytes as \xNN (KernelText.Display).
            json.WriteString("Name", Netlink.KernelText.Display(link.Name));
            json.WriteString("AlternativeNames", string.Join(' ', link.AlternativeNames.Select(Netlink.KernelText.Display)));
            json.WriteString("HardwareAddr", Mac(link.HardwareAddress));
            json.WriteString("Flags", FlagNames(link.Flags));
            json.WriteNumber("RawFlags", (uint)link.Flags);
            json.WriteNumber("ParentIndex", link.ParentIndex);
            json.WriteNumber("MasterIndex", link.Master);
            json.WriteString("Namespace", "");
            json.WriteString("Alias", link.Alias ?? "");
            WriteStatistics(json, link.Statistics);
            json.WriteNumber("Promisc", link.Promiscuity);
            json.WriteStartObject("Xdp");
            json.WriteNumber("Fd", 0);
            json.WriteBoolean("Attached", false);
            json.WriteNumber("Flags", 0);
            json.WriteNumber("ProgId", 0);
            json.WriteEndObject();
            json.WriteString("EncapType", LinkType(link.Type));
            json.WriteString("Protinfo", "");
            json.WriteString("OperState", OperStateName(link.OperState));
            json.WriteNumber("NetNsID", 0);
            json.WriteNumber("NumTxQueues", link.TxQueues);
            json.WriteNumber("NumRxQueues", link.RxQueues);
            json.WriteNumber("GSOMaxSize", link.GsoMaxSize);
            json.WriteNumber("GSOMaxSegs", link.GsoMaxSegments);
            json.WriteNumber("Group", link.Group);
            json.WriteString("Slave", "");
            json.WriteString("KernelOperState", OperStateName(link.OperState));
            json.WriteString("AddressState", State("AddressState"));
            json.WriteString("CarrierState", State("CarrierState"));
            json.WriteString("Driver", udev.Driver ?? driver ?? link.Kind ?? "");
            json.WriteString("IPv4AddressState", State("IPv4AddressState"));
            json.WriteString("IPv6AddressState", State("IPv6AddressState"));
            json.WriteString("LinkFile", udev.LinkFile ?? "");
            json.WriteString("Model", udev.Model ?? "");
            json.WriteString("OnlineState", State("OnlineState"));
            json.WriteString("OperationalState", State("OperationalState"));
            json.WriteString("Path", udev.Path ?? "");
            json.WriteString("SetupState", State("AdministrativeState"));
            json.WriteString("Type", LinkType(link.Type));
            json.WriteString("Vendor", udev.Vendor ?? "");
            json.WriteString("ProductID", udev.ModelId ?? "");
            json.WriteString("Manufacturer", "");
            // The Go project's `json:"NetworkFile,omitempty"`: no key at all when there is no .network file.
            if (networkdFile.GetValueOrDefault("NETWORK_FILE") is { Length: > 0 } networkFile)
                json.WriteString("NetworkFile", networkFile);
            WriteList(json, "DNS", networkdFile.GetValueOrDefault("DNS"));
            WriteList(json, "Domains", networkdFile.GetValueOrDefault("DOMAINS"));
            WriteList(json, "DomainSearch", domainSearch ?? networkdFile.GetValueOrDefault("DOMAINS"));
            WriteList(json, "NTP", networkdFile.GetValueOrDefault("NTP"));

            json.WriteStartArray("Address");
            foreach (var address in addresses)
            {
                json.WriteStartObject();
                json.WriteString("IP", address.Address.ToString());
                json.WriteString("Family", address.Family == AddressFamily.IPv6 ? "IPv6" : "IPv4");
                json.WriteNumber("Mask", address.PrefixLength);
                json.WriteString("Label", address.Label ?? "");
                json.WriteNumber("Flags", address.Flags);
                json.WriteNumber("Scope", address.Scope);
                json.WriteString("Peer", address.Peer?.ToString() ?? "");
                json.WriteString("Broadcast", address.Broadcast?.ToString() ?? "");
                json.WriteNumber("PreferedLft", address.PreferredLifetime);
                json.WriteNumber("ValidLft", address.ValidLifetime);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("Routes");
            foreach (var route in routes.Where(r => r.Table == RouteTable.Main))
            {
                json.WriteStartObject();
                json.WriteNumber("Scope", route.Scope);
                json.WriteStartObject("Dst");
                json.WriteString("IP", route.Destination?.ToString() ?? "");
                json.WriteNumber("Mask", route.DestinationLength);
                json.WriteEndObject();
                json.WriteString("Src", route.PreferredSource?.ToString() ?? "");
                json.WriteString("Gw", route.Gateway?.ToString() ?? "");
                json.WriteString("MultiPath", string.Join(' ', route.MultiPath.Select(h => $"{h.Gateway}@{h.Index}")));
                json.WriteNumber("Protocol", route.Protocol);
                json.WriteNumber("Priority", route.Priority);
                json.WriteNumber("Table", route.Table);
                json.WriteNumber("Type", route.Type);
                json.WriteNumber("Tos", route.Tos);
                json.WriteNull("Flags");
                json.WriteString("MPLSDst", "");
                json.WriteString("NewDst", "");
                json.WriteString("Encap", "");
                json.WriteNumber("MTU", route.Mtu);
                json.WriteNumber("AdvMSS", route.AdvMss);
                json.WriteNumber("Hoplimit", route.HopLimit);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteStatistics(Utf8JsonWriter json, LinkStatistics? s)
    {
        json.WriteStartObject("Statistics");
        s ??= new LinkStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        (string, ulong)[] fields =
        [
            ("RxPackets", s.RxPackets), ("TxPackets", s.TxPackets), ("RxBytes", s.RxBytes), ("TxBytes", s.TxBytes),
            ("RxErrors", s.RxErrors), ("TxErrors", s.TxErrors), ("RxDropped", s.RxDropped), ("TxDropped", s.TxDropped),
            ("Multicast", s.Multicast), ("Collisions", s.Collisions), ("RxLengthErrors", s.RxLengthErrors),
            ("RxOverErrors", s.RxOverErrors), ("RxCrcErrors", s.RxCrcErrors), ("RxFrameErrors", s.RxFrameErrors),
            ("RxFifoErrors", s.RxFifoErrors), ("RxMissedErrors", s.RxMissedErrors), ("TxAbortedErrors", s.TxAbortedErrors),
            ("TxCarrierErrors", s.TxCarrierErrors), ("TxFifoErrors", s.TxFifoErrors), ("TxHeartbeatErrors", s.TxHeartbeatErrors),
            ("TxWindowErrors", s.TxWindowErrors), ("RxCompressed", s.RxCompressed), ("TxCompressed", s.TxCompressed),
        ];
        foreach (var (name, value) in fields)
            json.WriteNumber(name, value);
        json.WriteEndObject();
    }

    /// <summary>Space-separated values of networkd's file as an array; null (as the Go network-event-broker writes) when there are none.</summary>
    private static void WriteList(Utf8JsonWriter json, string name, string? values)
    {
        var items = values?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        if (items.Length == 0)
        {
            json.WriteNull(name);
            return;
        }
        json.WriteStartArray(name);
        foreach (var item in items)
            json.WriteStringValue(item);
        json.WriteEndArray();
    }

    public static string Mac(byte[]? address) =>
        address is null || address.Length == 0 ? "" : string.Join(':', address.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    public static string FlagNames(LinkFlags flags)
    {
        var names = new List<string>(5);
        if (flags.HasFlag(LinkFlags.Up)) names.Add("up");
        if (flags.HasFlag(LinkFlags.Broadcast)) names.Add("broadcast");
        if (flags.HasFlag(LinkFlags.Loopback)) names.Add("loopback");
        if (flags.HasFlag(LinkFlags.PointToPoint)) names.Add("pointtopoint");
        if (flags.HasFlag(LinkFlags.Multicast)) names.Add("multicast");
        if (flags.HasFlag(LinkFlags.Running)) names.Add("running");
        return string.Join('|', names);
    }

    public static string OperStateName(OperState state) => state switch
    {
        OperState.NotPresent => "not-present",
        OperState.Down => "down",
        OperState.LowerLayerDown => "lower-layer-down",
        OperState.Testing => "testing",
        OperState.Dormant => "dormant",
        OperState.Up => "up",
        _ => "unknown",
    };

    /// <summary>ARPHRD_* as networkd and iproute2 name it.</summary>
    public static string LinkType(ushort type) => type switch
    {
        1 => "ether",
        772 => "loopback",
        65534 => "none",
        768 => "ipip",
        776 => "sit",
        778 => "gre",
        823 => "ip6gre",
        769 => "tunnel6",
        32 => "infiniband",
        _ => type.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
