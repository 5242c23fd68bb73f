using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Dhclient;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Scripts;
using NetworkBroker.Udev;

namespace NetworkBroker.Tests.Scripts;

/// <summary>
/// Every variable of every kind of event, name and value, from pure inputs: a kernel model with a link, its
/// addresses, routes and master, networkd's states, networkd's and dhclient's leases, and files given by a fake.
/// </summary>
public class EventEnvironmentTests
{
    private const int Eth1 = 3, Br0 = 4;
    private const byte Global = 0, LinkScope = 253;

    private static readonly ImmutableDictionary<string, string> AllStates = ImmutableDictionary<string, string>.Empty
        .Add("OnlineState", "online").Add("IPv6AddressState", "routable").Add("IPv4AddressState", "routable").Add("AddressState", "routable")
        .Add("CarrierState", "carrier").Add("AdministrativeState", "configured").Add("OperationalState", "routable");

    private static readonly BrokerConfiguration BothDescriptions = new() { EmitJSON = true, EmitNetworkdDispatcherJSON = true };

    /// <summary>What files would say, and how often each was asked: the builder's part on the loop must ask nothing.</summary>
    private sealed class Files : ILinkFiles
    {
        public string? Lease { get; init; } = "ADDRESS=10.0.0.5\nNETMASK=255.255.255.0\nROUTER=10.0.0.1";
        public Dictionary<string, string> State { get; init; } = new()
        {
            ["NETWORK_FILE"] = "/etc/systemd/network/10-eth1.network", ["DNS"] = "10.0.0.53", ["DOMAINS"] = "example.test",
        };
        public UdevLink UdevEntry { get; init; } = new("pci-0000:00:03.0", "virtio_net", "Red Hat, Inc.", "Virtio network device", "0x1000",
            "/usr/lib/systemd/network/99-default.link");
        public string? DriverName { get; init; } = "sysfs-driver";
        public string? Type { get; init; } = "wlan";
        public List<string> Asked { get; } = [];

        public string? NetworkdLease(int ifindex) => Ask("lease", ifindex, Lease);
        public IReadOnlyDictionary<string, string> NetworkdState(int ifindex) => Ask("state", ifindex, State);
        public UdevLink Udev(int ifindex) => Ask("udev", ifindex, UdevEntry);
        public string? Driver(string name, int ifindex) => Ask($"driver {name}", ifindex, DriverName);
        public string? DeviceType(string name, int ifindex) => Ask($"devtype {name}", ifindex, Type);

        private T Ask<T>(string what, int ifindex, T answer)
        {
            Asked.Add($"{what} {ifindex}");
            return answer;
        }
    }

