using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using NetworkBroker.Core;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Networkd;
using NetworkBroker.Tests.Support;
using NetworkBroker.Udev;

namespace NetworkBroker.Tests.Core;

/// <summary>
/// The json variable against what networkd-dispatcher itself gave for the same link at the same moment
/// (Fixtures/networkd-dispatcher: its own code on the real networkctl's output, and the kernel's bytes).
/// </summary>
public class NetworkdDispatcherJsonTests
{
    /// <summary>From ethtool, which the broker does not ask.</summary>
    private static readonly string[] EthtoolKeys = ["Auto negotiation", "Speed", "Duplex", "Port"];

    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "networkd-dispatcher", name);

    private static readonly Dictionary<string, string> StateNames = new()
    {
        ["ADMIN_STATE"] = "AdministrativeState", ["OPER_STATE"] = "OperationalState", ["CARRIER_STATE"] = "CarrierState",
        ["ADDRESS_STATE"] = "AddressState", ["IPV4_ADDRESS_STATE"] = "IPv4AddressState", ["IPV6_ADDRESS_STATE"] = "IPv6AddressState",
        ["ONLINE_STATE"] = "OnlineState",
    };

    /// <summary>The captured link as the broker would have it: the kernel's dumps in its model, networkd's files read as it reads them.</summary>
    private static NetworkdDispatcherLink CapturedLink(TempDirectory netif, UdevLink? udev = null)
    {
        var kernel = new KernelModel();
        foreach (var dump in new[] { "dump-links.bin", "dump-addresses.bin", "dump-routes.bin" })
        {
            var reader = new NetlinkMessageReader(File.ReadAllBytes(FixturePath(dump)));
            while (reader.Next(out var message))
                if (KernelNotification.Decode(message) is { } notification)
                    kernel.Apply(notification);
        }
        var link = kernel.Link("eth1")!;
        Directory.CreateDirectory(netif.Combine("links"));
        Directory.CreateDirectory(netif.Combine("leases"));
        File.Copy(FixturePath("netif-link"), netif.Combine("links", link.Index.ToString()));
        File.Copy(FixturePath("netif-lease"), netif.Combine("leases", link.Index.ToString()));
        var files = new NetworkdFiles(netif.Path);
        var state = files.LinkState(link.Index);
        var states = state.Where(s => StateNames.ContainsKey(s.Key)).ToImmutableDictionary(s => StateNames[s.Key], s => s.Value);
        return new NetworkdDispatcherLink("eth1", link, kernel.Addresses(link.Index).ToList(), kernel.Routes(link.Index).ToList(),
            states, state, files.Lease(link.Index), udev ?? UdevLink.None, null, null);
    }

    private static Dictionary<string, JsonElement> Parse(string json) =>
        JsonDocument.Parse(json).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());

    [Fact]
    public void The_json_has_every_key_and_value_networkd_dispatcher_gave_for_the_same_link_but_ethtools()
    {
        using var netif = new TempDirectory();
        var ours = Parse(NetworkdDispatcherJson.Build(CapturedLink(netif)));
        var theirs = Parse(File.ReadAllText(FixturePath("networkd-dispatcher.json")));

        Assert.All(EthtoolKeys, k => Assert.True(theirs.ContainsKey(k), $"the capture should show {k}"));
        Assert.Equal(theirs.Keys.Except(EthtoolKeys).Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in ours)
        {
            Assert.Equal(theirs[key].ValueKind, value.ValueKind);
            Assert.True(theirs[key].ToString() == value.ToString(), $"{key}: networkd-dispatcher gave {theirs[key]}, we give {value}");
        }
    }

    [Fact]
    public void The_text_is_written_as_pythons_json_dumps_writes_it()
    {
        using var netif = new TempDirectory();
        var ours = NetworkdDispatcherJson.Build(CapturedLink(netif));
        var theirs = File.ReadAllText(FixturePath("networkd-dispatcher.json")).TrimEnd('\n');
        // The same bytes once the ethtool keys are taken out of networkd-dispatcher's text.
        foreach (var key in EthtoolKeys)
            theirs = System.Text.RegularExpressions.Regex.Replace(theirs, $"\"{key}\": \\[\"[^\"]*\"\\], ", "");
        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void Its_own_keys_are_strings_and_State_joins_the_two_states_of_the_event()
    {
        using var netif = new TempDirectory();
        var link = CapturedLink(netif) with
        {
            States = ImmutableDictionary<string, string>.Empty.Add("OperationalState", "degraded").Add("AdministrativeState", "configuring"),
        };
        var json = Parse(NetworkdDispatcherJson.Build(link));
        Assert.Equal("degraded (configuring)", json["State"].GetString());
        Assert.Equal("degraded", json["OperationalState"].GetString());
        Assert.Equal("configuring", json["AdministrativeState"].GetString());
        Assert.Equal("eth1", json["InterfaceName"].GetString());
        Assert.Equal("ether", json["Type"].GetString());
        Assert.Equal(["unknown"], json["Online state"].EnumerateArray().Select(e => e.GetString()));
        Assert.False(json.ContainsKey("ESSID"));
    }

    [Fact]
    public void A_link_networkd_and_udev_know_nothing_of_still_has_networkctls_fixed_lines_and_no_empty_lists()
    {
        var link = new LinkMessage { Index = 7, Name = "tun0", Type = 65534, Mtu = 1500 };
        var json = Parse(NetworkdDispatcherJson.Build(new NetworkdDispatcherLink("tun0", link, [], [],
            ImmutableDictionary<string, string>.Empty, new Dictionary<string, string>(), null, UdevLink.None, null, null)));
        Assert.Equal(["AdministrativeState", "InterfaceName", "Link File", "MTU", "Network File", "Online state", "OperationalState", "State", "Type"],
            json.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("n/a", json["Link File"][0].GetString());
        Assert.Equal("n/a", json["Network File"][0].GetString());
        Assert.Equal("1500", json["MTU"][0].GetString());
        Assert.Equal("none", json["Type"].GetString());
        Assert.Equal(" ()", json["State"].GetString());
    }

    [Fact]
    public void Udev_gives_Path_Driver_Vendor_Model_and_the_link_file_and_a_wlan_gets_ESSID()
    {
        using var netif = new TempDirectory();
        var udev = UdevLink.Parse("E:ID_PATH=pci-0000:00:14.3\nE:ID_NET_DRIVER=iwlwifi\nE:ID_VENDOR_FROM_DATABASE=Intel Corporation\n" +
            "E:ID_MODEL_FROM_DATABASE=Wi-Fi 6 AX201\nE:ID_NET_LINK_FILE=/usr/lib/systemd/network/99-default.link\n");
        var json = Parse(NetworkdDispatcherJson.Build(CapturedLink(netif, udev) with { DeviceType = "wlan" }));
        Assert.Equal("pci-0000:00:14.3", json["Path"][0].GetString());
        Assert.Equal("iwlwifi", json["Driver"][0].GetString());
        Assert.Equal("Intel Corporation", json["Vendor"][0].GetString());
        Assert.Equal("Wi-Fi 6 AX201", json["Model"][0].GetString());
        Assert.Equal("/usr/lib/systemd/network/99-default.link", json["Link File"][0].GetString());
        Assert.Equal("wlan", json["Type"].GetString());
        Assert.Equal("", json["ESSID"].GetString());
    }

    [Fact]
    public void Text_outside_printable_ASCII_is_escaped_as_python_escapes_it()
    {
        var link = new LinkMessage { Index = 7, Name = "x", Type = 1 };
        var json = NetworkdDispatcherJson.Build(new NetworkdDispatcherLink("é\"\\\n\u007f😀", link, [], [],
            ImmutableDictionary<string, string>.Empty, new Dictionary<string, string>(), null, UdevLink.None, null, null));
        Assert.Contains("\"InterfaceName\": \"\\u00e9\\\"\\\\\\n\\u007f\\ud83d\\ude00\"", json);
        Assert.Equal("é\"\\\n\u007f😀", Parse(json)["InterfaceName"].GetString());
    }

    [Theory]
    [InlineData("ff45650a4000020000ab110033bdebf95e192c", "IAID:0x45650a40/DUID")]
    [InlineData("ff0000000a00020000ab11", "IAID:0xa/DUID")]
    [InlineData("01525400a0b10c", "52:54:0:a0:b1:c")]
    [InlineData("00686f7374", "host")]
    [InlineData("0068000a", "DATA")]
    [InlineData("0700", "ARP/LL")]
    [InlineData("01525400", null)]
    [InlineData("ff00", null)]
    [InlineData("zz", null)]
    [InlineData("0", null)]
    public void The_DHCP4_client_id_reads_as_networkctl_shows_it(string hex, string? shown) =>
        Assert.Equal(shown, NetworkdDispatcherJson.ClientId(hex));

    [Fact]
    public void Addresses_are_in_networkctls_order_without_deprecated_ones()
    {
        static AddressMessage A(string ip, byte scope = 0, uint flags = 0) => new()
        {
            Address = IPAddress.Parse(ip), Family = ip.Contains(':') ? AddressFamily.IPv6 : AddressFamily.IPv4, Scope = scope, Flags = flags,
        };
        var ordered = NetworkdDispatcherJson.Addresses(
            [A("fe80::1", 253), A("2001:db8::9"), A("10.0.0.200"), A("10.5.0.1", 253), A("10.0.0.14"), A("2001:db8::1", flags: 0x20)]);
        Assert.Equal(["10.0.0.14", "10.0.0.200", "10.5.0.1", "2001:db8::9", "fe80::1"], ordered);
    }
}
