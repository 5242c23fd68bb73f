using System.Collections.Immutable;
using System.Threading.Channels;
using NetworkBroker.DBus;
using NetworkBroker.Events;
using NetworkBroker.Logging;

namespace NetworkBroker.Networkd;

/// <summary>
/// systemd-networkd as an event source. Listens for PropertiesChanged of the manager and every link,
/// and for networkd's NameOwnerChanged. At start, after reconnecting to the bus, and when networkd
/// restarts, it reads every link's states afresh and posts them as a <see cref="NetworkdSnapshot"/>;
/// the broker diffs that against what it knew, so transitions missed meanwhile are delivered once.
/// Signals that arrive while a snapshot is read are held back: one that the snapshot already
/// contains (it came before that link's reply) is dropped, the others follow the snapshot in order.
/// </summary>
public sealed class NetworkdSource(ChannelWriter<BrokerEvent> events, Logger log, string busAddress)
{
    private static readonly TimeSpan MinimumBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaximumBackoff = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private List<(DBusMessage Signal, NetworkdPropertiesChanged Event)>? _heldBack;
    private DBusConnection? _connection;
    private Task _resnapshot = Task.CompletedTask;

    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many snapshots were read (tests wait on it).</summary>
    public int Snapshots { get; private set; }

    /// <summary>Completes after the first snapshot was posted, or the first attempt to get one failed (the bus is not there).</summary>
    public Task FirstAttempt => _firstAttempt.Task;

