using System.Threading.Channels;

namespace NetworkBroker.Events;

public static class EventChannel
{
    /// <summary>
    /// Writes from a source's own thread, waiting while the broker's bounded channel is full: that wait is
    /// the back-pressure that bounds memory, and it keeps the source's order. False once the broker stopped.
    /// </summary>
    public static bool WriteWaiting(this ChannelWriter<BrokerEvent> events, BrokerEvent brokerEvent)
    {
        // On the loop this would wait for the loop itself.
        if (Core.LoopGuard.OnLoop) // the detail only then: this runs for every kernel notification
            Core.LoopGuard.Blocking("wait for room on the broker's channel", brokerEvent.GetType().Name);
        while (!events.TryWrite(brokerEvent))
        {
            if (!events.WaitToWriteAsync().AsTask().GetAwaiter().GetResult())
                return false;
        }
        return true;
    }
}
