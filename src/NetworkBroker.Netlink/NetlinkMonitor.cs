namespace NetworkBroker.Netlink;

/// <summary>Why the consumer must re-read the kernel's state.</summary>
public enum ResyncReason
{
    /// <summary>At start, before the first notification.</summary>
    Initial,
    /// <summary>The kernel dropped notifications (ENOBUFS) or a datagram did not decode.</summary>
    Overrun,
}

/// <summary>
/// Receives rtnetlink multicast notifications on a dedicated thread with a blocking receive (measured:
/// about 5 us per event against 33 us for ReceiveAsync) and hands each, decoded, to a callback in
/// kernel order. Resyncs run on the same thread, between two receives: notifications that arrive
/// while the consumer re-reads the kernel wait in the socket and are delivered after the re-read,
/// never before it. A blocking receive is not woken by closing the socket, and a timeout would wake
/// the daemon while idle, so stopping wakes it with a NOOP sent to its own port.
/// </summary>
public sealed class NetlinkMonitor : IDisposable
{
    /// <summary>Measured: the default 212,992 bytes overflow under a 10k-operation burst once the consumer does any work.</summary>
    public const int DefaultReceiveBuffer = 8 * 1024 * 1024;

    public static readonly RouteNetlinkGroup[] AllGroups =
    [
        RouteNetlinkGroup.Link, RouteNetlinkGroup.IPv4Address, RouteNetlinkGroup.IPv6Address,
        RouteNetlinkGroup.IPv4Route, RouteNetlinkGroup.IPv6Route, RouteNetlinkGroup.IPv4Rule, RouteNetlinkGroup.IPv6Rule,
    ];

    private readonly NetlinkSocket _socket;
    // Made with the monitor socket, so in the same network namespace: port ids are per namespace.
    private readonly NetlinkSocket _waker;
    private readonly Thread _thread;
    private readonly Action<KernelNotification> _notify;
    private readonly Action<ResyncReason> _resync;
    private readonly Action<Exception> _error;
    private Action<uint>? _barrier;
    private uint _lastBarrier;
    private volatile bool _stopping;

    /// <param name="notify">Called for each notification on the monitor's thread; blocking it makes the kernel queue, then overrun.</param>
    /// <param name="resync">Called on the monitor's thread when the consumer must re-read the kernel's state.</param>
    /// <param name="error">Called with what went wrong with a message or a receive; the monitor goes on.</param>
    public NetlinkMonitor(int receiveBuffer, Action<KernelNotification> notify, Action<ResyncReason> resync, Action<Exception> error)
    {
        _socket = NetlinkSocket.Open(receiveBuffer, AllGroups);
        _waker = NetlinkSocket.Open();
        _notify = notify;
        _resync = resync;
        _error = error;
        _thread = new Thread(Run, maxStackSize: 256 * 1024) { IsBackground = true, Name = "netlink-monitor" };
    }

    public int ReceiveBufferSize => _socket.ReceiveBufferSize;

    /// <summary>
    /// Called on the monitor's thread when a barrier's NOOP is read: every notification the kernel queued
    /// before <see cref="Barrier"/> was called has been handed to the callback by then. Set before <see cref="Start"/>.
    /// </summary>
    public Action<uint>? BarrierReached
    {
        set => _barrier = value;
    }

    /// <summary>
    /// Puts a NOOP carrying <paramref name="token"/> (never 0) at the end of the socket's queue; when the thread
    /// reads it, <see cref="BarrierReached"/> is called. A peer that acted on the kernel and then told us so (networkd
    /// over D-Bus, dhclient in its lease file) did so after the kernel queued its notifications: behind a barrier
    /// they are in the model. False when the NOOP cannot be sent (no CAP_NET_ADMIN): there is no barrier then.
    /// </summary>
    public bool Barrier(uint token)
    {
        Volatile.Write(ref _lastBarrier, token);
        return Send(token);
    }

    /// <summary>Starts the thread; its first act is an <see cref="ResyncReason.Initial"/> resync.</summary>
    public void Start() => _thread.Start();

