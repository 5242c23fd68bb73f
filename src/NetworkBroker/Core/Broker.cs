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

    // Synchronous continuations: when the loop waits, the source that writes runs it (the netlink monitor's thread, the
    // D-Bus reader, a timer's), instead of waking a pool worker for every event: a carrier flap is some twenty kernel
    // notifications and five signals, each of which cost two thread switches. Still one loop: the channel has one
    // reader, and a source that writes while the loop runs elsewhere only queues. The loop never waits, so a source
    // is held no longer than the loop takes to drain; the kernel's monitor waits for the loop by design.
    private readonly Channel<BrokerEvent> _channel = Channel.CreateBounded<BrokerEvent>(
        new BoundedChannelOptions(ChannelCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait, AllowSynchronousContinuations = true });
    private readonly Logger _log;
    private readonly RoutesScripts _routes;
    private readonly StateScripts _states;
    private readonly DhcpLeaseActions _leases;
    private readonly StateMemory? _memory;
    private bool _networkdApplied;
    // ifindex -> the kernel's notifications about it that wait, in order, for the kernel's answer about the link.
    private readonly Dictionary<int, List<KernelNotification>> _lookingUp = [];
    private IKernel? _kernel;
    private Routing.PolicyRouting? _policyRouting;
    private long _eventsHandled;
    // The kernel source's events taken from the channel (compared with how many it put there: IKernel.CaughtUp).
    private long _kernelEventsHandled;
    private KernelBarrierGate<BrokerEvent>? _gate;

    /// <summary>
    /// How long a networkd or dhclient event waits for the kernel's notifications before it is handled anyway, with
    /// a warning: between one and two of these (the check may share the timer thread's wake-up with another step).
    /// </summary>
    public TimeSpan BarrierTimeout { get; init; } = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan OverdueClockMargin = TimeSpan.FromMilliseconds(20);

    private KernelBarrierGate<BrokerEvent> Gate => _gate ??= new(static () => Environment.TickCount64, BarrierTimeout);

    /// <summary>How long policy-routing triggers are collected before one reconcile runs.</summary>
    public TimeSpan PolicyRoutingDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <param name="networkdFiles">networkd's runtime directory (leases, link state files); the standard one by default.</param>
    /// <param name="memory">
    /// The states scripts last ran for, across restarts: with it, the first start of a boot runs every current state
    /// once and a restart what changed meanwhile; without it (embedded, no runtime directory) a start runs nothing
    /// unless RunStartupTriggers=true.
    /// </param>
    /// <param name="udev">udev's database (/run/udev/data by default).</param>
    public Broker(BrokerConfiguration config, Logger log, ScriptDispatcher scripts, NetworkdFiles? networkdFiles = null,
        Dhclient.IResolverPusher? resolver = null, StateMemory? memory = null, Udev.UdevDatabase? udev = null)
    {
        Config = config;
        _log = log;
        _memory = memory;
        _leases = new DhcpLeaseActions(() => Config, scripts, resolver, log);
        _routes = new RoutesScripts(() => Config, scripts, CloseRoutesWindowLater);
        _states = new StateScripts(() => Config, scripts, networkdFiles ?? new NetworkdFiles(log: log), log, udev);
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

    /// <summary>Peers' inputs that waited for a kernel barrier, and those that needed none (nothing of the kernel's was queued); read on the loop.</summary>
    public (long Sent, long Skipped) Barriers => (_barriersSent, _barriersSkipped);

    private long _barriersSent;
    private long _barriersSkipped;

    /// <summary>The last policy-routing reconcile's outcome, null before the first (read on the loop).</summary>
    public PolicyRoutingReconciled? PolicyRouting => _policyRouting?.Last;

    /// <summary>Called on the loop for every event and every change derived from it (monitor, tests).</summary>
    public event Action<BrokerEvent>? Observed;

    /// <summary>The kernel to ask about links the model does not know, and (optionally) whose rules and routes to reconcile.</summary>
    public void Attach(IKernel kernel, Routing.IRoutingTables? tables = null)
    {
        _kernel = kernel;
        if (tables is not null)
            _policyRouting = new Routing.PolicyRouting(() => Config, Kernel, tables, _log, PostLater, r => _channel.Writer.WriteAsync(r), PolicyRoutingDelay);
    }

    /// <summary>
    /// On stop, once the loop has ended: what was submitted is applied; then, with RemoveRulesOnStop=true,
    /// every rule and route the broker made goes (by default they stay).
    /// </summary>
    public Task StopPolicyRoutingAsync() => _policyRouting?.StopAsync() ?? Task.CompletedTask;

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
                if (brokerEvent is KernelNotified or KernelResynced or KernelBarrier)
                    _kernelEventsHandled++;
                try
                {
                    using (LoopGuard.Handling(_log))
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
    /// and format take effect now. The keys that need a restart are <see cref="RestartKeys"/>; the daemon names them.
    /// </summary>
    public Task ReloadAsync(BrokerConfiguration config) => QueryAsync(broker =>
    {
        broker.Config = config;
        broker._log.Level = config.LogLevel;
        broker._log.Format = config.LogFormat;
        broker._policyRouting?.Schedule();
        // UseDNS= and the like, and Links=, apply to the leases known now, not only from their next change.
        broker._leases.Reconfigured(broker.Kernel);
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
                _policyRouting?.Reconcile();
                return;
            case PolicyRoutingReconciled reconciled:
                _policyRouting?.Reconciled(reconciled);
                Observed?.Invoke(reconciled);
                return;
            case KernelNotified notified:
                Observed?.Invoke(notified);
                if (notified.Notification is RuleNotification rule)
                    _policyRouting?.Observe(rule);
                if (!WaitsForLookUp(notified.Notification))
                    Act(Kernel.Apply(notified.Notification));
                return;
            case LinkLookedUp lookedUp:
                LookedUp(lookedUp);
                return;
            case KernelResynced resynced:
                Observed?.Invoke(resynced);
                // The re-read supersedes what waited for a link's look-up (its answers then find nothing to release).
                _lookingUp.Clear();
                var changes = Kernel.Resync(resynced.Snapshot, silently: resynced.Reason == ResyncReason.Initial);
                if (resynced.Reason == ResyncReason.Initial)
                {
                    _log.Info($"Kernel: {Kernel.Links.Count} links, {Kernel.AddressCount} addresses, {Kernel.RouteCount} routes");
                    _kernelLoaded.TrySetResult();
                }
                else
                {
                    // A link removed and made again under its ifindex and name while notifications were lost shows no
                    // removal: what sysfs said of every link is read again.
                    _states.ForgetLinks();
                    if (changes.Count > 0)
                        _log.Info($"Kernel state re-read: {changes.Count} changes had been missed");
                }
                Act(changes);
                _policyRouting?.Schedule();
                return;
            case KernelBarrier barrier:
                HandleFromPeer(Gate.Released(barrier.Token));
                return;
            case BarrierOverdue:
                var late = Gate.Overdue();
                foreach (var waiting in late)
                    _log.Warn($"The kernel socket did not answer a barrier within {BarrierTimeout.TotalMilliseconds:0} ms; handling {waiting.GetType().Name} without it");
                HandleFromPeer(late);
                ArmOverdueCheck();
                return;
            case PeerInput { WaitsForKernel: true } input:
                HandleAfterKernel(input);
                return;
            case PeerInput input:
                HandleFromPeer(input);
                return;
        }
    }

    /// <summary>
    /// networkd and dhclient change the kernel first and tell us after (networkd adds the address, then signals
    /// routable; dhclient-script configures the lease, then the lease file changes). The kernel's notifications
    /// are in our socket by then, but may still be behind the peer's message on the channel: so the message
    /// waits for a barrier through the kernel socket (<see cref="KernelBarrierGate{T}"/>), and the scripts see a
    /// model that has the address. Most often nothing of the kernel's is queued anywhere by then (its notifications
    /// came before networkd's signal, and the loop has handled them): the kernel source can tell so without a round
    /// trip, and the input is handled at once, which saves the barrier's two thread hops.
    /// </summary>
    private void HandleAfterKernel(BrokerEvent brokerEvent)
    {
        var kernel = _kernel;
        if (Gate.Held == 0 && kernel is not null && kernel.CaughtUp(out var posted) && posted == _kernelEventsHandled)
        {
            _barriersSkipped++;
            HandleFromPeer(brokerEvent);
            return;
        }
        _barriersSent++;
        HandleFromPeer(Gate.Admit(brokerEvent, kernel is not null ? kernel.Barrier : null));
        ArmOverdueCheck();
    }

    private void ArmOverdueCheck()
    {
        // A few milliseconds late, so that the gate's coarse clock (TickCount64) has passed the due time too, and the
        // check is not armed again; and up to another timeout later, to go in the timer thread's wake-up for another
        // step: barriers come back within microseconds, and the check almost never finds anything.
        if (Gate.ArmCheck() is { } due)
            PostLater(new BarrierOverdue(), due + OverdueClockMargin, BarrierTimeout);
    }

    private void HandleFromPeer(IReadOnlyList<BrokerEvent> inputs)
    {
        foreach (var input in inputs)
            HandleFromPeer(input);
    }

    private void HandleFromPeer(BrokerEvent brokerEvent)
    {
        switch (brokerEvent)
        {
            case LeasesRead leases:
                Observed?.Invoke(leases);
                _leases.Handle(leases, Kernel, leases.Initial && ReplayAtStart, leases.Initial ? _memory?.Recalled : null);
                Remember();
                return;
            case LinkStatesChanged changed:
                Observed?.Invoke(changed);
                Act(Networkd.Apply(changed, Config.StateProperties));
                Remember();
                return;
            case LinkStatesRead snapshot:
                Observed?.Invoke(snapshot);
                if (!snapshot.Available && snapshot.Reason != LinkStatesReadReason.Initial)
                    _log.Info("networkd: not on the bus; its links' last known states are kept until it answers");
                else if (snapshot.Reason != LinkStatesReadReason.Initial)
                    _log.Info($"networkd: state re-read after {(snapshot.Reason == LinkStatesReadReason.Restarted ? "its restart" : "reconnecting")}");
                // networkd absent at start: its first answer is the start's state (after a restart, compared with what
                // was remembered, not with nothing).
                var start = _memory is not null && !_networkdApplied && snapshot.Available && snapshot.Reason != LinkStatesReadReason.Initial
                    ? snapshot with { Reason = LinkStatesReadReason.Initial }
                    : snapshot;
                Act(Networkd.Apply(start, replay: ReplayAtStart, Config.StateProperties, _memory?.Recalled));
                if (snapshot.Available)
                {
                    _networkdApplied = true;
                    Remember();
                }
                return;
        }
    }

    /// <summary>
    /// run-scripts through the control socket (on the loop): the event the daemon would make now for this link in
    /// this state, with the link's states, addresses, lease and JSON as the daemon knows them, queued behind the
    /// link's own events and run as they are. Null when queued; otherwise why not.
    /// </summary>
    public string? RunOnRequest(string state, string? link, ScriptObserver observer)
    {
        if (!ScriptVariables.IsStateWord(state))
            return $"\"{Logging.PeerText.Excerpt(state, 40)}\" is not a state name";
        if (state == StateScripts.ManagerState)
        {
            _states.Run(new ManagerTransition([.. Networkd.Manager], Networkd.Manager), observer);
            return null;
        }
        if (link is null)
            return "a link is needed";
        if (LinkName.WhyNotInterfaceName(link) is { } why)
            return why;
        var message = Kernel.Link(link);
        if (message is not null && !Config.Links.Matches(message.Name))
            return $"{message.Name} is not selected by Links=: the daemon runs no scripts for it";
        // Nothing the daemon knows makes these events: only what was asked for, as a script sees it, run as the daemon runs scripts.
        if (message is null)
            return Synthesised($"no link named {Logging.PeerText.Excerpt(link, 32)} here: LINK, LINKINDEX=0 and STATE only, with the --env given");
        if (state == RoutesScripts.State)
            return Synthesised("routes.d runs for route changes: the route's variables are what --env gives");
        var states = Networkd.Link(message.Index);
        if (states is null && state == DhcpLeaseActions.State && !Config.Generator.HasFlag(EventSources.SystemdNetworkd))
            return _leases.RunOnRequest(message.Name, Kernel, observer)
                ? null
                : Synthesised($"dhclient has no lease for {message.Name}: LINK, LINKINDEX and STATE only, with the --env given");
        states ??= System.Collections.Immutable.ImmutableDictionary<string, string>.Empty;
        var property = Config.StateProperties.FirstOrDefault(p => states.GetValueOrDefault(p) == state) ?? "OperationalState";
        _states.BeginEvent();
        _states.Run(new LinkTransition(message.Index, property, state, states), message.Name, Kernel, observer);
        return null;

        string? Synthesised(string note)
        {
            observer.Note(note);
            _states.RunSynthesised(state, message?.Name ?? link, message?.Index ?? 0, observer);
            return null;
        }
    }

    /// <summary>At start every current state runs: RunStartupTriggers=true, or the first start of this boot.</summary>
    private bool ReplayAtStart => Config.RunStartupTriggers || _memory is { Recalled: null };

    /// <summary>What scripts were run for, handed to the memory's writer (the loop never waits for the file).</summary>
    private void Remember()
    {
        if (_memory is null)
            return;
        var (links, names, manager) = Networkd.Now;
        // Before networkd's first answer its links are what was remembered, not nothing (a dhclient lease came first).
        if (!_networkdApplied && _memory.Recalled is { } recalled)
            (links, names, manager) = (recalled.Links, recalled.Names, recalled.Manager);
        _memory.Remember(new RememberedStates(_memory.BootId, links, names, manager, _leases.Now));
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

    /// <summary>
    /// The kernel model's name; failing that networkd's. Never a question to the kernel from the loop: peers' inputs
    /// wait for a barrier, so the model has every link the kernel told of by then.
    /// </summary>
    private string? NameOf(int index) => Kernel.Link(index)?.Name ?? Networkd.NameOf(index);

    /// <summary>
    /// An address or route for an ifindex the model does not know (a notification lost to an overrun, or one
    /// that overtook the link's): the kernel is asked about the link off the loop, and that notification, with
    /// every later one about the same ifindex, waits for the answer, in order, so that logs and scripts name the
    /// link and a link deleted meanwhile is deleted after, never brought back. True when it waits.
    /// </summary>
    private bool WaitsForLookUp(KernelNotification notification)
    {
        var index = notification switch
        {
            AddressNotification a => a.Address.Index,
            RouteNotification r => r.Route.Links.FirstOrDefault(),
            LinkNotification l => l.Link.Index,
            _ => 0,
        };
        if (index <= 0)
            return false;
        if (_lookingUp.TryGetValue(index, out var waiting))
        {
            waiting.Add(notification);
            return true;
        }
        var unknown = notification is AddressNotification { Removed: false } or RouteNotification { Removed: false } && Kernel.Link(index) is null;
        if (!unknown || _kernel is not { } kernel)
            return false;
        _lookingUp[index] = [notification];
        _ = Task.Run(async () =>
        {
            Netlink.Messages.LinkMessage? link = null;
            try
            {
                link = kernel.GetLink(index);
            }
            catch (Exception e) when (e is NetlinkException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                _log.Debug($"ifindex {index}: the kernel could not be asked about the link: {e.Message}");
            }
            try
            {
                // Waiting for room if need be: a lost answer would hold this ifindex's notifications until the next re-read.
                await _channel.Writer.WriteAsync(new LinkLookedUp(index, link)).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                // The broker stopped.
            }
        });
        return true;
    }

    private void LookedUp(LinkLookedUp lookedUp)
    {
        if (!_lookingUp.Remove(lookedUp.IfIndex, out var waiting))
            return;
        if (lookedUp.Link is { } link && Kernel.Link(link.Index) is null)
        {
            _log.ForLink(link.Name, link.Index).Debug("Link learnt from the kernel on demand");
            Act(Kernel.Apply(new LinkNotification(false, Netlink.NetlinkFlags.None, link)));
        }
        foreach (var notification in waiting)
            Act(Kernel.Apply(notification));
    }

    private void Act(IReadOnlyList<KernelChange> changes)
    {
        foreach (var change in changes)
        {
            Log(change);
            Observed?.Invoke(change);
            _routes.Observe(change, Kernel.Link);
            if (change is LinkRemoved)
            {
                Networkd.Forget(change.IfIndex);
                _states.Forget(change.IfIndex);
            }
            _policyRouting?.Observe(change);
        }
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

    /// <summary>
    /// Puts an event of the broker's own on its channel after a delay, from the <see cref="TimerThread"/> (which then
    /// runs the loop, if it waits); on a full channel the write waits on its own, never holding the timer thread.
    /// </summary>
    private void PostLater(BrokerEvent brokerEvent, TimeSpan delay) => PostLater(brokerEvent, delay, TimeSpan.Zero);

    private void PostLater(BrokerEvent brokerEvent, TimeSpan delay, TimeSpan slack) =>
        TimerThread.Shared.After(delay, slack, () =>
        {
            if (!_channel.Writer.TryWrite(brokerEvent))
                _ = _channel.Writer.WriteAsync(brokerEvent).AsTask();
        });
}
