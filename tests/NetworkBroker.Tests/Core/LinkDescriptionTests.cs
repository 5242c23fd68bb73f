using System.Collections.Immutable;
using System.Text.Json;
using NetworkBroker.Core;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Udev;

namespace NetworkBroker.Tests.Core;

/// <summary>
/// JSON= against the Go project's field names and JSON types (Fixtures/go-network-event-broker/json-fields.txt,
/// derived from its json.go), for a real link: the kernel's bytes captured beside networkd-dispatcher's output.
/// </summary>
public class LinkDescriptionTests
{
    private static readonly KernelModel Kernel = CapturedKernel();

    private static KernelModel CapturedKernel()
    {
        var kernel = new KernelModel();
        foreach (var dump in new[] { "dump-links.bin", "dump-addresses.bin", "dump-routes.bin" })
        {
            var reader = new NetlinkMessageReader(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "networkd-dispatcher", dump)));
            while (reader.Next(out var message))
                if (KernelNotification.Decode(message) is { } notification)
                    kernel.Apply(notification);
        }
        return kernel;
    }

    /// <summary>(struct, field) -> (type, note) from the fixture.</summary>
    private static readonly Dictionary<(string Struct, string Field), (string Type, string Note)> GoFields =
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "go-network-event-broker", "json-fields.txt"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(' '))
            .ToDictionary(f => (f[0], f[1]), f => (f[2], f.Length > 3 ? f[3] : ""));

    private static JsonElement Describe(IReadOnlyDictionary<string, string>? networkdFile = null, UdevLink? udev = null, string? domainSearch = null,
        string? driver = "veth-sysfs")
    {
        var link = Kernel.Link("eth1")!;
        var states = ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable").Add("AdministrativeState", "configured");
        networkdFile ??= new Dictionary<string, string>
        {
            ["NETWORK_FILE"] = "/etc/systemd/network/10-eth1.network", ["DNS"] = "10.9.9.9 10.232.0.53", ["DOMAINS"] = "example.com corp.test",
        };
        var json = LinkDescription.Build(link, Kernel.Addresses(link.Index), Kernel.Routes(link.Index), states, networkdFile, driver, udev, domainSearch);
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "number" => value.ValueKind == JsonValueKind.Number,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "object" => value.ValueKind == JsonValueKind.Object,
        "object|null" => value.ValueKind is JsonValueKind.Object or JsonValueKind.Null,
        "array|null" => value.ValueKind is JsonValueKind.Array or JsonValueKind.Null,
        _ => throw new ArgumentException($"unknown type {type} in the fixture"),
    };

    /// <summary>Every field of the Go struct is present with its type, and nothing else is there.</summary>
    private static void AssertShape(string structName, JsonElement value, bool networkFileExpected = true)
    {
        var expected = GoFields.Where(f => f.Key.Struct == structName).ToList();
        Assert.NotEmpty(expected);
        foreach (var ((_, field), (type, note)) in expected)
        {
            if (!value.TryGetProperty(field, out var actual))
            {
                Assert.True(note == "omitempty" && !networkFileExpected, $"{structName}.{field} is missing");
                continue;
            }
            Assert.True(HasType(actual, type), $"{structName}.{field} is {actual.ValueKind}, the Go project writes {type}");
        }
        var names = expected.Select(f => f.Key.Field).ToHashSet();
        Assert.All(value.EnumerateObject(), p => Assert.True(names.Contains(p.Name), $"{structName}.{p.Name} is not a field of the Go project's"));
    }

    [Fact]
    public void JSON_has_every_field_of_the_Go_projects_json_go_with_its_type_and_no_other()
    {
        var json = Describe();
        AssertShape("LinkDescribe", json);
        AssertShape("Xdp", json.GetProperty("Xdp"));
        var addresses = json.GetProperty("Address").EnumerateArray().ToList();
        var routes = json.GetProperty("Routes").EnumerateArray().ToList();
        Assert.Equal(5, addresses.Count);
        Assert.NotEmpty(routes);
        Assert.All(addresses, a => AssertShape("Address", a));
        Assert.All(routes, r => AssertShape("Route", r));
        Assert.All(routes, r => AssertShape("Dst", r.GetProperty("Dst")));
    }

    [Fact]
    public void NetworkFile_is_left_out_when_empty_as_omitempty_does()
    {
        var json = Describe(new Dictionary<string, string>());
        Assert.False(json.TryGetProperty("NetworkFile", out _));
        AssertShape("LinkDescribe", json, networkFileExpected: false);
        Assert.Equal("/etc/systemd/network/10-eth1.network", Describe().GetProperty("NetworkFile").GetString());
    }

    [Fact]
    public void Each_address_names_its_family()
    {
        var families = Describe().GetProperty("Address").EnumerateArray()
            .ToDictionary(a => a.GetProperty("IP").GetString()!, a => a.GetProperty("Family").GetString());
        Assert.Equal("IPv4", families["10.232.0.14"]);
        Assert.Equal("IPv4", families["10.5.0.1"]);
        Assert.Equal("IPv6", families["2001:db8::5"]);
        Assert.Equal("IPv6", families["fe80::8453:eeff:fef8:f2fb"]);
    }

    [Fact]
    public void DomainSearch_holds_networkds_search_domains_or_the_leases_search_list()
    {
        Assert.Equal(["example.com", "corp.test"], Describe().GetProperty("DomainSearch").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(["a.test", "b.test"], Describe(domainSearch: "a.test b.test").GetProperty("DomainSearch").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(JsonValueKind.Null, Describe(new Dictionary<string, string>()).GetProperty("DomainSearch").ValueKind);
    }

    [Fact]
    public void Path_Vendor_Model_ProductID_Driver_and_LinkFile_come_from_udev_when_it_knows_the_link()
    {
        var udev = UdevLink.Parse("E:ID_PATH=pci-0000:00:03.0\nE:ID_NET_DRIVER=virtio_net\nE:ID_VENDOR_FROM_DATABASE=Red Hat, Inc.\n" +
            "E:ID_MODEL_FROM_DATABASE=Virtio network device\nE:ID_MODEL_ID=0x1000\nE:ID_NET_LINK_FILE=/usr/lib/systemd/network/99-default.link\n");
        var json = Describe(udev: udev);
        Assert.Equal("pci-0000:00:03.0", json.GetProperty("Path").GetString());
        Assert.Equal("virtio_net", json.GetProperty("Driver").GetString());
        Assert.Equal("Red Hat, Inc.", json.GetProperty("Vendor").GetString());
        Assert.Equal("Virtio network device", json.GetProperty("Model").GetString());
        Assert.Equal("0x1000", json.GetProperty("ProductID").GetString());
        Assert.Equal("/usr/lib/systemd/network/99-default.link", json.GetProperty("LinkFile").GetString());
    }

    [Fact]
    public void Without_udev_they_are_empty_and_the_driver_is_sysfss_or_the_links_kind()
    {
        var json = Describe();
        foreach (var key in new[] { "Path", "Vendor", "Model", "ProductID", "LinkFile" })
            Assert.Equal("", json.GetProperty(key).GetString());
        Assert.Equal("veth-sysfs", json.GetProperty("Driver").GetString());
        Assert.Equal("veth", Describe(driver: null).GetProperty("Driver").GetString());
    }
}
