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
/// Receives rtnetlink multicast notifications on a dedicated thread (measured: a blocking receive costs about
/// 5 us per event against 33 us for ReceiveAsync) and hands each, decoded, to a callback in kernel order. The
/// thread reads without waiting until the queue is empty, then waits in poll(2): so whether it has handed over
/// everything queued can be known from another thread (<see cref="CaughtUp"/>) without a round trip through the
/// kernel. Resyncs run on the same thread, between two receives: notifications that arrive while the consumer
/// re-reads the kernel wait in the socket and are delivered after the re-read, never before it. A waiting
/// thread is not woken by closing the socket, and a timeout would wake the daemon while idle, so stopping wakes
/// it with a NOOP sent to its own port.
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
    // 0 only while the thread waits in poll(2) for an empty socket: everything it read before is handed over.
    private int _busy = 1;

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
        // 1 MiB reserved (only touched pages count): the broker's loop may run on this thread (the channel's synchronous continuations).
        _thread = new Thread(Run, maxStackSize: 1024 * 1024) { IsBackground = true, Name = "netlink-monitor" };
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

    /// <summary>
    /// Whether every notification the kernel queued before this call has been handed to the callback (and so has
    /// everything a barrier would have waited for): the thread waits for the socket and nothing is queued. Safe from
    /// any thread, never waits (one poll(2) with no timeout). False is no answer: a <see cref="Barrier"/> then.
    /// </summary>
    /// <remarks>
    /// A notification queued before the call is either still in the socket (poll sees it), or the thread took it in
    /// a busy spell: one still going when <c>_busy</c> is read after the poll (false), or one that ended before,
    /// whose hand-overs all happened before it wrote 0, which this thread's read of 0 then sees. The socket is
    /// polled by its descriptor without a reference: the broker stops its loop before the kernel source.
    /// </remarks>
    public bool CaughtUp()
    {
        if (Volatile.Read(ref _busy) != 0)
            return false;
        try
        {
            if (_socket.HasQueued())
                return false;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return false;
        }
        // The read below must not be satisfied before the poll's look at the queue (a load-load order x86 keeps
        // and ARM64 does not promise: an acquire read orders what follows it, not what came before).
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _busy) == 0;
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
        // On the pinned object heap: the buffer is pinned during every receive (the thread used to wait in recv() with
        // it pinned), and a buffer pinned among the ordinary objects (here: just after the start's dumps) keeps the
        // collector from compacting the region around it; beside 1,000 links that held 1.3-1.8 MB of free space
        // resident in gen0 after the start-up collection.
        var buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
        while (!_stopping)
        {
            int received;
            try
            {
                received = _socket.ReceiveNow(buffer);
                if (received == NetlinkSocket.NothingQueued)
                {
                    Volatile.Write(ref _busy, 0);
                    try
                    {
                        _socket.WaitReadable();
                    }
                    finally
                    {
                        // Before the next receive, and as a full fence: CaughtUp's second read must see it.
                        Interlocked.Exchange(ref _busy, 1);
                    }
                    continue;
                }
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
