using System.Text.Json;
using NetworkBroker.IntegrationTests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Networkd;

/// <summary>EmitNetworkdDispatcherJSON=true against the real systemd-networkd and its own networkctl.</summary>
public class NetworkdDispatcherJsonTests : IDisposable
{
    /// <summary>No IPv6 link-local address: nothing changes on the link once networkd has said "configured".</summary>
    private const string SettledNetwork = "[Match]\nName=eth1\n[Network]\nAddress=10.231.0.2/24\nGateway=10.231.0.1\nIPv6AcceptRA=no\n" +
        "LinkLocalAddressing=no\nDNS=10.231.0.53\nDomains=example.test\nNTP=10.231.0.123\n";

    private NetworkdSandbox? _sandbox;

    public void Dispose() => _sandbox?.Dispose();

    private async Task<(BrokerHarness Broker, int IfIndex)> Start(string network, string? udevDirectory = null,
        IEnumerable<string>? stateProperties = null)
    {
        _sandbox = new NetworkdSandbox(network);
        var broker = await BrokerHarness.StartAsync(_sandbox.Node, c => c with
        {
            EmitNetworkdDispatcherJSON = true,
            StateProperties = stateProperties is null ? c.StateProperties : [.. stateProperties],
        }, networkd: _sandbox, udevDirectory: udevDirectory);
        var ifindex = _sandbox.Node.IfIndex("eth1");
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "routable");
        await broker.Scripts.WhenIdle();
        return (broker, ifindex);
    }

    private async Task Flap(BrokerHarness broker, int ifindex)
    {
        _sandbox!.Carrier(false);
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "no-carrier");
        await WaitForNetworkdState(broker, ifindex, "IPv4AddressState", "off");
        _sandbox.Carrier(true);
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "routable");
        await WaitForNetworkdState(broker, ifindex, "AdministrativeState", "configured");
        await broker.IdleAsync();
    }

    private static void RecordJson(BrokerHarness broker, string state, string file) =>
        broker.Directory.Script(state, "50-networkd-dispatcher-hook",
            $"#!/bin/sh\n[ \"$IFACE\" = eth1 ] || exit 0\nprintf '%s' \"$json\" > {broker.Directory.Combine(file)}\n");

    [Fact]
    public async Task A_routable_d_hook_gets_json_naming_the_link_its_state_and_its_addresses()
    {
        using var udev = new NetworkBroker.Tests.Support.TempDirectory();
        var (broker, ifindex) = await Start(StaticNetwork, udev.Path);
        await using var _ = broker;
        // udevd's entry for the link, as it would write it (no udevd runs here).
        File.WriteAllText(udev.Combine($"n{ifindex}"),
            "I:4127703\nE:ID_PATH=pci-0000:00:03.0\nE:ID_NET_DRIVER=virtio_net\nE:ID_VENDOR_FROM_DATABASE=Red Hat, Inc.\nE:ID_MODEL_ID=0x1000\nG:systemd\nV:1\n");
        RecordJson(broker, "routable", "dispatcher-json-routable");
        NetworkdScripts.Install(broker);
        await Flap(broker, ifindex);

        using var json = JsonDocument.Parse(File.ReadAllText(broker.Directory.Combine("dispatcher-json-routable")));
        var root = json.RootElement;
        Assert.Equal("eth1", root.GetProperty("InterfaceName").GetString());
        Assert.Equal("routable", root.GetProperty("OperationalState").GetString());
        Assert.Matches(@"^routable \((configuring|configured)\)$", root.GetProperty("State").GetString());
        Assert.Equal("ether", root.GetProperty("Type").GetString());
        var addresses = root.GetProperty("Address").EnumerateArray().Select(a => a.GetString()!).ToList();
        Assert.Equal("10.231.0.2", addresses[0]);
        // Every address named is the link's in the kernel (a link-local one may have come since).
        using var ip = JsonDocument.Parse(_sandbox!.Node.Ip("-j addr show dev eth1"));
        var kernel = ip.RootElement.EnumerateArray()
            .SelectMany(l => l.GetProperty("addr_info").EnumerateArray()).Select(a => a.GetProperty("local").GetString()).ToHashSet();
        Assert.All(addresses, a => Assert.Contains(a, kernel));
        Assert.Equal(["/etc/systemd/network/10-eth1.network"], root.GetProperty("Network File").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["pci-0000:00:03.0"], root.GetProperty("Path").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["virtio_net"], root.GetProperty("Driver").EnumerateArray().Select(e => e.GetString()));

        // The same event's JSON= takes its hardware from the same udev entry.
        using var seed = JsonDocument.Parse(File.ReadAllText(broker.Directory.Combine("json-routable")));
        Assert.Equal("pci-0000:00:03.0", seed.RootElement.GetProperty("Path").GetString());
        Assert.Equal("Red Hat, Inc.", seed.RootElement.GetProperty("Vendor").GetString());
        Assert.Equal("0x1000", seed.RootElement.GetProperty("ProductID").GetString());
        Assert.Equal("virtio_net", seed.RootElement.GetProperty("Driver").GetString());
        Assert.Contains(seed.RootElement.GetProperty("Address").EnumerateArray(),
            a => a.GetProperty("IP").GetString() == "10.231.0.2" && a.GetProperty("Family").GetString() == "IPv4");
    }

    [Fact]
    public async Task Without_the_key_a_hook_gets_no_json()
    {
        _sandbox = new NetworkdSandbox(StaticNetwork);
        var broker = await BrokerHarness.StartAsync(_sandbox.Node, networkd: _sandbox);
        await using var _ = broker;
        var ifindex = _sandbox.Node.IfIndex("eth1");
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "routable");
        // The start's own routable run must be over before the hook exists, as in Start(): else it may find the hook.
        await broker.Scripts.WhenIdle();
        broker.Directory.Script("routable", "50-has-json",
            $"#!/bin/sh\necho \"${{json:-none}}\" >> {broker.Directory.Combine("has-json")}\n");
        await Flap(broker, ifindex);
        Assert.Equal(["none"], File.ReadAllLines(broker.Directory.Combine("has-json")));
    }

    [Fact]
    public async Task The_json_of_a_settled_link_is_what_networkd_dispatcher_makes_of_networkctl_status()
    {
        // Every property selects a directory, so the last run comes after networkd's last change.
        var (broker, ifindex) = await Start(SettledNetwork, stateProperties: NetworkBroker.Scripts.ScriptVariables.LinkStates);
        await using var _ = broker;
        foreach (var state in States.Concat(["online", "offline", "partial"]))
            RecordJson(broker, state, "json-last");
        await Flap(broker, ifindex);
        await WaitForNetworkdState(broker, ifindex, "OnlineState", "online");
        await broker.IdleAsync();

        var ours = JsonDocument.Parse(File.ReadAllText(broker.Directory.Combine("json-last"))).RootElement
            .EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Array
                ? "list: " + string.Join(" | ", p.Value.EnumerateArray().Select(e => e.GetString()))
                : "string: " + p.Value.GetString());
        var theirs = NetworkdDispatcherParse(Shell.Run(new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = _sandbox!.Bus.Address },
            "nsenter", "-t", _sandbox.NetworkdPid.ToString(), "-n", "-m", "networkctl", "status", "--no-pager", "--no-legend", "--", "eth1"));

        string[] ethtool = ["Auto negotiation", "Speed", "Duplex", "Port"];
        Assert.Equal(theirs.Keys.Except(ethtool).Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in ours)
            Assert.True(theirs[key] == value, $"{key}: networkctl says {theirs[key]}, json says {value}");
        Assert.Equal("list: 10.231.0.2", ours["Address"]);
        Assert.Equal("list: 10.231.0.1", ours["Gateway"]);
        Assert.Equal("list: 10.231.0.53", ours["DNS"]);
        Assert.Equal("list: example.test", ours["Search Domains"]);
        Assert.Equal("string: routable (configured)", ours["State"]);
    }

    /// <summary>
    /// networkd-dispatcher's get_interface_data on networkctl's text, for the oracle: lines after the first split at
    /// the first ": ", a line without a label continues the previous one, Type a single string, " (DHCP4 ...)" cut
    /// off addresses; its own keys from networkctl's State line.
    /// </summary>
    private static Dictionary<string, string> NetworkdDispatcherParse(string status)
    {
        var lists = new Dictionary<string, List<string>>();
        string? last = null;
        foreach (var line in status.Split('\n').Skip(1))
        {
            var parts = line.Split(": ", 2);
            var key = parts.Length == 1 ? last : parts[0].Trim();
            var value = parts[^1].Trim();
            if (value.Length == 0 || key is null)
                continue;
            if (key == "Address")
                value = System.Text.RegularExpressions.Regex.Replace(value, @" \(DHCP4.*\)$", "");
            last = key;
            (lists.TryGetValue(key, out var list) ? list : lists[key] = []).Add(value);
        }
        var data = lists.ToDictionary(l => l.Key, l => "list: " + string.Join(" | ", l.Value));
        var state = lists["State"][0].Split(' ');
        data["Type"] = "string: " + lists["Type"][0];
        data["OperationalState"] = "string: " + state[0];
        data["AdministrativeState"] = "string: " + state[1].Trim('(', ')');
        data["InterfaceName"] = "string: eth1";
        data["State"] = "string: " + lists["State"][0];
        return data;
    }
}