    private static KernelModel Kernel(string name = "eth1")
    {
        var kernel = new KernelModel();
        void Apply(KernelNotification notification) => kernel.Apply(notification);
        Apply(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = Br0, Name = "br0", Kind = "bridge", Mtu = 1500 }));
        Apply(new LinkNotification(false, NetlinkFlags.None, new LinkMessage
        {
            Index = Eth1, Name = name, Mtu = 1500, Master = Br0, OperState = OperState.Up, HardwareAddress = [0x02, 0, 0, 0, 0, 0x01],
            Flags = LinkFlags.Up | LinkFlags.Broadcast | LinkFlags.Multicast | LinkFlags.Running,
        }));
        foreach (var (address, scope) in new[] { ("10.0.1.5", Global), ("fe80::1", LinkScope), ("2001:db8::5", Global), ("10.0.0.5", Global) })
            Apply(new AddressNotification(false, NetlinkFlags.None, Address(address, scope)));
        Apply(new RouteNotification(false, NetlinkFlags.None, new RouteMessage
        {
            Family = AddressFamily.IPv4, Destination = IPAddress.Parse("10.0.0.0"), DestinationLength = 24, OutputIndex = Eth1,
            Type = RouteType.Unicast, Table = RouteTable.Main, Protocol = RouteProtocol.Kernel, Scope = LinkScope,
        }));
        Apply(new RouteNotification(false, NetlinkFlags.None, DefaultRoute("10.0.0.1")));
        return kernel;
    }

    private static AddressMessage Address(string text, byte scope = Global) => new()
    {
        Address = IPAddress.Parse(text), Family = text.Contains(':') ? AddressFamily.IPv6 : AddressFamily.IPv4,
        PrefixLength = (byte)(text.Contains(':') ? 64 : 24), Index = Eth1, Scope = scope,
    };

    private static RouteMessage DefaultRoute(string gateway, uint table = RouteTable.Main, byte protocol = RouteProtocol.Dhcp) => new()
    {
        Family = AddressFamily.IPv4, Destination = null, DestinationLength = 0, Gateway = IPAddress.Parse(gateway), OutputIndex = Eth1,
        Type = RouteType.Unicast, Table = table, Protocol = protocol,
    };

    private static LinkTransition Routable(ImmutableDictionary<string, string>? states = null, string value = "routable") =>
        new(Eth1, "OperationalState", value, states ?? AllStates) { ChangedProperties = "CarrierState OperationalState" };

    /// <summary>The link-state event's whole environment: the loop's part, then the files' part.</summary>
    private static (List<KeyValuePair<string, string>> Now, IReadOnlyList<KeyValuePair<string, string>> FromFiles) LinkState(
        KernelModel kernel, LinkTransition transition, BrokerConfiguration config, Files files, string name = "eth1")
    {
        var addresses = kernel.Addresses(transition.IfIndex).ToList();
        var now = EventEnvironment.LinkState(name, transition, addresses);
        var deferred = EventEnvironment.LinkStateFromFiles(name, transition, addresses, kernel, config, files);
        Assert.Empty(files.Asked);
        return (now, deferred.Value);
    }

    private static KeyValuePair<string, string> V(string name, string value) => new(name, value);

    private static JsonElement Json(IEnumerable<KeyValuePair<string, string>> variables, string name) =>
        JsonDocument.Parse(Assert.Single(variables, v => v.Key == name).Value).RootElement.Clone();

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    [Fact]
    public void A_link_state_change_gives_link_states_and_networkd_dispatchers_variables_on_the_loop()
    {
        var (now, _) = LinkState(Kernel(), Routable(), BothDescriptions, new Files());
        Assert.Equal(
        [
            V("LINK", "eth1"), V("LINKINDEX", "3"), V("STATE", "routable"), V("CHANGED_PROPERTIES", "CarrierState OperationalState"),
            V("OperationalState", "routable"), V("AdministrativeState", "configured"), V("CarrierState", "carrier"), V("AddressState", "routable"),
            V("IPv4AddressState", "routable"), V("IPv6AddressState", "routable"), V("OnlineState", "online"),
            V("IFACE", "eth1"), V("ADDR", "10.0.0.5"), V("IP_ADDRS", "10.0.0.5 10.0.1.5"), V("IP6_ADDRS", "2001:db8::5"), V("ESSID", ""),
        ], now);
    }

    [Fact]
    public void A_link_state_change_reads_the_lease_and_both_descriptions_from_files_only_when_asked()
    {
        var files = new Files();
        var (_, fromFiles) = LinkState(Kernel(), Routable(), BothDescriptions, files);
        Assert.Equal(["DHCP_LEASE", "JSON", "json"], fromFiles.Select(v => v.Key));
        Assert.Equal("ADDRESS=10.0.0.5\nNETMASK=255.255.255.0\nROUTER=10.0.0.1", fromFiles[0].Value);
        Assert.Equal(["lease 3", "state 3", "udev 3", "driver eth1 3", "devtype eth1 3"], files.Asked);

        var json = Json(fromFiles, "JSON");
        Assert.Equal((3, "eth1", "routable", "configured", "online"), (json.GetProperty("Index").GetInt32(), json.GetProperty("Name").GetString(),
            json.GetProperty("OperationalState").GetString(), json.GetProperty("SetupState").GetString(), json.GetProperty("OnlineState").GetString()));
        // udev's driver first, sysfs's when udev has none; networkd's state file gives the .network file and DNS.
        Assert.Equal("virtio_net", json.GetProperty("Driver").GetString());
        Assert.Equal("/etc/systemd/network/10-eth1.network", json.GetProperty("NetworkFile").GetString());
        Assert.Equal(["10.0.0.53"], Strings(json.GetProperty("DNS")));
        Assert.Equal(["example.test"], Strings(json.GetProperty("DomainSearch")));
        Assert.Equal(["10.0.0.5", "10.0.1.5", "2001:db8::5", "fe80::1"],
            json.GetProperty("Address").EnumerateArray().Select(a => a.GetProperty("IP").GetString()!).Order(StringComparer.Ordinal));
        Assert.Equal(2, json.GetProperty("Routes").GetArrayLength());

        var dispatcher = Json(fromFiles, "json");
        Assert.Equal(("eth1", "routable (configured)", "wlan"), (dispatcher.GetProperty("InterfaceName").GetString(),
            dispatcher.GetProperty("State").GetString(), dispatcher.GetProperty("Type").GetString()));
        Assert.Equal(["br0"], Strings(dispatcher.GetProperty("Master")));
        Assert.Equal(["10.0.0.5", "10.0.1.5", "2001:db8::5", "fe80::1"], Strings(dispatcher.GetProperty("Address")));
        Assert.Equal(["10.0.0.1"], Strings(dispatcher.GetProperty("Gateway")));
        Assert.Equal(["10.0.0.53"], Strings(dispatcher.GetProperty("DNS")));
    }

    [Fact]
    public void Without_descriptions_only_the_lease_file_is_read_and_without_a_lease_nothing_is_given()
    {
        var files = new Files();
        var (_, fromFiles) = LinkState(Kernel(), Routable(), new BrokerConfiguration { EmitJSON = false }, files);
        Assert.Equal([V("DHCP_LEASE", "ADDRESS=10.0.0.5\nNETMASK=255.255.255.0\nROUTER=10.0.0.1")], fromFiles);
        Assert.Equal(["lease 3"], files.Asked);

        var (_, none) = LinkState(Kernel(), Routable(), new BrokerConfiguration { EmitJSON = false }, new Files { Lease = null });
        Assert.Empty(none);

        // EmitJSON alone: JSON, not json; sysfs's driver when udev names none.
        var (_, onlyJson) = LinkState(Kernel(), Routable(), new BrokerConfiguration(), new Files { Lease = null, UdevEntry = UdevLink.None });
        Assert.Equal(["JSON"], onlyJson.Select(v => v.Key));
        Assert.Equal("sysfs-driver", Json(onlyJson, "JSON").GetProperty("Driver").GetString());
    }

    [Fact]
    public void A_link_networkd_knows_but_the_model_does_not_still_gets_networkd_dispatchers_json_but_no_JSON()
    {
        var kernel = new KernelModel();
        var (now, fromFiles) = LinkState(kernel, Routable(), BothDescriptions, new Files());
        Assert.Equal([V("IFACE", "eth1"), V("ADDR", ""), V("IP_ADDRS", ""), V("IP6_ADDRS", ""), V("ESSID", "")], now[^5..]);
        Assert.Equal(["DHCP_LEASE", "json"], fromFiles.Select(v => v.Key));
    }

    [Fact]
    public void Only_the_states_networkd_gave_are_passed_and_only_when_they_are_state_words()
    {
        var states = ImmutableDictionary<string, string>.Empty.Add("OperationalState", "degraded").Add("OnlineState", "Partial;rm -rf /")
            .Add("CarrierState", "../../etc").Add("PATH", "/tmp/evil").Add("LD_PRELOAD", "/tmp/evil.so");
        var (now, _) = LinkState(Kernel(), Routable(states, "degraded"), BothDescriptions, new Files());
        Assert.Equal([V("LINK", "eth1"), V("LINKINDEX", "3"), V("STATE", "degraded"), V("CHANGED_PROPERTIES", "CarrierState OperationalState"),
            V("OperationalState", "degraded")], now[..5]);
        Assert.Equal("IFACE", now[5].Key);
    }

    [Theory]
    [InlineData("../../tmp/x")]
    [InlineData("routable/../x")]
    [InlineData("")]
    [InlineData("Routable")]
    [InlineData("routable\n")]
    public void A_state_that_is_not_a_state_word_names_no_directory_and_makes_no_environment(string state)
    {
        Assert.Throws<ArgumentException>(() => EventEnvironment.LinkState("eth1", Routable(value: state), []));
        Assert.Throws<ArgumentException>(() => EventEnvironment.Requested("eth1", Eth1, state));
    }

    [Fact]
    public void A_link_name_with_control_characters_and_bytes_that_are_not_UTF8_is_passed_exactly_and_shown_escaped()
    {
        byte[] bytes = [(byte)'e', 0x01, 0xff, 0xfe, (byte)'\\', 0x1b, (byte)'x'];
        var name = KernelText.Decode(bytes);
        var (now, fromFiles) = LinkState(Kernel(name), Routable(), BothDescriptions, new Files(), name);

        // LINK and IFACE carry the kernel's exact bytes, as a script compares them with `ip link` output.
        Assert.Equal(bytes, KernelText.Encode(now.Single(v => v.Key == "LINK").Value));
        Assert.Equal(bytes, KernelText.Encode(now.Single(v => v.Key == "IFACE").Value));
        // The descriptions are text: every such byte, control character and backslash as \xNN.
        const string shown = "e\\x01\\xff\\xfe\\x5c\\x1bx";
        Assert.Equal(shown, Json(fromFiles, "JSON").GetProperty("Name").GetString());
        Assert.Equal(shown, Json(fromFiles, "json").GetProperty("InterfaceName").GetString());
        // ... and the name never becomes a variable's name.
        Assert.Equal(Names(LinkState(Kernel(), Routable(), BothDescriptions, new Files())), Names((now, fromFiles)));
    }

    [Fact]
    public void A_networkd_lease_with_newlines_and_names_of_variables_stays_one_value()
    {
        var lease = "ADDRESS=10.0.0.5\nPATH=/tmp/evil\nLD_PRELOAD=/tmp/evil.so\n\nDOMAINNAME=a\r\nb";
        var (_, fromFiles) = LinkState(Kernel(), Routable(), new BrokerConfiguration { EmitJSON = false }, new Files { Lease = lease });
        Assert.Equal([V("DHCP_LEASE", lease)], fromFiles);
    }

    [Fact]
    public void The_manager_gives_its_operational_state_and_the_states_that_changed()
    {
        var states = ImmutableDictionary<string, string>.Empty.Add("OperationalState", "degraded").Add("OnlineState", "offline").Add("CarrierState", "carrier");
        var changed = ImmutableArray.Create(V("OnlineState", "offline"), V("OperationalState", "degraded"));
        Assert.Equal([V("STATE", "degraded"), V("OnlineState", "offline"), V("OperationalState", "degraded")],
            EventEnvironment.Manager(new ManagerTransition(changed, states)));
    }

    [Fact]
    public void The_managers_peer_words_are_values_only_and_only_state_words()
    {
        var states = ImmutableDictionary<string, string>.Empty.Add("OperationalState", "Routable; reboot").Add("OnlineState", "online");
        var changed = ImmutableArray.Create(V("OnlineState", "online"), V("LD_PRELOAD", "/tmp/evil.so"), V("AdministrativeState", "configured"),
            V("CarrierState", "carrier\nPATH=/tmp"), V("LINK", "eth1"));
        Assert.Equal([V("STATE", ""), V("OnlineState", "online")], EventEnvironment.Manager(new ManagerTransition(changed, states)));
        Assert.Equal([V("STATE", "")], EventEnvironment.Manager(new ManagerTransition([], ImmutableDictionary<string, string>.Empty)));
    }

    private static DhcpLease Lease(string? domainName = "example.test", params string[] search) => new()
    {
        Interface = "eth1", Address = IPAddress.Parse("10.0.0.5"), SubnetMask = IPAddress.Parse("255.255.255.0"),
        Routers = [IPAddress.Parse("10.0.0.1")], DnsServers = [IPAddress.Parse("10.0.0.53"), IPAddress.Parse("10.0.0.54")],
        DomainName = domainName, DomainSearch = [.. search],
    };

    [Fact]
    public void A_dhclient_lease_gives_the_go_projects_lease_summary_its_servers_and_domains_and_a_description()
    {
        var kernel = Kernel();
        var environment = EventEnvironment.DhclientLease(Lease("example.test", "corp.test", "example.test"), kernel.Link(Eth1)!, kernel, BothDescriptions);
        Assert.Equal(
        [
            V("LINK", "eth1"), V("LINKINDEX", "3"), V("STATE", "routable"),
            V("DHCP_LEASE", "ADDRESS=10.0.0.5,ROUTER=10.0.0.1,SUBNETMASK=255.255.255.0,DNS=10.0.0.53 10.0.0.54,DOMAIN=example.test corp.test"),
            V("DNS", "10.0.0.53,10.0.0.54"), V("DOMAIN", "example.test,corp.test"),
        ], environment[..^1]);
        var json = Json(environment, "JSON");
        Assert.Equal((3, "eth1"), (json.GetProperty("Index").GetInt32(), json.GetProperty("Name").GetString()));
        Assert.Equal(["10.0.0.53", "10.0.0.54"], Strings(json.GetProperty("DNS")));
        Assert.Equal(["example.test", "corp.test"], Strings(json.GetProperty("Domains")));
        Assert.Equal(["corp.test", "example.test"], Strings(json.GetProperty("DomainSearch")));
        Assert.Equal(4, json.GetProperty("Address").GetArrayLength());

        var withoutJson = EventEnvironment.DhclientLease(Lease(null), kernel.Link(Eth1)!, kernel, new BrokerConfiguration { EmitJSON = false });
        Assert.Equal(["LINK", "LINKINDEX", "STATE", "DHCP_LEASE", "DNS", "DOMAIN"], withoutJson.Select(v => v.Key));
        Assert.Equal("", withoutJson.Single(v => v.Key == "DOMAIN").Value);
    }

    [Fact]
    public void A_rogue_servers_domains_with_newlines_or_separators_reach_no_variable()
    {
        var kernel = Kernel();
        var environment = EventEnvironment.DhclientLease(Lease("evil.test\nPATH=/tmp", "ok.test", "x,ROUTER=6.6.6.6", "$(reboot)", "a b"),
            kernel.Link(Eth1)!, kernel, BothDescriptions);
        Assert.Equal("ADDRESS=10.0.0.5,ROUTER=10.0.0.1,SUBNETMASK=255.255.255.0,DNS=10.0.0.53 10.0.0.54,DOMAIN=ok.test",
            environment.Single(v => v.Key == "DHCP_LEASE").Value);
        Assert.Equal("ok.test", environment.Single(v => v.Key == "DOMAIN").Value);
        var json = Json(environment, "JSON");
        Assert.Equal(["ok.test"], Strings(json.GetProperty("Domains")));
        Assert.Equal(["ok.test"], Strings(json.GetProperty("DomainSearch")));
        Assert.All(environment.Where(v => v.Key != "JSON"), v => Assert.DoesNotContain('\n', v.Value));
    }

    [Fact]
    public void A_routes_burst_gives_its_last_change_and_every_change_one_per_line()
    {
        var multipath = new RouteMessage
        {
            Family = AddressFamily.IPv6, Destination = null, DestinationLength = 0, Table = RouteTable.Main, Protocol = RouteProtocol.Ra,
            Type = RouteType.Unicast, MultiPath = [new NextHop(Eth1, IPAddress.Parse("fe80::1"), 1), new NextHop(Eth1, IPAddress.Parse("fe80::2"), 1)],
        };
        var changed = new List<(string, RouteMessage)>
        {
            ("add", DefaultRoute("10.0.0.1")),
            ("del", DefaultRoute("10.0.0.9", table: 100, protocol: RouteProtocol.Static) with { Destination = IPAddress.Parse("10.0.2.0"), DestinationLength = 24 }),
            ("add", multipath),
        };
        Assert.Equal(
        [
            V("LINK", "eth1"), V("LINKINDEX", "3"), V("STATE", "routes"),
            V("ROUTE_EVENT", "add"), V("ROUTE_DST", "::/0"), V("ROUTE_GATEWAY", "fe80::1,fe80::2"), V("ROUTE_TABLE", "254"), V("ROUTE_PROTOCOL", "ra"),
            V("ROUTE_CHANGES", "3"),
            V("ROUTES", "add 0.0.0.0/0 via 10.0.0.1 table 254 proto dhcp\ndel 10.0.2.0/24 via 10.0.0.9 table 100 proto static\nadd ::/0 via fe80::1,fe80::2 table 254 proto ra"),
        ], EventEnvironment.RoutesChanged("eth1", Eth1, changed));

        var single = EventEnvironment.RoutesChanged("eth1", Eth1, [("del", DefaultRoute("10.0.0.1", protocol: 42) with { Gateway = null })]);
        Assert.Equal([V("ROUTE_EVENT", "del"), V("ROUTE_DST", "0.0.0.0/0"), V("ROUTE_GATEWAY", ""), V("ROUTE_TABLE", "254"), V("ROUTE_PROTOCOL", "42"),
            V("ROUTE_CHANGES", "1"), V("ROUTES", "del 0.0.0.0/0 table 254 proto 42")], single[3..]);
        Assert.Throws<ArgumentException>(() => EventEnvironment.RoutesChanged("eth1", Eth1, []));
    }

    [Fact]
    public void Run_scripts_for_what_no_model_makes_gives_the_link_its_index_and_the_state_then_what_was_asked_for_wins()
    {
        var own = EventEnvironment.Requested("eth9", 0, "routes");
        Assert.Equal([V("LINK", "eth9"), V("LINKINDEX", "0"), V("STATE", "routes")], own);

        // --env comes last, after what files gave: the script environment keeps a name's first place and its last value.
        var complete = EventEnvironment.Complete(own, [V("DHCP_LEASE", "ADDRESS=10.0.0.5")], [V("ROUTE_EVENT", "add"), V("LINKINDEX", "7")]).ToList();
        Assert.Equal([V("LINK", "eth9"), V("LINKINDEX", "0"), V("STATE", "routes"), V("DHCP_LEASE", "ADDRESS=10.0.0.5"), V("ROUTE_EVENT", "add"),
            V("LINKINDEX", "7")], complete);
        using var dir = new Support.TempDirectory();
        using var environment = ScriptEnvironment.Build(complete, dir.Path);
        Assert.Equal(["LINK=eth9", "LINKINDEX=7", "STATE=routes", "DHCP_LEASE=ADDRESS=10.0.0.5", "ROUTE_EVENT=add"], environment.Entries.Skip(2));
        Assert.Equal([V("LINK", "eth9"), V("LINKINDEX", "0"), V("STATE", "routes")], EventEnvironment.Complete(own, null, []));
    }

    private static List<string> Names((List<KeyValuePair<string, string>> Now, IReadOnlyList<KeyValuePair<string, string>> FromFiles) environment) =>
        [.. environment.Now.Concat(environment.FromFiles).Select(v => v.Key)];

    [Fact]
    public void No_peers_text_ever_becomes_a_variable_name()
    {
        // Links, states, leases and route data from peers, at random and hostile: the names are the builder's, whatever the values.
        var random = new Random(14);
        var allowed = ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates).ToHashSet(StringComparer.Ordinal);
        string Hostile()
        {
            string[] pieces = ["PATH", "=", "LD_PRELOAD", "\n", "\0", "routable", "\x01", "..", "/", "LINK", " ", "json", "é", "\uDCFF"];
            return string.Concat(Enumerable.Range(0, random.Next(0, 6)).Select(_ => pieces[random.Next(pieces.Length)]));
        }
        for (var round = 0; round < 300; round++)
        {
            var name = Hostile();
            var states = ImmutableDictionary<string, string>.Empty;
            var changed = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
            foreach (var property in ScriptVariables.LinkStates.Concat(["PATH", "LD_PRELOAD", "LINK", Hostile()]))
                if (random.Next(2) == 0)
                {
                    var value = random.Next(2) == 0 ? "routable" : Hostile();
                    states = states.SetItem(property, value);
                    changed.Add(new(property, value));
                }
            var files = new Files { Lease = random.Next(2) == 0 ? null : Hostile(), State = new() { [Hostile()] = Hostile(), ["DNS"] = Hostile() } };
            var kernel = Kernel(name.Length > 0 ? name : "eth1");
            var built = new List<KeyValuePair<string, string>>();
            built.AddRange(EventEnvironment.LinkState(name, Routable(states), kernel.Addresses(Eth1)));
            built.AddRange(EventEnvironment.LinkStateFromFiles(name, Routable(states), [.. kernel.Addresses(Eth1)], kernel, BothDescriptions, files).Value);
            built.AddRange(EventEnvironment.Manager(new ManagerTransition(changed.ToImmutable(), states)));
            built.AddRange(EventEnvironment.DhclientLease(Lease(Hostile(), Hostile(), Hostile()), kernel.Link(Eth1)!, kernel, BothDescriptions));
            built.AddRange(EventEnvironment.RoutesChanged(name, Eth1, [("add", DefaultRoute("10.0.0.1"))]));
            built.AddRange(EventEnvironment.Requested(name, Eth1, "routable"));
            Assert.All(built, v => Assert.Contains(v.Key, allowed));
        }
    }

    /// <summary>Every kind of event with everything it can carry: the names each one builds.</summary>
    private static Dictionary<string, List<string>> BuiltNames()
    {
        var kernel = Kernel();
        var managerStates = ScriptVariables.ManagerStates.ToImmutableDictionary(s => s, _ => "routable");
        return new Dictionary<string, List<string>>
        {
            ["link"] = Names(LinkState(kernel, Routable(), BothDescriptions, new Files())),
            ["manager"] = [.. EventEnvironment.Manager(new ManagerTransition([.. managerStates], managerStates)).Select(v => v.Key)],
            ["dhclient"] = [.. EventEnvironment.DhclientLease(Lease("example.test"), kernel.Link(Eth1)!, kernel, BothDescriptions).Select(v => v.Key)],
            ["routes"] = [.. EventEnvironment.RoutesChanged("eth1", Eth1, [("add", DefaultRoute("10.0.0.1"))]).Select(v => v.Key)],
            ["run-scripts"] = [.. EventEnvironment.Requested("eth1", Eth1, "routable").Select(v => v.Key)],
        };
    }

    [Fact]
    public void The_allowlist_is_exactly_what_the_events_build()
    {
        var built = BuiltNames().Values.SelectMany(n => n).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates).Order(StringComparer.Ordinal), built.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_READMEs_tables_list_exactly_the_names_each_event_builds()
    {
        var documented = ReadmeVariables.Parse(ReadmeVariables.Read());
        Assert.Equal(["dhclient", "link", "manager", "routes", "run-scripts"], documented.Keys.Order(StringComparer.Ordinal));
        foreach (var (kind, names) in BuiltNames())
        {
            var (set, notSet) = documented[kind];
            var built = names.ToHashSet(StringComparer.Ordinal);
            Assert.True(set.SetEquals(built),
                $"{kind}: documented but not built: {string.Join(' ', set.Except(built))}; built but not documented: {string.Join(' ', built.Except(set))}");
            Assert.Empty(notSet.Intersect(built));
        }
    }

    [Fact]
    public void The_README_parser_sees_a_missing_or_an_extra_name()
    {
        var readme = ReadmeVariables.Read();
        var link = ReadmeVariables.Parse(readme)["link"].Set;
        Assert.Contains("IP6_ADDRS", link);
        Assert.DoesNotContain("IP6_ADDRS", ReadmeVariables.Parse(readme.Replace(", `IP6_ADDRS`", "", StringComparison.Ordinal))["link"].Set);
        Assert.Contains("ROUTE_METRIC", ReadmeVariables.Parse(readme.Replace("| `ROUTE_CHANGES`, `ROUTES` |", "| `ROUTE_CHANGES`, `ROUTES`, `ROUTE_METRIC` |",
            StringComparison.Ordinal))["routes"].Set);
        Assert.Equal(["LINK", "LINKINDEX"], ReadmeVariables.Parse(readme)["manager"].NotSet.Order(StringComparer.Ordinal));
    }
}

