using System.Collections.Immutable;
using System.Globalization;
using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Dhclient;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Scripts;

/// <summary>
/// The variables of every kind of event, each name and how its value is made, in this one place: a link's networkd
/// state changes (<c>&lt;state&gt;.d</c>), the manager's (<c>manager.d</c>), a dhclient lease (<c>routable.d</c>),
/// a link's routes (<c>routes.d</c>), and run-scripts for what no model makes. Pure: the values come from the event,
/// the kernel model and the configuration given; what takes reading files (networkd's lease and state file, udev,
/// sysfs) is a deferred part, computed by the script dispatcher when the scripts are about to run, never on the
/// broker's loop. A name is always one of these constants: a peer's words (a link name, a lease option, a D-Bus
/// property) are values only. The README's tables list exactly these names (a unit test parses them).
/// </summary>
public static class EventEnvironment
{
    private const string Link = "LINK";
    private const string LinkIndex = "LINKINDEX";
    private const string State = "STATE";
    private const string ChangedProperties = "CHANGED_PROPERTIES";
    private const string Iface = "IFACE";
    private const string Addr = "ADDR";
    private const string IPAddrs = "IP_ADDRS";
    private const string IP6Addrs = "IP6_ADDRS";
    private const string Essid = "ESSID";
    private const string DhcpLeaseVariable = "DHCP_LEASE";
    private const string Dns = "DNS";
    private const string Domain = "DOMAIN";
    private const string Json = "JSON";
    private const string NetworkdDispatcherJsonName = "json";
    private const string RouteEvent = "ROUTE_EVENT";
    private const string RouteDestination = "ROUTE_DST";
    private const string RouteGateway = "ROUTE_GATEWAY";
    private const string RouteTableName = "ROUTE_TABLE";
    private const string RouteProtocolName = "ROUTE_PROTOCOL";
    private const string RouteChanges = "ROUTE_CHANGES";
    private const string Routes = "ROUTES";

    /// <summary>networkd's property for the manager's STATE, and a state variable of its own.</summary>
    private const string OperationalState = "OperationalState";

    /// <summary>
    /// Every name an event may carry besides the networkd states (passed under their property names,
    /// <see cref="ScriptVariables.LinkStates"/>): the allowlist <see cref="ScriptVariables"/> keeps.
    /// </summary>
    public static readonly IReadOnlyList<string> Names =
    [
        Link, LinkIndex, State, DhcpLeaseVariable, Dns, Domain, Json,
        RouteEvent, RouteDestination, RouteGateway, RouteTableName, RouteProtocolName, RouteChanges, Routes,
        Iface, Addr, IPAddrs, IP6Addrs, Essid, NetworkdDispatcherJsonName, ChangedProperties,
    ];

    /// <summary>
    /// A link's networkd state changed, what is known on the loop: LINK (the name's exact bytes), LINKINDEX, STATE (the
    /// new value, which names the directory), CHANGED_PROPERTIES, every networkd state of the link that is a state word,
    /// and networkd-dispatcher's IFACE, ADDR, IP_ADDRS, IP6_ADDRS, ESSID.
    /// </summary>
    /// <exception cref="ArgumentException">The transition's value is not a state word (the caller refuses those first).</exception>
    public static List<KeyValuePair<string, string>> LinkState(string link, LinkTransition transition, IEnumerable<AddressMessage> addresses)
    {
        var environment = Start(link, transition.IfIndex, transition.Value, 16);
        environment.Add(new(ChangedProperties, transition.ChangedProperties));
        foreach (var state in ScriptVariables.LinkStates)
            if (transition.States.TryGetValue(state, out var value) && ScriptVariables.IsStateWord(value))
                environment.Add(new(state, value));
        AddNetworkdDispatcher(environment, link, addresses);
        return environment;
    }

