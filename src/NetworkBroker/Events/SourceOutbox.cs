using System.Threading.Channels;

namespace NetworkBroker.Events;

/// <summary>
/// A source's way onto the broker's bounded channel that never blocks the source's thread: an event goes straight
/// in when there is room and nothing of this source waits before it; otherwise it waits here, in order, and one pump
/// writes the waiting events as the loop makes room. A D-Bus connection's reader must keep reading (the replies
/// the source awaits come through it), so it cannot be the one that waits for the loop. The kernel's monitor
/// thread, by contrast, waits on purpose: its back-pressure ends in an overrun and a re-read.
/// </summary>
public sealed class SourceOutbox(ChannelWriter<BrokerEvent> events)
{
    private readonly Queue<BrokerEvent> _waiting = new();
    private readonly Lock _gate = new();
    private bool _pumping;
    private long _waited;

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
        lock (_gate)
        {
            if (!_pumping && _waiting.Count == 0 && events.TryWrite(brokerEvent))
                return;
            _waiting.Enqueue(brokerEvent);
            Interlocked.Increment(ref _waited);
            if (_pumping)
                return;
            _pumping = true;
        }
        _ = PumpAsync();
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            BrokerEvent next;
            lock (_gate)
            {
                if (!_waiting.TryPeek(out next!))
                {
                    _pumping = false;
                    return;
                }
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
                _waiting.Dequeue();
        }
    }
}
