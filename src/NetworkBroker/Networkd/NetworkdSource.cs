using System.Collections.Immutable;
using System.Threading.Channels;
using NetworkBroker.DBus;
using NetworkBroker.Events;
using NetworkBroker.Logging;

namespace NetworkBroker.Networkd;

/// <summary>
/// systemd-networkd as an event source. Listens for PropertiesChanged of the manager and every link,
/// and for networkd's NameOwnerChanged. At start, after reconnecting to the bus, and when networkd
/// restarts, it reads every link's states afresh and posts them as a <see cref="LinkStatesRead"/>;
/// the broker diffs that against what it knew, so transitions missed meanwhile are delivered once.
/// Signals that arrive while a snapshot is read are held back: one that the snapshot already
/// contains (it came before that link's reply) is dropped, the others follow the snapshot in order.
/// </summary>
public sealed class NetworkdSource(ChannelWriter<BrokerEvent> events, Logger log, string busAddress)
{
    private readonly SourceOutbox _outbox = new(events);

    private static readonly TimeSpan MinimumBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaximumBackoff = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan RejectionWarningInterval = TimeSpan.FromMinutes(1);

    /// <summary>How long after a failed read of networkd's state whose owner was not checked yet it is read again.</summary>
    private static readonly TimeSpan RereadDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    // Signals of networkd's verified owner that arrive while a snapshot is read: who sent them, when they came.
    private List<(string Sender, long Sequence, LinkStatesChanged Event)>? _heldBack;
    private DBusConnection? _connection;
    // networkd's unique name on the bus (":1.5"): the only sender whose PropertiesChanged counts. Null while unknown.
    private volatile string? _owner;
    private long _rejected;
    private readonly WarningRate _rejections = new(RejectionWarningInterval);
    private readonly WarningRate _malformed = new(RejectionWarningInterval);
    private Task _resnapshot = Task.CompletedTask;
    // Who may be networkd: root, or the user its unit runs it as. Looked up once (getpwnam reads /etc/passwd or asks NSS).
    private readonly uint[] _networkdUsers = NetworkdUsers();
    // The last owner of networkd's name refused for its uid: said once, not at every re-read.
    private volatile string? _refusedOwner;

    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many snapshots were read (tests wait on it).</summary>
    public int Snapshots { get; private set; }

    /// <summary>Signals dropped because networkd did not send them, or too large to be its (shown by <c>status</c>).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Our connection's unique name on the bus, once connected (what a forger would address).</summary>
    public string? UniqueName => _connection?.UniqueName;

    /// <summary>Completes after the first snapshot was posted, or the first attempt to get one failed (the bus is not there).</summary>
    public Task FirstAttempt => _firstAttempt.Task;

