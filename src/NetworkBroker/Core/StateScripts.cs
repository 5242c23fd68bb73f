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
public sealed class StateScripts(Func<BrokerConfiguration> configuration, ScriptDispatcher scripts, NetworkdFiles files, Logger log)
{
    /// <summary>Read at each use: a reload takes effect with the next event.</summary>
    private BrokerConfiguration config => configuration();

    public const string ManagerState = "manager";

    // One signal can change OperationalState and AdministrativeState together: two transitions, one link
    // description. What is made for the first is reused for the second (same link, same states).
    private (int IfIndex, ImmutableDictionary<string, string>? States, Lazy<IReadOnlyList<KeyValuePair<string, string>>>? Deferred) _last;

    /// <summary>Called before the transitions of one event: what was made for another event is not reused.</summary>
    public void BeginEvent() => _last = default;

    public void Run(LinkTransition transition, string name, KernelModel kernel)
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

        var environment = new List<KeyValuePair<string, string>>
        {
            new("LINK", name),
            new("LINKINDEX", transition.IfIndex.ToString(CultureInfo.InvariantCulture)),
            new("STATE", transition.Value),
        };
        foreach (var state in ScriptVariables.LinkStates)
            if (transition.States.TryGetValue(state, out var value))
                environment.Add(new(state, value));
        var addresses = kernel.Addresses(transition.IfIndex).ToList();
        environment.AddRange(NetworkdDispatcherVariables.Of(name, addresses));
        if (_last.IfIndex != transition.IfIndex || !ReferenceEquals(_last.States, transition.States))
            _last = (transition.IfIndex, transition.States, Deferred(transition, name, kernel, addresses));
        scripts.Enqueue(new ScriptEvent(transition.Value, name, transition.IfIndex, environment) { Deferred = _last.Deferred });
    }

    /// <summary>
    /// DHCP_LEASE and JSON: the model's part is taken now, on the loop (the link, its addresses and routes as of
    /// this event); networkd's files and sysfs are read when the scripts are about to run, off the loop.
    /// </summary>
    private Lazy<IReadOnlyList<KeyValuePair<string, string>>> Deferred(LinkTransition transition, string name, KernelModel kernel,
        List<Netlink.Messages.AddressMessage> addresses)
    {
        var message = config.EmitJSON ? kernel.Link(transition.IfIndex) : null;
        var routes = message is null ? [] : kernel.Routes(transition.IfIndex).ToList();
        var (ifindex, states) = (transition.IfIndex, transition.States);
        return new Lazy<IReadOnlyList<KeyValuePair<string, string>>>(() =>
        {
            var variables = new List<KeyValuePair<string, string>>(2);
            if (files.Lease(ifindex) is { } lease)
                variables.Add(new("DHCP_LEASE", lease));
            if (message is not null)
                variables.Add(new("JSON", LinkDescription.Build(message, addresses, routes, states, files.LinkState(ifindex), Driver(name))));
            return variables;
        });
    }

    public void Run(ManagerTransition transition)
    {
        var environment = new List<KeyValuePair<string, string>>
        {
            new("STATE", transition.States.GetValueOrDefault("OperationalState") ?? ""),
        };
        environment.AddRange(transition.Changed);
        log.Info($"networkd manager: {string.Join(", ", transition.Changed.Select(c => $"{c.Key}={c.Value}"))}");
        scripts.Enqueue(new ScriptEvent(ManagerState, null, 0, environment));
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
