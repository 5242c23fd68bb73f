using NetworkBroker.Configuration;
using NetworkBroker.Events;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Routing;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// routes.d: a link's route changes are collected for a short window (a DHCP renewal re-adds many
/// routes at once) and run the scripts once, with the last change in ROUTE_* and all of them in ROUTES.
/// Ignored: tables the broker manages itself, the local table (the kernel's own host and broadcast
/// routes), links outside Links=, and links that vanished before the window closed.
/// </summary>
public sealed class RoutesScripts(Func<BrokerConfiguration> configuration, ScriptDispatcher scripts, Action<int, TimeSpan> closeWindowLater)
{
    /// <summary>Read at each use: a reload takes effect with the next event.</summary>
    private BrokerConfiguration config => configuration();

    public const string State = "routes";
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMilliseconds(200);

    private readonly Dictionary<int, List<(string Change, RouteMessage Route)>> _pending = [];

    public TimeSpan Window { get; set; } = DefaultWindow;

    internal void Observe(KernelChange change, Func<int, LinkMessage?> link)
    {
        switch (change)
        {
            case LinkRemoved:
                _pending.Remove(change.IfIndex);
                break;
            case RouteAdded added:
                Collect("add", added.Route, link);
                break;
            case RouteRemoved removed:
                Collect("del", removed.Route, link);
                break;
        }
    }

    private void Collect(string kind, RouteMessage route, Func<int, LinkMessage?> link)
    {
        if (route.Table == RouteTable.Local || route.Protocol == PolicyRoutingTags.Protocol)
            return;
        foreach (var index in route.Links)
        {
            if (link(index) is not { } owner || !config.Links.Matches(owner.Name) || IsPolicyTable(route, index, owner.Name))
                continue;
            if (!_pending.TryGetValue(index, out var changes))
            {
                _pending[index] = changes = [];
                closeWindowLater(index, Window);
            }
            changes.Add((kind, route));
        }
    }

    /// <summary>The link's own policy-routing table: the broker's doing, not news for the scripts.</summary>
    private bool IsPolicyTable(RouteMessage route, int index, string name) =>
        route.Table == Routing.PolicyRoutingTables.TableOf(config.RouteTableBase, index) && Routing.PolicyRoutingDesired.IsPolicyRouted(config, name);

    /// <summary>The window of a link closed: queue its routes.d run, unless the link is gone.</summary>
    internal void Close(int index, Func<int, LinkMessage?> link)
    {
        if (!_pending.Remove(index, out var changes) || changes.Count == 0 || link(index) is not { } owner)
            return;
        // The route variables are formatted only if routes.d has something to run (most bursts find it empty).
        var (environment, deferred) = EventEnvironment.RoutesChangedLater(owner.Name, index, changes);
        scripts.Enqueue(new ScriptEvent(State, owner.Name, index, environment) { Deferred = deferred });
    }
}
