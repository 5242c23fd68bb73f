using System.Threading.Channels;
using NetworkBroker.Configuration;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Logging;
using NetworkBroker.Netlink;
using NetworkBroker.Networkd;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// The core: one loop reads the one channel, keeps the model, and decides what each event calls for.
/// Sources write into <see cref="Events"/>; actions (scripts, policy routing, ...) are called from the
/// loop, so the model is never read and written at the same time.
/// </summary>
public sealed class Broker
{
    /// <summary>Bounded: a source that outruns the broker waits (the kernel source then overruns and re-reads).</summary>
    public const int ChannelCapacity = 4096;

    private readonly Channel<BrokerEvent> _channel = Channel.CreateBounded<BrokerEvent>(
        new BoundedChannelOptions(ChannelCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Logger _log;
    private readonly RoutesScripts _routes;
    private readonly StateScripts _states;
    private readonly DhcpLeaseActions _leases;
    private IKernel? _kernel;
    private Routing.PolicyRoutingWorker? _policyRouting;
    private int _policyRoutingScheduled;
    private string _policyRoutingNotes = "";
    private long _eventsHandled;
    private readonly Queue<(uint Token, BrokerEvent Event, long Since)> _behindBarrier = new();
    private uint _barrier;
    private bool _overdueCheckArmed;

    /// <summary>How long a networkd or dhclient event waits at most for the kernel's notifications before it is handled anyway.</summary>
    public TimeSpan BarrierTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long policy-routing triggers are collected before one reconcile runs.</summary>
    public TimeSpan PolicyRoutingDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <param name="networkdFiles">networkd's runtime directory (leases, link state files); the standard one by default.</param>
    public Broker(BrokerConfiguration config, Logger log, ScriptDispatcher scripts, NetworkdFiles? networkdFiles = null,
        Dhclient.IResolverPusher? resolver = null)
    {
        Config = config;
        _log = log;
        _leases = new DhcpLeaseActions(() => Config, scripts, resolver, log);
        _routes = new RoutesScripts(() => Config, scripts, CloseRoutesWindowLater);
        _states = new StateScripts(() => Config, scripts, networkdFiles ?? new NetworkdFiles(log: log), log);
    }

    /// <summary>Replaced on reload, on the loop; every component reads it at each use.</summary>
    public BrokerConfiguration Config { get; private set; }

    public KernelModel Kernel { get; } = new();

    public NetworkdStates Networkd { get; } = new();

    private readonly TaskCompletionSource _kernelLoaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the kernel's initial state is in the model.</summary>
    public Task KernelLoaded => _kernelLoaded.Task;

    public ChannelWriter<BrokerEvent> Events => _channel.Writer;

    /// <summary>Events taken from the channel since start (read on the loop).</summary>
    public long EventsHandled => _eventsHandled;

    /// <summary>The last policy-routing reconcile's outcome, null before the first (read on the loop).</summary>
    public PolicyRoutingReconciled? PolicyRouting { get; private set; }

    /// <summary>Called on the loop for every event and every change derived from it (monitor, tests).</summary>
    public event Action<BrokerEvent>? Observed;

    /// <summary>The kernel to ask about links the model does not know, and (optionally) whose rules and routes to reconcile.</summary>
    public void Attach(IKernel kernel, Routing.IRoutingTables? tables = null)
    {
        _kernel = kernel;
        if (tables is not null)
            _policyRouting = new Routing.PolicyRoutingWorker(new Routing.PolicyRoutingReconciler(tables, _log), r => _channel.Writer.WriteAsync(r));
    }

    /// <summary>
    /// On stop, once the loop has ended: what was submitted is applied; then, with RemoveRulesOnStop=true,
    /// every rule and route the broker made goes (by default they stay).
    /// </summary>
    public Task StopPolicyRoutingAsync() => _policyRouting is null
        ? Task.CompletedTask
        : _policyRouting.StopAsync(Config.RemoveRulesOnStop
            ? (Routing.PolicyRoutingState.Empty, Routing.PolicyRoutingPresent.Of(Kernel, Config.RouteTableBase))
            : null);

    /// <summary>How long a link's route changes are collected before routes.d runs.</summary>
    public TimeSpan RoutesWindow
    {
        get => _routes.Window;
        init => _routes.Window = value;
    }

    public async Task RunAsync(CancellationToken cancellation)
    {
        try
        {
            await foreach (var brokerEvent in _channel.Reader.ReadAllAsync(cancellation).ConfigureAwait(false))
            {
                if (brokerEvent is not BrokerQuery)
                    _eventsHandled++;
                try
                {
                    Handle(brokerEvent);
                }
                catch (Exception e)
                {
                    // One event that cannot be handled must not stop the daemon or lose the ones after it.
                    _log.Error($"Handling {brokerEvent.GetType().Name} failed: {e}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Applies a new configuration on the loop, after the events queued before it: Links=, RoutingPolicyRules=
    /// (the reconciler runs at once), EmitJSON=, the Use*= keys, RouteTableBase=, the priority and the log level
    /// and format take effect now. Generator=, User= and DHClientLeaseFile= need a restart, and the log says so.
    /// </summary>
    public Task ReloadAsync(BrokerConfiguration config) => QueryAsync(broker =>
    {
        var old = broker.Config;
        foreach (var (key, changed) in new[]
                 {
                     ("Generator", old.Generator != config.Generator), ("User", old.User != config.User),
                     ("DHClientLeaseFile", old.DHClientLeaseFile != config.DHClientLeaseFile),
                 })
            if (changed)
                broker._log.Warn($"Reload: {key}= changed; that takes effect at the next restart");
        broker.Config = config;
        broker._log.Level = config.LogLevel;
        broker._log.Format = config.LogFormat;
        broker.SchedulePolicyRouting();
        broker._log.Info($"Reloaded {config.Path}");
        return true;
    });

    /// <summary>Runs <paramref name="query"/> on the loop, after every event queued before it.</summary>
    public async Task<T> QueryAsync<T>(Func<Broker, T> query)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _channel.Writer.WriteAsync(new BrokerQuery(() =>
        {
            try
            {
                result.SetResult(query(this));
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        })).ConfigureAwait(false);
        return await result.Task.ConfigureAwait(false);
    }

    private void Handle(BrokerEvent brokerEvent)
    {
        switch (brokerEvent)
        {
            case BrokerQuery query:
                query.Run();
                return;
            case RoutesWindowElapsed elapsed:
                _routes.Close(elapsed.IfIndex, Kernel.Link);
                return;
            case PolicyRoutingDue:
                ReconcilePolicyRouting();
                return;
            case PolicyRoutingReconciled reconciled:
                PolicyRouting = reconciled;
                Observed?.Invoke(reconciled);
                return;
            case KernelNotified notified:
                Observed?.Invoke(notified);
                // Rules are not in the model; one of ours deleted by someone else (networkd, an admin) is a reason to look.
                if (notified.Notification is RuleNotification { Removed: true, Rule.Protocol: Routing.PolicyRoutingTags.Protocol })
                    SchedulePolicyRouting();
                ResolveUnknownLink(notified.Notification);
                Act(Kernel.Apply(notified.Notification));
                return;
            case KernelResynced resynced:
                Observed?.Invoke(resynced);
                var changes = Kernel.Resync(resynced.Snapshot, silently: resynced.Reason == ResyncReason.Initial);
                if (resynced.Reason == ResyncReason.Initial)
                {
                    _log.Info($"Kernel: {Kernel.Links.Count} links, {Kernel.AllAddresses.Count()} addresses, {Kernel.AllRoutes.Count()} routes");
                    _kernelLoaded.TrySetResult();
                }
                else if (changes.Count > 0)
                    _log.Info($"Kernel state re-read: {changes.Count} changes had been missed");
                Act(changes);
                SchedulePolicyRouting();
                return;
            case KernelBarrier barrier:
                ReleaseBehindBarrier(barrier);
                return;
            case BarrierOverdue:
                _overdueCheckArmed = false;
                ReleaseOverdue();
                ArmOverdueCheck();
                return;
            case DhclientLeases or NetworkdPropertiesChanged or NetworkdSnapshot:
                HandleAfterKernel(brokerEvent);
                return;
        }
    }

    /// <summary>
    /// networkd and dhclient change the kernel first and tell us after (networkd adds the address, then signals
    /// routable; dhclient-script configures the lease, then the lease file changes). The kernel's notifications
    /// are in our socket by then, but may still be behind the peer's message on the channel: so the message
    /// waits for a barrier through the kernel socket, and the scripts see a model that has the address.
    /// </summary>
    private void HandleAfterKernel(BrokerEvent brokerEvent)
    {
        if (_kernel is not null)
        {
            var token = ++_barrier == 0 ? ++_barrier : _barrier;
            if (_kernel.Barrier(token))
            {
                _behindBarrier.Enqueue((token, brokerEvent, Environment.TickCount64));
                ArmOverdueCheck();
                return;
            }
        }
        // No barrier to be had: keep the order with what waits, then go on at once.
        while (_behindBarrier.TryDequeue(out var waiting))
            HandleFromPeer(waiting.Event);
        HandleFromPeer(brokerEvent);
    }

    private void ReleaseBehindBarrier(KernelBarrier barrier)
    {
        // Tokens grow (wrapping around): everything asked for up to this one is now behind the kernel's notifications.
        while (_behindBarrier.TryPeek(out var waiting) && (int)(waiting.Token - barrier.Token) <= 0)
        {
            _behindBarrier.Dequeue();
            HandleFromPeer(waiting.Event);
        }
    }

    /// <summary>What waited longer than <see cref="BarrierTimeout"/> goes on without its barrier (lost, or the monitor thread is gone).</summary>
    private void ReleaseOverdue()
    {
        var now = Environment.TickCount64;
        while (_behindBarrier.TryPeek(out var waiting) && now - waiting.Since >= (long)BarrierTimeout.TotalMilliseconds)
        {
            _behindBarrier.Dequeue();
            _log.Warn($"The kernel socket did not answer a barrier within {BarrierTimeout.TotalMilliseconds:0} ms; handling {waiting.Event.GetType().Name} without it");
            HandleFromPeer(waiting.Event);
        }
    }

    /// <summary>One timer for the oldest waiting event, not one per event: barriers come back within microseconds.</summary>
    private void ArmOverdueCheck()
    {
        if (_overdueCheckArmed || !_behindBarrier.TryPeek(out var oldest))
            return;
        _overdueCheckArmed = true;
        var due = oldest.Since + (long)BarrierTimeout.TotalMilliseconds - Environment.TickCount64;
        PostLater(new BarrierOverdue(), TimeSpan.FromMilliseconds(Math.Max(0, due)));
    }

    private void HandleFromPeer(BrokerEvent brokerEvent)
    {
        switch (brokerEvent)
        {
            case DhclientLeases leases:
                Observed?.Invoke(leases);
                _leases.Handle(leases, Kernel);
                return;
            case NetworkdPropertiesChanged changed:
                Observed?.Invoke(changed);
                Act(Networkd.Apply(changed, Config.StateProperties));
                return;
            case NetworkdSnapshot snapshot:
                Observed?.Invoke(snapshot);
                if (!snapshot.Available && snapshot.Reason != NetworkdSnapshotReason.Initial)
                    _log.Info("networkd: not on the bus; its links' last known states are kept until it answers");
                else if (snapshot.Reason != NetworkdSnapshotReason.Initial)
                    _log.Info($"networkd: state re-read after {(snapshot.Reason == NetworkdSnapshotReason.Restarted ? "its restart" : "reconnecting")}");
                Act(Networkd.Apply(snapshot, replay: Config.RunStartupTriggers, Config.StateProperties));
                return;
        }
    }

    private void Act(IReadOnlyList<BrokerEvent> transitions)
    {
        _states.BeginEvent();
        foreach (var transition in transitions)
        {
            Observed?.Invoke(transition);
            switch (transition)
            {
                case LinkTransition link when NameOf(link.IfIndex) is { } name:
                    _states.Run(link, name, Kernel);
                    break;
                case LinkTransition link:
                    _log.Warn($"ifindex {link.IfIndex}: {link.Property} is {link.Value}, but no such link is known; no scripts run");
                    break;
                case ManagerTransition manager:
                    _states.Run(manager);
                    break;
            }
        }
    }

    /// <summary>The kernel model's name; failing that the kernel's, asked now; failing that networkd's.</summary>
    private string? NameOf(int index)
    {
        if (Kernel.Link(index) is { } known)
            return known.Name;
        if (_kernel?.GetLink(index) is { } link)
        {
            Act(Kernel.Apply(new LinkNotification(false, Netlink.NetlinkFlags.None, link)));
            return link.Name;
        }
        return Networkd.NameOf(index);
    }

    /// <summary>An address or route for an ifindex we do not know: ask the kernel for the link rather than log an empty name.</summary>
    private void ResolveUnknownLink(KernelNotification notification)
    {
        var index = notification switch
        {
            AddressNotification { Removed: false } a => a.Address.Index,
            RouteNotification { Removed: false } r => r.Route.Links.FirstOrDefault(),
            _ => 0,
        };
        if (index <= 0 || Kernel.Link(index) is not null || _kernel?.GetLink(index) is not { } link)
            return;
        _log.ForLink(link.Name, index).Debug("Link learnt from the kernel on demand");
        Act(Kernel.Apply(new LinkNotification(false, Netlink.NetlinkFlags.None, link)));
    }

    private void Act(IReadOnlyList<KernelChange> changes)
    {
        foreach (var change in changes)
        {
            Log(change);
            Observed?.Invoke(change);
            _routes.Observe(change, Kernel.Link);
            if (change is LinkRemoved)
                Networkd.Forget(change.IfIndex);
            if (Config.RoutingPolicyRules.Length > 0 && ConcernsPolicyRouting(change))
                SchedulePolicyRouting();
        }
    }

    /// <summary>
    /// Whether the policy-routing wish may have changed: a link came, went or was renamed, one of our routes was removed,
    /// an address or the flags of a listed link changed, or a default route that is a listed link's own or whose gateway
    /// lies on a listed link's subnet (the only other one it may use). Measured with 1,000 links: reconciling the 250
    /// listed ones on every flap of an unlisted link was 74% of the daemon's CPU.
    /// </summary>
    private bool ConcernsPolicyRouting(KernelChange change) => change switch
    {
        LinkAdded or LinkRemoved or LinkRenamed => true,
        RouteRemoved { Route.Protocol: Routing.PolicyRoutingTags.Protocol } => true,
        RouteAdded { Route.IsDefault: true } added => GatewayConcernsPolicyRouting(change.Link, added.Route),
        RouteRemoved { Route.IsDefault: true } removed => GatewayConcernsPolicyRouting(change.Link, removed.Route),
        AddressAdded or AddressRemoved or LinkChanged => Routing.PolicyRoutingDesired.IsPolicyRouted(Config, change.Link),
        _ => false,
    };

    private bool GatewayConcernsPolicyRouting(string link, Netlink.Messages.RouteMessage route) =>
        route.Gateway is not { } gateway || Routing.PolicyRoutingDesired.IsPolicyRouted(Config, link) ||
        Kernel.AllAddresses.Any(a => Kernel.Link(a.Index) is { } owner && Routing.PolicyRoutingDesired.IsPolicyRouted(Config, owner.Name) &&
            Routing.PolicyRoutingDesired.Contains(a.Address, a.PrefixLength, gateway));

    private void SchedulePolicyRouting()
    {
        if (_policyRouting is null || Interlocked.Exchange(ref _policyRoutingScheduled, 1) == 1)
            return;
        PostLater(new PolicyRoutingDue(), PolicyRoutingDelay);
    }

    private void ReconcilePolicyRouting()
    {
        Volatile.Write(ref _policyRoutingScheduled, 0);
        if (_policyRouting is null)
            return;
        var notes = new List<string>();
        var desired = Routing.PolicyRoutingDesired.Compute(Config, Kernel, notes);
        // Say why a table has no default route when that changes, not on every run.
        var said = string.Join('\n', notes);
        if (said != _policyRoutingNotes)
            foreach (var note in notes)
                _log.Info($"policy routing: {note}");
        _policyRoutingNotes = said;
        // The kernel is asked off the loop; the outcome comes back as a PolicyRoutingReconciled event.
        _policyRouting.Submit(desired, Routing.PolicyRoutingPresent.Of(Kernel, Config.RouteTableBase));
    }

    private void Log(KernelChange change)
    {
        if (!_log.IsEnabled(LogLevel.Debug))
            return;
        var link = _log.ForLink(change.Link.Length > 0 ? change.Link : $"ifindex {change.IfIndex}", change.IfIndex);
        switch (change)
        {
            case LinkAdded: link.Debug("Link added"); break;
            case LinkRemoved: link.Debug("Link removed"); break;
            case LinkRenamed renamed: link.Debug($"Renamed from {renamed.OldName}"); break;
            case LinkChanged changed: link.Debug($"Link changed: flags {changed.Message.Flags}, operstate {changed.Message.OperState}"); break;
            case AddressAdded added: link.Debug($"Address {added.Address.Address}/{added.Address.PrefixLength} added"); break;
            case AddressRemoved removed: link.Debug($"Address {removed.Address.Address}/{removed.Address.PrefixLength} removed"); break;
            case RouteAdded added: link.Debug($"Route {RouteDescription.Describe("add", added.Route)}"); break;
            case RouteRemoved removed: link.Debug($"Route {RouteDescription.Describe("del", removed.Route)}"); break;
        }
    }

    private void CloseRoutesWindowLater(int index, TimeSpan window) => PostLater(new RoutesWindowElapsed(index), window);

    /// <summary>Puts an event of the broker's own on its channel after a delay (a timer, never a sleeping thread).</summary>
    private void PostLater(BrokerEvent brokerEvent, TimeSpan delay) =>
        _ = Task.Delay(delay).ContinueWith(_ => _channel.Writer.WriteAsync(brokerEvent).AsTask(), TaskScheduler.Default);
}
