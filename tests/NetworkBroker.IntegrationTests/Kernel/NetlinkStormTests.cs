using System.Text;
using NetworkBroker.Events;
using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Kernel;

public class NetlinkStormTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create();

    public void Dispose() => _ns.Dispose();

    [Fact]
    public async Task After_10000_address_operations_with_a_tiny_receive_buffer_the_model_equals_the_kernel()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link set nbt-a up");
        // A receive buffer far too small for the storm, and a consumer that is slow on purpose: ENOBUFS must happen.
        await using var broker = await BrokerHarness.StartAsync(_ns, receiveBuffer: 4096,
            observe: e => { if (e is KernelNotified) Thread.SpinWait(2000); });

        var batch = new StringBuilder();
        for (var i = 0; i < 5000; i++)
        {
            var address = $"10.{100 + i / 60000}.{i / 250 % 250}.{i % 250 + 1}/32";
            batch.Append("addr add ").Append(address).Append(" dev nbt-a\n");
            if (i % 50 != 0) // 100 of the 5000 addresses stay
                batch.Append("addr del ").Append(address).Append(" dev nbt-a\n");
        }
        _ns.IpBatch(batch.ToString());
        await broker.SettleAsync();

        Assert.True(broker.Watcher.Overruns > 0, "the storm must have overrun the receive buffer");
        Assert.Equal(broker.Watcher.Overruns, (await broker.Daemon.StatusAsync()).KernelOverruns);
        Assert.Contains(broker.Observed, e => e is KernelResynced { Reason: Netlink.ResyncReason.Overrun });
        await KernelWatcherTests.AssertModelEqualsKernel(broker);
        var kept = await broker.Broker.QueryAsync(x => x.Kernel.Addresses(_ns.IfIndex("nbt-a")).Count(a => a.Family == Netlink.AddressFamily.IPv4));
        Assert.Equal(100, kept);
    }

    [Fact]
    public void A_discard_after_an_overrun_goes_on_past_a_further_overrun_until_nothing_is_queued()
    {
        _ns.Ip("link add nbt-a type veth peer name nbt-b");
        _ns.Ip("link set nbt-a up");
        using var socket = _ns.Enter(() => Netlink.NetlinkSocket.Open(4096, Netlink.RouteNetlinkGroup.IPv4Address));
        var scratch = new byte[64 * 1024];

        // Nothing read while the kernel notifies far more than the buffer holds: the buffer fills, then a loss.
        _ns.IpBatch(AddAndDelete(0, 200));
        Assert.Equal(-1, socket.ReceiveNow(scratch)); // the loss, reported before the queued datagrams
        // The discard reads the queue empty (only then does the kernel report a loss again)...
        while (socket.ReceiveNow(scratch) != Netlink.NetlinkSocket.NothingQueued)
        {
        }
        // ...and before its last look, a storm fills the buffer and loses more: the kernel reports that loss first, with
        // the buffer's datagrams, all older than it, queued behind it.
        _ns.IpBatch(AddAndDelete(200, 200));

        var discarded = socket.DiscardQueued(scratch);

        // A discard that stopped at the second loss left them to be applied after the re-read.
        Assert.True(discarded > 1, $"{discarded} discarded");
        Assert.Equal(Netlink.NetlinkSocket.NothingQueued, socket.ReceiveNow(scratch));
    }

    private static string AddAndDelete(int first, int count)
    {
        var batch = new StringBuilder();
        for (var i = first; i < first + count; i++)
            batch.Append($"addr add 10.9.{i / 250}.{i % 250 + 1}/32 dev nbt-a\naddr del 10.9.{i / 250}.{i % 250 + 1}/32 dev nbt-a\n");
        return batch.ToString();
    }

    [Fact]
    public async Task Links_going_down_and_away_by_the_hundred_need_no_re_read_and_the_model_equals_the_kernel()
    {
        await using var broker = await BrokerHarness.StartAsync(_ns);
        var batch = new StringBuilder();
        for (var i = 0; i < 500; i++)
        {
            // 1,000 links: 500 veth pairs, each "a" end up with an address (its prefix route comes with it) and a route.
            batch.Append($"link add nbt{i}a type veth peer name nbt{i}b\nlink set nbt{i}a up\n");
            batch.Append($"addr add 10.{20 + i / 250}.{i % 250}.1/24 dev nbt{i}a\n");
            batch.Append($"route add 172.{16 + i / 250}.{i % 250}.0/24 via 10.{20 + i / 250}.{i % 250}.2 dev nbt{i}a\n");
        }
        _ns.IpBatch(batch.ToString());
        await broker.SettleAsync();
        await KernelWatcherTests.AssertModelEqualsKernel(broker);
        var readsBefore = broker.Observed.OfType<KernelResynced>().Count();

        // Down first (the kernel drops their IPv4 routes without a word), then away.
        batch.Clear();
        for (var i = 0; i < 500; i++)
            batch.Append($"link set nbt{i}a down\n");
        _ns.IpBatch(batch.ToString());
        await broker.SettleAsync();
        await KernelWatcherTests.AssertModelEqualsKernel(broker);

        batch.Clear();
        for (var i = 0; i < 500; i++)
            batch.Append($"link del nbt{i}a\n");
        _ns.IpBatch(batch.ToString());
        await broker.SettleAsync();
        await KernelWatcherTests.AssertModelEqualsKernel(broker);

        // Only an overrun of the socket may cause a re-read, and the default buffer holds this burst.
        var reads = broker.Observed.OfType<KernelResynced>().Skip(readsBefore).ToList();
        Assert.True(reads.Count <= broker.Watcher.Overruns, $"{reads.Count} re-reads for {broker.Watcher.Overruns} overruns");
        Assert.True(reads.Count <= 2, $"{reads.Count} re-reads");
        Assert.Equal(500, broker.Observed.OfType<LinkChanged>().Count(c => c.Old.Flags.HasFlag(Netlink.Messages.LinkFlags.Up) && !c.Message.Flags.HasFlag(Netlink.Messages.LinkFlags.Up) && c.Link.EndsWith('a')));
    }
}