    /// <summary>
    /// A link's networkd state changed, what takes files: DHCP_LEASE (networkd's lease, when the link has one), JSON
    /// (<see cref="LinkDescription"/>, with EmitJSON=) and json (<see cref="NetworkdDispatcherJson"/>, with
    /// EmitNetworkdDispatcherJSON=). The model's part (the link, its routes, its master's name as of this event) is
    /// taken now, on the loop; the files are read when the value is first asked for, off the loop.
    /// </summary>
    public static Lazy<IReadOnlyList<KeyValuePair<string, string>>> LinkStateFromFiles(string link, LinkTransition transition,
        IReadOnlyList<AddressMessage> addresses, KernelModel kernel, BrokerConfiguration config, ILinkFiles files)
    {
        var (emitJson, emitDispatcherJson) = (config.EmitJSON, config.EmitNetworkdDispatcherJSON);
        var message = emitJson || emitDispatcherJson ? kernel.Link(transition.IfIndex) : null;
        var routes = message is null ? [] : kernel.Routes(transition.IfIndex).ToList();
        var master = emitDispatcherJson && message is { Master: > 0 } ? kernel.Link(message.Master)?.Name : null;
        var (ifindex, states) = (transition.IfIndex, transition.States);
        return new Lazy<IReadOnlyList<KeyValuePair<string, string>>>(() =>
        {
            var variables = new List<KeyValuePair<string, string>>(3);
            var lease = files.NetworkdLease(ifindex);
            if (lease is not null)
                variables.Add(new(DhcpLeaseVariable, lease));
            if (!emitJson && !emitDispatcherJson)
                return variables;
            var linkState = files.NetworkdState(ifindex);
            var udev = files.Udev(ifindex);
            if (emitJson && message is not null)
                variables.Add(new(Json, LinkDescription.Build(message, addresses, routes, states, linkState, files.Driver(link, ifindex), udev)));
            if (emitDispatcherJson)
                variables.Add(new(NetworkdDispatcherJsonName, NetworkdDispatcherJson.Build(new NetworkdDispatcherLink(
                    KernelText.Display(link), message, addresses, routes, states, linkState, lease, udev, files.DeviceType(link, ifindex),
                    master is null ? null : KernelText.Display(master)))));
            return variables;
        });
    }

    /// <summary>
    /// The manager's networkd state changed: STATE (its OperationalState, empty when unknown) and each of its states the
    /// signal changed, under the property's name. LINK and LINKINDEX are not set: the event is about the host.
    /// </summary>
    public static List<KeyValuePair<string, string>> Manager(ManagerTransition transition)
    {
        var operational = transition.States.GetValueOrDefault(OperationalState);
        var environment = new List<KeyValuePair<string, string>>(1 + transition.Changed.Length)
        {
            new(State, operational is not null && ScriptVariables.IsStateWord(operational) ? operational : ""),
        };
        foreach (var (property, value) in transition.Changed)
            if (ScriptVariables.ManagerStates.Contains(property) && ScriptVariables.IsStateWord(value))
                environment.Add(new(property, value));
        return environment;
    }

    /// <summary>
    /// dhclient has a new lease for the link (routable.d): LINK, LINKINDEX, STATE=routable, DHCP_LEASE in the Go
    /// network-event-broker's format, DNS and DOMAIN comma-separated (only valid domain names), and JSON with the lease's
    /// servers and domains (with EmitJSON=), all from the lease and the model: no file to read.
    /// </summary>
    public static List<KeyValuePair<string, string>> DhclientLease(DhcpLease lease, LinkMessage link, KernelModel kernel, BrokerConfiguration config)
    {
        var domains = DhcpValues.ValidDomains([lease]).ToList();
        // The Go network-event-broker's format: KEY=value pairs separated by commas; lists inside a value are space-separated.
        var summary = string.Join(',', new[]
        {
            $"ADDRESS={lease.Address}",
            $"ROUTER={string.Join(' ', lease.Routers)}",
            $"SUBNETMASK={lease.SubnetMask}",
            $"DNS={string.Join(' ', lease.DnsServers)}",
            $"DOMAIN={string.Join(' ', domains)}",
        });
        var environment = Start(link.Name, link.Index, DhcpLeaseActions.State, 7);
        environment.AddRange([new(DhcpLeaseVariable, summary), new(Dns, string.Join(',', lease.DnsServers)), new(Domain, string.Join(',', domains))]);
        if (config.EmitJSON)
            environment.Add(new(Json, LinkDescription.Build(link, kernel.Addresses(link.Index), kernel.Routes(link.Index),
                ImmutableDictionary<string, string>.Empty,
                // What networkd's state file would say, from the lease: LinkDescription's DNS and Domains.
                new Dictionary<string, string> { ["DNS"] = string.Join(' ', lease.DnsServers), ["DOMAINS"] = string.Join(' ', domains) },
                null, domainSearch: string.Join(' ', lease.DomainSearch.Where(DhcpValues.IsValidDomain)))));
        return environment;
    }

    /// <summary>
    /// A link's routes changed (routes.d, once per collected burst): LINK, LINKINDEX, STATE=routes, the last change in
    /// ROUTE_EVENT, ROUTE_DST, ROUTE_GATEWAY, ROUTE_TABLE, ROUTE_PROTOCOL, and all of them, one per line, in ROUTES.
    /// </summary>
    public static List<KeyValuePair<string, string>> RoutesChanged(string link, int ifindex, IReadOnlyList<(string Change, RouteMessage Route)> changes)
    {
        var (environment, deferred) = RoutesChangedLater(link, ifindex, changes);
        environment.AddRange(deferred.Value);
        return environment;
    }

