using System.Collections.Immutable;
using System.Globalization;
using NetworkBroker.Configuration;
using NetworkBroker.Kernel;
using NetworkBroker.Logging;
using NetworkBroker.Networkd;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// Turns networkd transitions into script runs: &lt;value&gt;.d for a link's OperationalState or
/// AdministrativeState, manager.d for the manager, with the environment the README documents.
/// </summary>
public sealed class StateScripts(Func<BrokerConfiguration> configuration, ScriptDispatcher scripts, NetworkdFiles files, Logger log,
    Udev.UdevDatabase? udevDatabase = null)
{
    /// <summary>Read at each use: a reload takes effect with the next event.</summary>
    private BrokerConfiguration config => configuration();

    private readonly Udev.UdevDatabase _udev = udevDatabase ?? new Udev.UdevDatabase(log: log);

    public const string ManagerState = "manager";

    // One signal can change OperationalState and AdministrativeState together: two transitions, one link
    // description. What is made for the first is reused for the second (same link, same states).
    private (int IfIndex, ImmutableDictionary<string, string>? States, Lazy<IReadOnlyList<KeyValuePair<string, string>>>? Deferred) _last;

    /// <summary>Called before the transitions of one event: what was made for another event is not reused.</summary>
    public void BeginEvent() => _last = default;

    /// <param name="observer">run-scripts through the control socket: who waits on this run.</param>
    public void Run(LinkTransition transition, string name, KernelModel kernel, ScriptObserver? observer = null)
    {
        if (!config.Links.Matches(name))
            return;
        var link = log.ForLink(name, transition.IfIndex);
        // The value names a directory: it must be a state word, never a path a peer could smuggle in.
        if (!ScriptVariables.IsStateWord(transition.Value) || ScriptDirectories.NotLinkStates.Contains(transition.Value))
        {
            link.Warn($"Ignoring {transition.Property}=\"{Logging.PeerText.Excerpt(transition.Value)}\": not a state name");
            return;
        }
        link.Info($"{transition.Property} is {transition.Value}");

        var environment = LinkVariables.Of(name, transition.IfIndex, transition.Value);
        environment.Add(new("CHANGED_PROPERTIES", transition.ChangedProperties));
        foreach (var state in ScriptVariables.LinkStates)
            if (transition.States.TryGetValue(state, out var value))
                environment.Add(new(state, value));
        var addresses = kernel.Addresses(transition.IfIndex).ToList();
        environment.AddRange(NetworkdDispatcherVariables.Of(name, addresses));
        if (_last.IfIndex != transition.IfIndex || !ReferenceEquals(_last.States, transition.States))
            _last = (transition.IfIndex, transition.States, Deferred(transition, name, kernel, addresses));
        scripts.Enqueue(new ScriptEvent(transition.Value, name, transition.IfIndex, environment) { Deferred = _last.Deferred, Observer = observer });
    }

    /// <summary>
    /// DHCP_LEASE, JSON and json: the model's part is taken now, on the loop (the link, its addresses and routes, its
    /// master's name as of this event); networkd's files, udev's database and sysfs are read when the scripts are
    /// about to run, off the loop.
    /// </summary>
    private Lazy<IReadOnlyList<KeyValuePair<string, string>>> Deferred(LinkTransition transition, string name, KernelModel kernel,
        List<Netlink.Messages.AddressMessage> addresses)
    {
        var (emitJson, emitDispatcherJson) = (config.EmitJSON, config.EmitNetworkdDispatcherJSON);
        var message = emitJson || emitDispatcherJson ? kernel.Link(transition.IfIndex) : null;
        var routes = message is null ? [] : kernel.Routes(transition.IfIndex).ToList();
        var master = emitDispatcherJson && message is { Master: > 0 } ? kernel.Link(message.Master)?.Name : null;
        var (ifindex, states) = (transition.IfIndex, transition.States);
        return new Lazy<IReadOnlyList<KeyValuePair<string, string>>>(() =>
        {
            var variables = new List<KeyValuePair<string, string>>(3);
            var lease = files.Lease(ifindex);
            if (lease is not null)
                variables.Add(new("DHCP_LEASE", lease));
            if (!emitJson && !emitDispatcherJson)
                return variables;
            var linkState = files.LinkState(ifindex);
            var udev = _udev.Link(ifindex);
            if (emitJson && message is not null)
                variables.Add(new("JSON", LinkDescription.Build(message, addresses, routes, states, linkState,
                    InSysfs(name, ifindex) ? Driver(name) : null, udev)));
            if (emitDispatcherJson)
                variables.Add(new("json", NetworkdDispatcherJson.Build(new NetworkdDispatcherLink(
                    Netlink.KernelText.Display(name), message, addresses, routes, states, linkState, lease, udev, InSysfs(name, ifindex) ? DeviceType(name) : null,
                    master is null ? null : Netlink.KernelText.Display(master)))));
            return variables;
        });
    }

    /// <summary>run-scripts for what no model makes (an unknown link, routes.d): LINK, LINKINDEX and STATE, the rest from the asker.</summary>
    public void RunSynthesised(string state, string name, int ifindex, ScriptObserver observer) =>
        scripts.Enqueue(new ScriptEvent(state, name, ifindex, LinkVariables.Of(name, ifindex, state)) { Observer = observer });

    public void Run(ManagerTransition transition, ScriptObserver? observer = null)
    {
        var environment = new List<KeyValuePair<string, string>>
        {
            new("STATE", transition.States.GetValueOrDefault("OperationalState") ?? ""),
        };
        environment.AddRange(transition.Changed);
        log.Info($"networkd manager: {string.Join(", ", transition.Changed.Select(c => $"{c.Key}={c.Value}"))}");
        scripts.Enqueue(new ScriptEvent(ManagerState, null, 0, environment) { Observer = observer });
    }

    /// <summary>
    /// Whether /sys/class/net/NAME is this link: sysfs shows the links of the namespace it was mounted in, which
    /// need not be the daemon's (a test harness, a daemon moved into a namespace); another one's facts are none.
    /// </summary>
    private static bool InSysfs(string name, int ifindex)
    {
        try
        {
            return int.TryParse(File.ReadAllText($"/sys/class/net/{name}/ifindex").Trim(), NumberStyles.None, CultureInfo.InvariantCulture,
                out var index) && index == ifindex;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>DEVTYPE of the link's uevent in sysfs ("wlan", "bridge", "vlan"), what networkctl shows as its type; null without one.</summary>
    private static string? DeviceType(string name)
    {
        try
        {
            foreach (var line in File.ReadLines($"/sys/class/net/{name}/uevent"))
                if (line.StartsWith("DEVTYPE=", StringComparison.Ordinal) && line.Length > 8 && ScriptVariables.IsStateWord(line[8..]))
                    return line[8..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }
        return null;
    }

    /// <summary>The kernel driver bound to the link's device (sysfs), null for virtual links.</summary>
    private static string? Driver(string name)
    {
        try
        {
            var target = new FileInfo($"/sys/class/net/{name}/device/driver").LinkTarget;
            return target is null ? null : Path.GetFileName(target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
