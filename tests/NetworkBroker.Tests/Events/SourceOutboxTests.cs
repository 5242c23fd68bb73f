using System.Threading.Channels;
using NetworkBroker.Events;

namespace NetworkBroker.Tests.Events;

public class SourceOutboxTests
{
    private static LinkStatesChanged Event(int n) => new(n, [new("OperationalState", "routable")]);

    [Fact]
    public async Task A_full_channel_never_blocks_the_posting_thread_and_every_event_arrives_in_order()
    {
        var channel = Channel.CreateBounded<BrokerEvent>(new BoundedChannelOptions(2) { FullMode = BoundedChannelFullMode.Wait });
        var outbox = new SourceOutbox(channel.Writer);

        // Nobody reads yet: a blocking write would never return from this thread.
        var posting = Task.Run(() =>
        {
            for (var i = 1; i <= 1000; i++)
                outbox.Post(Event(i));
        });
        await posting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(998, outbox.Count);
        Assert.Equal(998, outbox.Waited);

        var read = new List<int>();
        while (read.Count < 1000)
            read.Add(((LinkStatesChanged)await channel.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30))).IfIndex);
        Assert.Equal(Enumerable.Range(1, 1000), read);
        // The pump takes an event out of its queue once the channel's write returned, which may be after the reader
        // already has it: the count reaches 0 a moment after the last read, not necessarily before it.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (outbox.Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(0, outbox.Count);
    }

    [Fact]
    public async Task An_event_posted_while_earlier_ones_wait_goes_behind_them_even_when_the_channel_has_room()
    {
        var channel = Channel.CreateBounded<BrokerEvent>(1);
        var outbox = new SourceOutbox(channel.Writer);
        outbox.Post(Event(1));
        outbox.Post(Event(2)); // waits: the channel is full
        Assert.Equal(1, ((LinkStatesChanged)await channel.Reader.ReadAsync()).IfIndex);
        outbox.Post(Event(3)); // room may exist now, but 2 came first
        var rest = new[] { await channel.Reader.ReadAsync(), await channel.Reader.ReadAsync() }.Cast<LinkStatesChanged>().Select(e => e.IfIndex);
        Assert.Equal([2, 3], rest);
    }

    [Fact]
    public async Task After_the_broker_stopped_posting_drops_and_does_not_throw()
    {
        var channel = Channel.CreateBounded<BrokerEvent>(1);
        var outbox = new SourceOutbox(channel.Writer);
        outbox.Post(Event(1));
        outbox.Post(Event(2));
        channel.Writer.Complete();
        outbox.Post(Event(3));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (outbox.Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(0, outbox.Count);
        Assert.Equal(1, ((LinkStatesChanged)await channel.Reader.ReadAsync()).IfIndex);
        Assert.False(channel.Reader.TryRead(out _));
    }

    [Fact]
    public async Task When_capacity_events_wait_they_are_dropped_the_source_is_told_and_what_follows_arrives_in_order()
    {
        var channel = Channel.CreateBounded<BrokerEvent>(1);
        var outbox = new SourceOutbox(channel.Writer, capacity: 3);
        var overflows = 0;
        outbox.Overflowed += () => overflows++;
        outbox.Post(Event(1)); // in the channel
        for (var i = 2; i <= 4; i++)
            outbox.Post(Event(i)); // 2 is being written by the pump, 3 and 4 wait behind it
        Assert.Equal(0, overflows);
        outbox.Post(Event(5)); // the fourth waiting: all dropped, the source reads its peer afresh
        Assert.Equal(1, overflows);
        Assert.Equal(4, outbox.Dropped);
        Assert.Equal(0, outbox.Count);
        outbox.Post(Event(6)); // what the fresh read brings

        var read = new List<int>();
        while (read.LastOrDefault() != 6)
            read.Add(((LinkStatesChanged)await channel.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30))).IfIndex);
        // 2 may still arrive: the pump had it in hand when the drop came, and it is older than the fresh read anyway.
        Assert.Contains(read, r => r is 1);
        Assert.DoesNotContain(read, r => r is 3 or 4 or 5);
        Assert.Equal(read.OrderBy(r => r), read);
    }
}