    /// <summary>
    /// <see cref="RoutesChanged"/> as the loop queues it: LINK, LINKINDEX and STATE now, the route variables deferred
    /// (<see cref="ScriptEvent.Deferred"/>), formatted on the script thread and only when routes.d has something to
    /// run; most bursts find it empty. <paramref name="changes"/> is the caller's no more: it must not change after.
    /// </summary>
    public static (List<KeyValuePair<string, string>> Own, Lazy<IReadOnlyList<KeyValuePair<string, string>>> Deferred) RoutesChangedLater(
        string link, int ifindex, IReadOnlyList<(string Change, RouteMessage Route)> changes)
    {
        if (changes.Count == 0)
            throw new ArgumentException("routes.d runs for at least one change", nameof(changes));
        return (Start(link, ifindex, RoutesScripts.State, 10), new Lazy<IReadOnlyList<KeyValuePair<string, string>>>(() => RouteVariables(changes)));
    }

    private static List<KeyValuePair<string, string>> RouteVariables(IReadOnlyList<(string Change, RouteMessage Route)> changes)
    {
        var (kind, last) = changes[^1];
        return
        [
            new(RouteEvent, kind),
            new(RouteDestination, RouteDescription.Destination(last)),
            new(RouteGateway, RouteDescription.Gateway(last)),
            new(RouteTableName, last.Table.ToString(CultureInfo.InvariantCulture)),
            new(RouteProtocolName, RouteProtocol.Name(last.Protocol)),
            new(RouteChanges, changes.Count.ToString(CultureInfo.InvariantCulture)),
            new(Routes, string.Join('\n', changes.Select(c => RouteDescription.Describe(c.Change, c.Route)))),
        ];
    }

    /// <summary>
    /// run-scripts for what no model makes (a link not in this namespace, routes.d): LINK, LINKINDEX (0 for an unknown
    /// link) and STATE only; the rest is what the asker gives (<see cref="Complete"/>).
    /// </summary>
    public static List<KeyValuePair<string, string>> Requested(string link, int ifindex, string state) => Start(link, ifindex, state, 3);

    /// <summary>
    /// What a script is given, in order: the event's own variables, then those read from files, then run-scripts'
    /// <c>--env</c>, which wins over both (<see cref="ScriptEnvironment.Build"/> keeps a name's first place, its last value).
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> Complete(IReadOnlyList<KeyValuePair<string, string>> own,
        IReadOnlyList<KeyValuePair<string, string>>? fromFiles, IReadOnlyList<KeyValuePair<string, string>> requested) =>
        fromFiles is null ? own.Concat(requested) : own.Concat(fromFiles).Concat(requested);

    /// <summary>networkd-dispatcher's five variables of a link (<see cref="NetworkdDispatcherVariables"/> says how their values are made).</summary>
    public static List<KeyValuePair<string, string>> NetworkdDispatcher(string link, IEnumerable<AddressMessage> addresses)
    {
        var environment = new List<KeyValuePair<string, string>>(5);
        AddNetworkdDispatcher(environment, link, addresses);
        return environment;
    }

    private static void AddNetworkdDispatcher(List<KeyValuePair<string, string>> environment, string link, IEnumerable<AddressMessage> addresses)
    {
        var (first, ipv4, ipv6) = NetworkdDispatcherVariables.Addresses(addresses);
        environment.Add(new(Iface, link));
        environment.Add(new(Addr, first));
        environment.Add(new(IPAddrs, ipv4));
        environment.Add(new(IP6Addrs, ipv6));
        // The broker does not ask the wireless stack: empty, as networkd-dispatcher gives it for a wired link.
        environment.Add(new(Essid, ""));
    }

    /// <summary>What every link event starts with: LINK (the name's exact bytes), LINKINDEX and STATE (the directory that runs).</summary>
    private static List<KeyValuePair<string, string>> Start(string link, int ifindex, string state, int capacity)
    {
        // STATE names the directory that runs: a word of networkd's vocabulary, never a path a peer could smuggle in.
        if (!ScriptVariables.IsStateWord(state))
            throw new ArgumentException($"\"{Logging.PeerText.Excerpt(state, 40)}\" is not a state name", nameof(state));
        return new(capacity)
        {
            new(Link, link),
            new(LinkIndex, ifindex.ToString(CultureInfo.InvariantCulture)),
            new(State, state),
        };
    }
}