/// <summary>The README's "The variables" section: per kind of event, the names its table sets and those it says are not set.</summary>
internal static class ReadmeVariables
{
    private static readonly (string Heading, string Kind)[] Kinds =
    [
        ("**A link changes state**", "link"),
        ("**The host changes state**", "manager"),
        ("**dhclient gets or changes a lease**", "dhclient"),
        ("**A link's routes change**", "routes"),
        ("**`network-broker run-scripts", "run-scripts"),
    ];

    public static string Read()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "NetworkBroker.sln")))
                return File.ReadAllText(Path.Combine(directory.FullName, "README.md"));
        throw new FileNotFoundException("README.md: no NetworkBroker.sln above " + AppContext.BaseDirectory);
    }

    public static Dictionary<string, (HashSet<string> Set, HashSet<string> NotSet)> Parse(string readme)
    {
        var lines = readme.Split('\n');
        var start = Array.IndexOf(lines, "## The variables");
        Assert.True(start >= 0, "the README has no \"## The variables\" section");
        var result = new Dictionary<string, (HashSet<string>, HashSet<string>)>();
        (HashSet<string> Set, HashSet<string> NotSet)? current = null;
        for (var i = start + 1; i < lines.Length && !lines[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            var line = lines[i];
            if (Kinds.FirstOrDefault(k => line.StartsWith(k.Heading, StringComparison.Ordinal)) is { Kind: { } kind })
            {
                current = (new HashSet<string>(StringComparer.Ordinal), new HashSet<string>(StringComparer.Ordinal));
                result.Add(kind, current.Value);
                // run-scripts has no table: its paragraph names what it gives for what no model makes.
                if (kind == "run-scripts")
                    for (var j = i; j < lines.Length && lines[j].Length > 0; j++)
                        foreach (var name in Names(lines[j]))
                            current.Value.Set.Add(name);
                continue;
            }
            if (current is null || !line.StartsWith("| `", StringComparison.Ordinal))
                continue;
            var cells = line.Split(" | ");
            var into = cells.Length > 1 && cells[1].StartsWith("not set", StringComparison.Ordinal) ? current.Value.NotSet : current.Value.Set;
            foreach (var name in Names(cells[0]))
                into.Add(name);
        }
        return result;
    }

    /// <summary>The `NAME`s of a piece of the README: backquoted words that can be variable names.</summary>
    private static IEnumerable<string> Names(string text)
    {
        var parts = text.Split('`');
        for (var i = 1; i < parts.Length; i += 2)
            if (parts[i].Length > 0 && parts[i].All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !char.IsAsciiDigit(parts[i][0]))
                yield return parts[i];
    }
}