    /// <summary>Runs until cancelled: connects, listens, and reconnects with backoff whenever the bus goes away.</summary>
    public async Task RunAsync(CancellationToken cancellation)
    {
        var backoff = MinimumBackoff;
        var reason = NetworkdSnapshotReason.Initial;
        var warned = false;
        while (!cancellation.IsCancellationRequested)
        {
            try
            {
                lock (_gate)
                    _heldBack = [];
                var connection = await DBusConnection.ConnectAsync(busAddress, OnSignal,
                    e => log.Warn($"networkd: ignoring a malformed D-Bus message: {e.Message}"), cancellation).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    _connection = connection;
                    await connection.AddMatchAsync(NetworkdBus.PropertiesMatch, cancellation).ConfigureAwait(false);
                    await connection.AddMatchAsync(NetworkdBus.OwnerMatch, cancellation).ConfigureAwait(false);
                    await SnapshotAsync(connection, reason, cancellation).ConfigureAwait(false);
                    _firstAttempt.TrySetResult();
                    if (warned || reason != NetworkdSnapshotReason.Initial)
                        log.Info($"networkd: connected to the bus as {connection.UniqueName}");
                    warned = false;
                    backoff = MinimumBackoff;

                    var closed = await connection.Closed.WaitAsync(cancellation).ConfigureAwait(false);
                    log.Warn($"networkd: lost the bus ({closed?.Message ?? "closed"}); reconnecting");
                    reason = NetworkdSnapshotReason.Reconnected;
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
                if (reason == NetworkdSnapshotReason.Initial && Snapshots > 0)
                    reason = NetworkdSnapshotReason.Reconnected;
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

    private async Task SnapshotAsync(DBusConnection connection, NetworkdSnapshotReason reason, CancellationToken cancellation)
    {
        var links = ImmutableDictionary.CreateBuilder<int, ImmutableDictionary<string, string>>();
        var names = ImmutableDictionary.CreateBuilder<int, string>();
        var replies = new Dictionary<int, long>(); // ifindex (0: manager) -> the reply's receive sequence
        var manager = ImmutableDictionary<string, string>.Empty;

        string? owner = null;
        try
        {
            owner = (await connection.CallAsync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner", "s",
                w => w.WriteString(NetworkdBus.Service), cancellation: cancellation).ConfigureAwait(false)).BodyReader().ReadString();
        }
        catch (DBusErrorException e) when (e.Name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        {
            log.Info("networkd: systemd-networkd is not on the bus; waiting for it");
        }

        if (owner is not null)
        {
            var list = await connection.CallAsync(NetworkdBus.Service, NetworkdBus.ManagerPath, NetworkdBus.ManagerInterface, "ListLinks",
                cancellation: cancellation).ConfigureAwait(false);
            foreach (object[] entry in (object[])list.BodyReader().ReadValue("a(iso)"))
            {
                var (index, name, path) = ((int)entry[0], (string)entry[1], (string)entry[2]);
                try
                {
                    var (states, sequence) = await GetAllAsync(connection, path, NetworkdBus.LinkInterface, cancellation).ConfigureAwait(false);
                    links[index] = states;
                    names[index] = name;
                    replies[index] = sequence;
                }
                catch (DBusErrorException e)
                {
                    // The link went away between ListLinks and GetAll: its removal is news the kernel source reports.
                    log.Debug($"networkd: {name}: {e.Message}");
                }
            }
            (manager, replies[0]) = await GetAllAsync(connection, NetworkdBus.ManagerPath, NetworkdBus.ManagerInterface, cancellation).ConfigureAwait(false);
        }

        List<(DBusMessage Signal, NetworkdPropertiesChanged Event)> held;
        lock (_gate)
        {
            held = _heldBack ?? [];
            _heldBack = null;
            Snapshots++;
            Post(new NetworkdSnapshot(links.ToImmutable(), names.ToImmutable(), manager, reason));
            foreach (var (signal, change) in held)
                if (!replies.TryGetValue(change.IfIndex, out var replied) || signal.ReceiveSequence > replied)
                    Post(change);
        }
        log.Debug($"networkd: read {links.Count} links ({reason}); {held.Count} signals held back meanwhile");
    }

    /// <summary>The string-valued properties of one networkd object (the states), and when the reply arrived.</summary>
    internal static async Task<(ImmutableDictionary<string, string> States, long Sequence)> GetAllAsync(DBusConnection connection,
        string path, string iface, CancellationToken cancellation, TimeSpan? timeout = null)
    {
        var reply = await connection.CallAsync(NetworkdBus.Service, path, NetworkdBus.PropertiesInterface, "GetAll", "s",
            w => w.WriteString(iface), timeout, cancellation).ConfigureAwait(false);
        var states = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in (Dictionary<object, object>)reply.BodyReader().ReadValue("a{sv}"))
            if (key is string name && value is string text)
                states[name] = text;
        return (states.ToImmutable(), reply.ReceiveSequence);
    }

    /// <summary>On the connection's reader, in arrival order.</summary>
    private void OnSignal(DBusMessage signal)
    {
        if (signal.Member == "NameOwnerChanged")
        {
            OnOwnerChanged(signal);
            return;
        }
        if (signal.Member != "PropertiesChanged" || signal.Interface != NetworkdBus.PropertiesInterface)
            return;
        if (signal.Signature != "sa{sv}as")
        {
            log.Warn($"networkd: ignoring PropertiesChanged on {signal.Path} with signature \"{signal.Signature}\" (expected sa{{sv}}as)");
            return;
        }

        var reader = signal.BodyReader();
        var iface = reader.ReadString();
        int index;
        if (signal.Path == NetworkdBus.ManagerPath && iface == NetworkdBus.ManagerInterface)
            index = 0;
        else if (NetworkdBus.IfIndexOf(signal.Path!) is { } link && iface == NetworkdBus.LinkInterface)
            index = link;
        else
        {
            log.Debug($"networkd: ignoring PropertiesChanged of {iface} on {signal.Path}");
            return;
        }

        var changed = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        foreach (var (key, value) in (Dictionary<object, object>)reader.ReadValue("a{sv}"))
        {
            if (value is string text)
                changed.Add(new((string)key, text));
            else
                log.Debug($"networkd: ignoring non-string property {key} on {signal.Path}");
        }
        if (changed.Count == 0)
            return;

        var change = new NetworkdPropertiesChanged(index, changed.ToImmutable());
        lock (_gate)
        {
            if (_heldBack is not null)
                _heldBack.Add((signal, change));
            else
                Post(change);
        }
    }

    private void OnOwnerChanged(DBusMessage signal)
    {
        var reader = signal.BodyReader();
        var (name, _, owner) = (reader.ReadString(), reader.ReadString(), reader.ReadString());
        if (name != NetworkdBus.Service)
            return;
        if (owner.Length == 0)
        {
            log.Warn("networkd: systemd-networkd left the bus");
            return;
        }
        log.Info($"networkd: systemd-networkd is on the bus as {owner}; reading its state");
        lock (_gate)
            _heldBack ??= [];
        var connection = _connection;
        if (connection is null)
            return;
        // Not awaited here: this runs on the connection's reader, which must keep reading for the replies.
        _resnapshot = _resnapshot.ContinueWith(_ => SnapshotAsync(connection, NetworkdSnapshotReason.Restarted, CancellationToken.None),
            TaskScheduler.Default).Unwrap().ContinueWith(t =>
            {
                if (t.Exception is not { } e)
                    return;
                log.Warn($"networkd: reading its state after a restart failed: {e.InnerException?.Message}; going on with its signals");
                // Never hold signals for good: without a snapshot they are still the best news there is.
                lock (_gate)
                {
                    foreach (var (_, change) in _heldBack ?? [])
                        Post(change);
                    _heldBack = null;
                }
            }, TaskScheduler.Default);
    }

    /// <summary>On the connection's reader, in arrival order; once the broker stopped, events are dropped.</summary>
    private void Post(BrokerEvent brokerEvent) => events.WriteWaiting(brokerEvent);
}
