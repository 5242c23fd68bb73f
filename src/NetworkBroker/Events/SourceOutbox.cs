using System.Threading.Channels;

namespace NetworkBroker.Events;

/// <summary>
/// A source's way onto the broker's bounded channel that never blocks the source's thread: an event goes straight
/// in when there is room and nothing of this source waits before it; otherwise it waits here, in order, and one pump
/// writes the waiting events as the loop makes room. A D-Bus connection's reader must keep reading (the replies
/// the source awaits come through it), so it cannot be the one that waits for the loop. The kernel's monitor
/// thread, by contrast, waits on purpose: its back-pressure ends in an overrun and a re-read. So does this outbox's:
/// when <paramref name="capacity"/> events wait, they are dropped and <see cref="Overflowed"/> is raised, for the
/// source to read its peer's state afresh (the memory a loop that does not move can cost stays bounded).
/// </summary>
public sealed class SourceOutbox(ChannelWriter<BrokerEvent> events, int capacity = SourceOutbox.DefaultCapacity)
{
    /// <summary>About 8 MB of networkd's signals at most; the watchdog restarts a loop stuck for 30 s long before.</summary>
    public const int DefaultCapacity = 65_536;

    private readonly Queue<BrokerEvent> _waiting = new();
    private readonly Lock _gate = new();
    private bool _pumping;
    private long _waited;
    private long _dropped;
    // Bumped when the waiting events are dropped: the pump then must not dequeue what it wrote (it is gone already).
    private long _generation;

    /// <summary>Raised (on the posting thread, outside the outbox's lock) when the waiting events were dropped.</summary>
    public event Action? Overflowed;

    /// <summary>Events dropped because <c>capacity</c> waited (each drop followed by the overflow's re-read).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Events that could not go straight in (the channel was full), since start.</summary>
    public long Waited => Interlocked.Read(ref _waited);

    /// <summary>Events waiting now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _waiting.Count;
        }
    }

    /// <summary>Hands an event over without waiting; order is kept with this source's earlier events. Dropped once the broker stopped.</summary>
    public void Post(BrokerEvent brokerEvent)
    {
        bool startPump;
        lock (_gate)
        {
            if (!_pumping && _waiting.Count == 0 && events.TryWrite(brokerEvent))
                return;
            if (_waiting.Count >= capacity)
            {
                // This one goes with them: the source's fresh read is newer than all of them.
                Interlocked.Add(ref _dropped, _waiting.Count + 1);
                _waiting.Clear();
                _generation++;
                startPump = false;
            }
            else
            {
                _waiting.Enqueue(brokerEvent);
                Interlocked.Increment(ref _waited);
                startPump = !_pumping;
                _pumping = true;
                if (!startPump)
                    return;
            }
        }
        // Outside the lock: the pump, or the source's fresh read (which posts here again).
        if (startPump)
            _ = PumpAsync();
        else
            Overflowed?.Invoke();
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            BrokerEvent next;
            long generation;
            lock (_gate)
            {
                if (!_waiting.TryPeek(out next!))
                {
                    _pumping = false;
                    return;
                }
                generation = _generation;
            }
            try
            {
                await events.WriteAsync(next).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                // The broker stopped: nothing waiting will be handled.
                lock (_gate)
                {
                    _waiting.Clear();
                    _pumping = false;
                }
                return;
            }
            lock (_gate)
            {
                if (_generation == generation)
                    _waiting.Dequeue();
            }
        }
    }
}