    private void Run()
    {
        try
        {
            Loop();
        }
        catch (Exception e) when (!_stopping)
        {
            // Never let the thread die with an exception (that ends the process); say so, the daemon goes on without it.
            _error(new InvalidOperationException($"netlink monitor stopped: {e.Message}", e));
        }
        catch (Exception) when (_stopping)
        {
        }
    }

    private void Loop()
    {
        Resync(ResyncReason.Initial);
        // On the pinned object heap: this thread waits in recv() with the buffer pinned nearly all the time, and a
        // buffer pinned among the ordinary objects (here: just after the start's dumps) keeps the collector from
        // compacting the region around it; beside 1,000 links that held 1.3-1.8 MB of free space resident in gen0
        // after the start-up collection.
        var buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
        while (!_stopping)
        {
            int received;
            try
            {
                received = _socket.Receive(buffer);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                if (_stopping)
                    return;
                _error(e);
                continue;
            }
            if (_stopping)
                return;
            if (received < 0)
                Overrun(buffer);
            else
                Dispatch(buffer.AsSpan(0, received));
        }
    }

    /// <summary>
    /// What is still queued predates the loss: applied after the re-read it could bring back an address whose
    /// removal was the message dropped. Discarding it first leaves in the socket only what follows the discard,
    /// a complete log, and replaying a complete log onto a later snapshot converges to the kernel's state.
    /// </summary>
    private void Overrun(Span<byte> scratch)
    {
        try
        {
            _socket.DiscardQueued(scratch);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            _error(e);
        }
        Resync(ResyncReason.Overrun);
        // Discarded with the queue may be barriers' NOOPs; the re-read is newer than any of them.
        if (Volatile.Read(ref _lastBarrier) is var last and not 0)
            _barrier?.Invoke(last);
    }

    private void Resync(ResyncReason reason)
    {
        try
        {
            _resync(reason);
        }
        catch (Exception e)
        {
            _error(e);
        }
    }

    private void Dispatch(ReadOnlySpan<byte> datagram)
    {
        try
        {
            var reader = new NetlinkMessageReader(datagram);
            while (reader.Next(out var message))
            {
                if (message.Header.Type == NetlinkMessageType.Noop)
                {
                    if (message.Header.Sequence != 0)
                        _barrier?.Invoke(message.Header.Sequence);
                    continue;
                }
                KernelNotification? notification;
                try
                {
                    notification = KernelNotification.Decode(message);
                }
                catch (NetlinkParseException e)
                {
                    _error(e);
                    continue;
                }
                if (notification is not null)
                    _notify(notification);
            }
        }
        catch (NetlinkParseException e)
        {
            // The datagram's framing is broken: what follows in it cannot be found. Treat it as lost messages.
            _error(e);
            Overrun(new byte[64 * 1024]);
        }
    }

    private bool Wake() => Send(0);

    /// <summary>A NOOP to the monitor's own port, with sequence 0 to wake it or a barrier's token.</summary>
    private bool Send(uint sequence)
    {
        try
        {
            var noop = new NetlinkRequestWriter(NetlinkMessageType.Noop, NetlinkFlags.None, sequence);
            // A full queue takes no NOOP without waiting for this thread, which may itself be waiting for the
            // caller (the broker's loop, behind a full channel): a deadlock. Not sent, the barrier still comes:
            // a full queue overruns at the next notification, and the re-read reaches every barrier asked for
            // before it (Overrun); a later barrier's NOOP reaches it too; failing both, the broker's timeout.
            // Waking for shutdown needs no NOOP then either: the thread has a queue to read.
            _waker.TrySendTo(_socket.PortId, noop.Finish().Span);
            return true;
        }
        catch (Exception e) when (e is NetlinkException or ObjectDisposedException)
        {
            // Without CAP_NET_ADMIN the NOOP is refused: the thread is a background thread and dies with the process.
            return false;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        // Without CAP_NET_ADMIN the wake-up NOOP is refused and the thread stays in its blocking receive. Closing
        // the socket under it would wait for that receive for ever (the runtime closes a socket only once no
        // call is inside it), and a netlink socket cannot be shut down to end the call: the socket is left to the
        // process's end, and the thread, a background one, with it.
        var ended = !_thread.IsAlive || (Wake() && _thread.Join(TimeSpan.FromSeconds(2)));
        _waker.Dispose();
        if (ended)
            _socket.Dispose();
    }
}
