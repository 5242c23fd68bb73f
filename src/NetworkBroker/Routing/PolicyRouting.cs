using NetworkBroker.Configuration;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Logging;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>
/// Policy routing as one subscriber of the broker's loop: it decides which kernel changes may change the wish,
/// collects them for <see cref="Delay"/>, computes what is desired (pure, on the loop) and hands it to the
/// latest-wins <see cref="PolicyRoutingWorker"/>, which talks to the kernel off the loop. Called on the loop only.
/// </summary>
public sealed class PolicyRouting
{
    private readonly Func<BrokerConfiguration> _config;
    private readonly KernelModel _kernel;
    private readonly Logger _log;
    private readonly Action<BrokerEvent, TimeSpan> _postLater;
    private readonly PolicyRoutingWorker _worker;
    private bool _scheduled;
    private string _notes = "";

    /// <param name="postLater">Puts an event on the broker's channel after a delay (the debounce's timer).</param>
    /// <param name="done">Given each reconcile's outcome, off the loop (the broker puts it on its channel).</param>
    public PolicyRouting(Func<BrokerConfiguration> config, KernelModel kernel, IRoutingTables tables, Logger log,
        Action<BrokerEvent, TimeSpan> postLater, Func<PolicyRoutingReconciled, ValueTask> done, TimeSpan delay)
    {
        _config = config;
        _kernel = kernel;
        _log = log;
        _postLater = postLater;
        Delay = delay;
        _worker = new PolicyRoutingWorker(new PolicyRoutingReconciler(tables, log), done);
    }

    /// <summary>How long triggers are collected before one reconcile runs.</summary>
    public TimeSpan Delay { get; }

    /// <summary>The last reconcile's outcome, null before the first.</summary>
    public PolicyRoutingReconciled? Last { get; private set; }

    /// <summary>A change of the kernel model: reconcile (debounced) when it may change what is desired.</summary>
    public void Observe(KernelChange change)
    {
        if (_config().RoutingPolicyRules.Length > 0 && Concerns(change))
            Schedule();
    }

    /// <summary>
    /// A rule notification: rules are not in the model, so one of ours deleted by someone else (networkd, an admin)
    /// is a reason to look.
    /// </summary>
    public void Observe(RuleNotification rule)
    {
        if (rule is { Removed: true, Rule.Protocol: PolicyRoutingTags.Protocol })
            Schedule();
    }

    /// <summary>Reconcile soon (the kernel was re-read, the configuration changed, a rule of ours went).</summary>
    public void Schedule()
    {
        if (_scheduled)
            return;
        _scheduled = true;
        _postLater(new PolicyRoutingDue(), Delay);
    }

    /// <summary>The debounce ended: compute the wish and hand it over; the kernel is asked off the loop.</summary>
    public void Reconcile()
    {
        _scheduled = false;
        var config = _config();
        var notes = new List<string>();
        var desired = PolicyRoutingDesired.Compute(config, _kernel, notes);
        // Say why a table has no default route when that changes, not on every run.
        var said = string.Join('\n', notes);
        if (said != _notes)
            foreach (var note in notes)
                _log.Info($"policy routing: {note}");
        _notes = said;
        _worker.Submit(desired, PolicyRoutingPresent.Of(_kernel, config.RouteTableBase));
    }

    /// <summary>A reconcile's outcome came back on the loop.</summary>
    public void Reconciled(PolicyRoutingReconciled outcome) => Last = outcome;

    /// <summary>
    /// On stop, once the loop has ended: what was submitted is applied; then, with RemoveRulesOnStop=true, every rule
    /// and route made here goes (by default they stay).
    /// </summary>
    public Task StopAsync()
    {
        var config = _config();
        return _worker.StopAsync(config.RemoveRulesOnStop
            ? (PolicyRoutingState.Empty, PolicyRoutingPresent.Of(_kernel, config.RouteTableBase))
            : null);
    }

    /// <summary>
    /// Whether the wish may have changed: a link came, went or was renamed, one of our routes was removed, an address
    /// or the flags of a listed link changed, or a default route that is a listed link's own or whose gateway lies on
    /// a listed link's subnet (the only other one it may use). Measured with 1,000 links: reconciling the 250 listed
    /// ones on every flap of an unlisted link was 74% of the daemon's CPU.
    /// </summary>
    private bool Concerns(KernelChange change) => change switch
    {
        LinkAdded or LinkRemoved or LinkRenamed => true,
        RouteRemoved { Route.Protocol: PolicyRoutingTags.Protocol } => true,
        RouteAdded { Route.IsDefault: true } added => GatewayConcerns(change.Link, added.Route),
        RouteRemoved { Route.IsDefault: true } removed => GatewayConcerns(change.Link, removed.Route),
        AddressAdded or AddressRemoved or LinkChanged => PolicyRoutingDesired.IsPolicyRouted(_config(), change.Link),
        _ => false,
    };

    private bool GatewayConcerns(string link, RouteMessage route)
    {
        var config = _config();
        return route.Gateway is not { } gateway || PolicyRoutingDesired.IsPolicyRouted(config, link) ||
            _kernel.AllAddresses.Any(a => _kernel.Link(a.Index) is { } owner && PolicyRoutingDesired.IsPolicyRouted(config, owner.Name) &&
                PolicyRoutingDesired.Contains(a.Address, a.PrefixLength, gateway));
    }
}