    /// <summary>Runs until cancelled: connects, listens, and reconnects with backoff whenever the bus goes away.</summary>
    public async Task RunAsync(CancellationToken cancellation)
    {
        _outbox.Overflowed += Overflowed;
        var backoff = MinimumBackoff;
        var reason = LinkStatesReadReason.Initial;
        var warned = false;
        while (!cancellation.IsCancellationRequested)
        {
            try
            {
                lock (_gate)
                    _heldBack = [];
                _owner = null;
                var connection = await DBusConnection.ConnectAsync(busAddress, OnSignal, Malformed, cancellation).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    _connection = connection;
                    await connection.AddMatchAsync(NetworkdBus.PropertiesMatch, cancellation).ConfigureAwait(false);
                    await connection.AddMatchAsync(NetworkdBus.OwnerMatch, cancellation).ConfigureAwait(false);
                    // Through the same chain as a re-read after networkd's restart: two reads never run at once.
                    Task first;
                    lock (_gate)
                        _resnapshot = first = _resnapshot.ContinueWith(_ => SnapshotAsync(connection, reason, cancellation),
                            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
                    await first.ConfigureAwait(false);
                    _firstAttempt.TrySetResult();
                    if (warned || reason != LinkStatesReadReason.Initial)
                        log.Info($"networkd: connected to the bus as {connection.UniqueName}");
                    warned = false;
                    backoff = MinimumBackoff;

                    var closed = await connection.Closed.WaitAsync(cancellation).ConfigureAwait(false);
                    log.Warn($"networkd: lost the bus ({closed?.Message ?? "closed"}); reconnecting");
                    reason = LinkStatesReadReason.Reconnected;
                }
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is DBusConnectionException or DBusErrorException or DBusFormatException or TimeoutException)
            {
                _firstAttempt.TrySetResult();
                if (!warned)
                    log.Warn($"networkd: {e.Message}; retrying");
                else
                    log.Debug($"networkd: {e.Message}; retrying in {backoff.TotalMilliseconds:0} ms");
                warned = true;
                if (reason == LinkStatesReadReason.Initial && Snapshots > 0)
                    reason = LinkStatesReadReason.Reconnected;
            }
            finally
            {
                _connection = null;
            }
            try
            {
                await Task.Delay(backoff, cancellation).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaximumBackoff.Ticks));
        }
    }

    private async Task SnapshotAsync(DBusConnection connection, LinkStatesReadReason reason, CancellationToken cancellation)
    {
        var links = ImmutableDictionary.CreateBuilder<int, ImmutableDictionary<string, string>>();
        var names = ImmutableDictionary.CreateBuilder<int, string>();
        var replies = new Dictionary<int, long>(); // ifindex (0: manager) -> the reply's receive sequence
        var manager = ImmutableDictionary<string, string>.Empty;

        var owner = await connection.GetNameOwnerAsync(NetworkdBus.Service, cancellation).ConfigureAwait(false);
        if (owner is null)
            log.Info("networkd: systemd-networkd is not on the bus; waiting for it");
        else if (!await IsNetworkdAsync(connection, owner, cancellation).ConfigureAwait(false))
            owner = null;
        // Believed from here on: its signals from now on are held back until the state read below is posted.
        _owner = owner;

        if (owner is not null)
        {
            // Asked of networkd's unique name, so the replies can only come from it (the connection checks).
            var list = await connection.CallAsync(owner, NetworkdBus.ManagerPath, NetworkdBus.ManagerInterface, "ListLinks",
                cancellation: cancellation).ConfigureAwait(false);
            foreach (var (index, name, path) in NetworkdBus.ReadLinks(list))
            {
                if (index <= 0 || NetworkdBus.IfIndexOf(path) != index || !Configuration.LinkName.IsInterfaceName(name))
                {
                    log.Warn($"networkd: ignoring a listed link with ifindex {index}, name \"{PeerText.Excerpt(name)}\", path {PeerText.Excerpt(path)}");
                    continue;
                }
                try
                {
                    var (states, sequence) = await GetAllAsync(connection, owner, path, NetworkdBus.LinkInterface, cancellation, log: log).ConfigureAwait(false);
                    links[index] = states;
                    names[index] = name;
                    replies[index] = sequence;
                }
                catch (DBusErrorException e)
                {
                    // The link went away between ListLinks and GetAll: its removal is news the kernel source reports.
                    log.Debug($"networkd: {name}: {e.Message}");
                }
                catch (DBusFormatException e)
                {
                    // An answer that does not decode costs this link's state, not the whole read (nor a reconnect loop).
                    log.Warn($"networkd: {name}: ignoring its state: {e.Message}");
                }
            }
            (manager, replies[0]) = await GetAllAsync(connection, owner, NetworkdBus.ManagerPath, NetworkdBus.ManagerInterface, cancellation, log: log)
                .ConfigureAwait(false);
        }

        List<(string Sender, long Sequence, LinkStatesChanged Event)> held;
        lock (_gate)
        {
            held = _heldBack ?? [];
            _heldBack = null;
            Snapshots++;
            Post(new LinkStatesRead(links.ToImmutable(), names.ToImmutable(), manager, reason, Available: owner is not null));
            foreach (var (sender, sequence, change) in held)
            {
                // A networkd that was replaced meanwhile is not the one this state was read from.
                if (sender == owner && (!replies.TryGetValue(change.IfIndex, out var replied) || sequence > replied))
                    Post(change);
            }
        }
        log.Debug($"networkd: read {links.Count} links ({reason}); {held.Count} signals held back meanwhile");
    }

    /// <summary>
    /// Whether the owner of networkd's name runs as root or <see cref="NetworkdBus.User"/>: a bus whose policy lets any
    /// user own the name (a user queued for it takes it when networkd stops) must not make that user networkd. Refused,
    /// it is said once as an error; its signals are dropped and its links' last known states kept, as while networkd
    /// is not on the bus.
    /// </summary>
    private async Task<bool> IsNetworkdAsync(DBusConnection connection, string owner, CancellationToken cancellation)
    {
        var uid = await connection.GetConnectionUnixUserAsync(owner, cancellation).ConfigureAwait(false);
        if (Array.IndexOf(_networkdUsers, uid) >= 0)
        {
            _refusedOwner = null;
            return true;
        }
        if (_refusedOwner != owner)
            log.Error($"networkd: {NetworkdBus.Service} is owned by {PeerText.Excerpt(owner)}, a process of uid {uid}, not root or " +
                      $"{NetworkdBus.User}: not believed, and its signals are dropped until systemd-networkd owns the name again " +
                      $"(the bus's policy should let only root and {NetworkdBus.User} own it)");
        _refusedOwner = owner;
        return false;
    }

    private static uint[] NetworkdUsers() =>
        Privileges.PrivilegeDrop.LookUp(NetworkdBus.User, out var uid, out _) && uid != 0 ? [0, uid] : [0];

    /// <summary>The state properties of one networkd object (<see cref="NetworkdSignals.States"/>), and when the reply arrived.</summary>
    /// <param name="owner">networkd's unique name (the reply must come from it).</param>
    internal static async Task<(ImmutableDictionary<string, string> States, long Sequence)> GetAllAsync(DBusConnection connection,
        string owner, string path, string iface, CancellationToken cancellation, TimeSpan? timeout = null, Logger? log = null)
    {
        var reply = await connection.CallAsync(owner, path, NetworkdBus.PropertiesInterface, "GetAll", "s",
            w => w.WriteString(iface), timeout, cancellation).ConfigureAwait(false);
        var dropped = new List<string>();
        var states = NetworkdSignals.States(iface == NetworkdBus.ManagerInterface, reply, dropped, path);
        foreach (var note in dropped)
            log?.Debug($"networkd: ignoring {note}");
        return (states, reply.ReceiveSequence);
    }

    /// <summary>On the connection's reader, in arrival order. Who sent it is checked before anything else is read.</summary>
    private void OnSignal(DBusMessage signal)
    {
        if (NetworkdSignals.IsFromBus(signal))
        {
            if (NetworkdSignals.OwnerChange(signal) is { } change)
                OnOwnerChanged(change.New);
            return; // NameAcquired and the like
        }

        var owner = _owner;
        if (owner is null && signal.Sender is { } sender && sender == _refusedOwner)
        {
            // The name's owner refused for its uid speaks as networkd: a forgery, counted as one.
            Reject(signal);
            return;
        }
        if (owner is null)
        {
            // networkd's name is not known yet (the state read that follows will cover what networkd said now) or
            // nobody owns it: nothing to believe either way, and nothing is kept.
            log.Debug($"networkd: ignoring {PeerText.Excerpt(signal.Member)} from {PeerText.Excerpt(signal.Sender)}: systemd-networkd's name has no known owner");
            return;
        }
        if (!NetworkdSignals.IsFromNetworkd(signal, owner))
        {
            Reject(signal);
            return;
        }

        var dropped = new List<string>();
        var changed = NetworkdSignals.PropertiesChanged(signal, dropped);
        foreach (var note in dropped)
            log.Debug($"networkd: ignoring {note}");
        if (changed is null)
            return;

        lock (_gate)
        {
            if (_heldBack is not null)
                _heldBack.Add((owner, signal.ReceiveSequence, changed));
            else
                Post(changed);
        }
    }

    /// <summary>A message networkd did not send: dropped before it touches any state, counted, and said (a warning at most once a minute).</summary>
    private void Reject(DBusMessage signal)
    {
        Interlocked.Increment(ref _rejected);
        var what = $"{PeerText.Excerpt(signal.Member)} on {PeerText.Excerpt(signal.Path)} from {PeerText.Excerpt(signal.Sender)}";
        log.Debug($"networkd: rejected a signal not sent by systemd-networkd ({_owner ?? "not on the bus"}): {what}");
        if (_rejections.Due(out var count))
            log.Warn($"networkd: rejected {count} D-Bus signal(s) that systemd-networkd did not send (the last: {what}); " +
                     "another local user may be forging networkd's signals");
    }

    /// <summary>
    /// A message that did not decode, or was too large to read (any local user may address one to the broker): dropped,
    /// said at debug level each, and as a warning at most once a minute.
    /// </summary>
    private void Malformed(Exception e)
    {
        // A signal that large is not networkd's (its largest is under 2 KiB): a rejected one, as status counts them.
        if (e is DBusMessageTooLargeException { Type: DBusMessageType.Signal })
            Interlocked.Increment(ref _rejected);
        log.Debug($"networkd: ignoring a malformed D-Bus message: {e.Message}");
        if (_malformed.Due(out var count))
            log.Warn($"networkd: ignored {count} malformed or oversized D-Bus message(s) (the last: {e.Message})");
    }

    private void OnOwnerChanged(string owner)
    {
        // A new owner is believed once the state read checked who it is; what it says before that, the read covers.
        _owner = null;
        if (owner.Length == 0)
        {
            log.Warn("networkd: systemd-networkd left the bus");
            return;
        }
        log.Info($"networkd: {NetworkdBus.Service} is owned by {PeerText.Excerpt(owner)} now; reading its state");
        ReadAgain(LinkStatesReadReason.Restarted, "after a restart");
    }

    /// <summary>
    /// Reads networkd's state afresh, after the reads before it; signals arriving meanwhile are held back and only
    /// those newer than the read follow it. Not awaited: called on the connection's reader, which must keep reading
    /// for the replies.
    /// </summary>
    private void ReadAgain(LinkStatesReadReason reason, string why)
    {
        lock (_gate)
            _heldBack ??= [];
        var connection = _connection;
        if (connection is null)
            return;
        Task next;
        lock (_gate)
            _resnapshot = next = _resnapshot.ContinueWith(_ => SnapshotAsync(connection, reason, CancellationToken.None),
                TaskScheduler.Default).Unwrap();
        _ = next.ContinueWith(t =>
            {
                if (t.Exception is not { } e)
                    return;
                if (_owner is null)
                {
                    // It failed before the owner was checked (the bus did not answer who owns the name, or as whom it
                    // runs): nothing networkd says is believed until a read checks it, so read again, a moment later.
                    log.Warn($"networkd: reading its state {why} failed: {e.InnerException?.Message}; reading it again in {RereadDelay.TotalSeconds:0} s");
                    _ = Task.Delay(RereadDelay).ContinueWith(_ =>
                    {
                        if (ReferenceEquals(_connection, connection) && _owner is null)
                            ReadAgain(reason, why);
                    }, TaskScheduler.Default);
                    return;
                }
                log.Warn($"networkd: reading its state {why} failed: {e.InnerException?.Message}; going on with its signals");
                // Never hold signals for good: without a snapshot they are still the best news there is, if networkd sent them.
                lock (_gate)
                {
                    foreach (var (sender, _, change) in _heldBack ?? [])
                        if (sender == _owner)
                            Post(change);
                    _heldBack = null;
                }
            }, TaskScheduler.Default);
    }

    /// <summary>
    /// More of networkd's events waited for the broker than the outbox keeps: they were dropped, and networkd's state
    /// is read afresh (what changed meanwhile runs once, as after a reconnect).
    /// </summary>
    private void Overflowed()
    {
        log.Warn($"networkd: {SourceOutbox.DefaultCapacity} events waited for the broker's loop; dropped, and networkd's state is read afresh");
        ReadAgain(LinkStatesReadReason.Reconnected, "after the broker fell behind");
    }

    /// <summary>
    /// In arrival order, never waiting for the loop (the connection's reader must go on reading: the replies of a
    /// state read come through it); once the broker stopped, events are dropped.
    /// </summary>
    private void Post(BrokerEvent brokerEvent) => _outbox.Post(brokerEvent);
}
