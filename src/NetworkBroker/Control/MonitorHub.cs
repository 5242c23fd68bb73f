using System.Threading.Channels;

namespace NetworkBroker.Control;

/// <summary>
/// Hands monitor lines to every connected <c>network-broker monitor</c>. Publishing never blocks the
/// broker: each subscriber has a bounded queue, and a subscriber too slow to keep up loses lines
/// (and is told how many) rather than holding the daemon back. Nothing is formatted while no one listens.
/// </summary>
public sealed class MonitorHub
{
    public const int QueueCapacity = 4096;

    private readonly Lock _gate = new();
    private Subscriber[] _subscribers = [];

    public bool HasSubscribers => Volatile.Read(ref _subscribers).Length > 0;

    public int Count => Volatile.Read(ref _subscribers).Length;

    public void Publish(string? line)
    {
        if (line is null)
            return;
        foreach (var subscriber in Volatile.Read(ref _subscribers))
            if (!subscriber.Lines.Writer.TryWrite(line))
                Interlocked.Increment(ref subscriber.Lost);
    }

    public Subscriber Subscribe()
    {
        var subscriber = new Subscriber();
        lock (_gate)
            _subscribers = [.. _subscribers, subscriber];
        return subscriber;
    }

    public void Unsubscribe(Subscriber subscriber)
    {
        lock (_gate)
            _subscribers = [.. _subscribers.Where(s => s != subscriber)];
        subscriber.Lines.Writer.TryComplete();
    }

    /// <summary>Ends every subscription (the daemon is stopping): their queues drain, then they close.</summary>
    public void CompleteAll()
    {
        Subscriber[] all;
        lock (_gate)
        {
            all = _subscribers;
            _subscribers = [];
        }
        foreach (var subscriber in all)
            subscriber.Lines.Writer.TryComplete();
    }

    public sealed class Subscriber
    {
        public readonly Channel<string> Lines = Channel.CreateBounded<string>(
            new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        /// <summary>Lines dropped because the queue was full; reported to the reader and reset.</summary>
        public long Lost;
    }
}
