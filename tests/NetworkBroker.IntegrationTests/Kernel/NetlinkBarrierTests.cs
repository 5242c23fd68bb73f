using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Netlink;

namespace NetworkBroker.IntegrationTests.Kernel;

/// <summary>
/// The barrier is asked for on the broker's loop: it must never wait for the monitor's reader, and the loop does
/// without it only when the monitor has truly handed over everything queued before the question.
/// </summary>
public class NetlinkBarrierTests : IDisposable
{
    private readonly NetworkNamespace _ns = NetworkNamespace.Create("nbt-loopguard");

    public void Dispose() => _ns.Dispose();

    [Fact]
    public async Task A_barrier_asked_for_while_the_monitors_socket_is_full_returns_and_is_reached_after_the_re_read()
    {
        // The reader is stuck in its consumer (as the monitor thread is while the broker's channel is full) and the
        // socket's small buffer fills: a NOOP sent to it without MSG_DONTWAIT sleeps until the reader reads.
        using var release = new ManualResetEventSlim();
        var reached = new TaskCompletionSource<uint>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var monitor = StuckAndFull(release, 2000, token => { if (token == 7) reached.TrySetResult(token); });

        var asked = Task.Run(() => monitor.Barrier(7));
        // Not a measure of speed: a sendto that sleeps until the reader reads never comes back while the reader is stuck.
        var returned = await Task.WhenAny(asked, Task.Delay(TimeSpan.FromSeconds(20))) == asked;
        release.Set();
        Assert.True(returned, "Barrier() waited for the monitor's reader: on the broker's loop that is a deadlock");
        Assert.True(await asked);
        // The NOOP did not fit, but what overran the socket is re-read and the barrier is reached after it.
        Assert.Equal(7u, await reached.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Stopping_a_monitor_whose_socket_is_full_does_not_wait_for_its_queue_to_drain()
    {
        // At stop the channel completes (the consumer returns) while the monitor is disposed: the wake-up NOOP to a
        // full socket must not sleep until a reader that is leaving drains it (the stop hung until TimeoutStopSec=).
        using var release = new ManualResetEventSlim();
        var monitor = StuckAndFull(release, 400);

        var disposing = Task.Run(monitor.Dispose);
        release.Set();
        // Not a measure of speed: a blocking wake-up never returned at all.
        Assert.True(await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromSeconds(20))) == disposing, "Dispose() waited for the full socket to drain");
    }

    [Fact]
    public void Caught_up_is_said_only_once_every_notification_queued_before_the_question_was_handed_over()
    {
        // The broker handles networkd's signal at once, without a barrier, when the monitor says it caught up: a yes
        // while a notification queued before the question is still in the socket, or taken but not yet handed over,
        // would run routable.d without the address networkd added before it signalled.
        var handedOver = new ConcurrentDictionary<string, bool>();
        using var monitor = _ns.Enter(() => new NetlinkMonitor(NetlinkMonitor.DefaultReceiveBuffer, notification =>
        {
            // An address on lo is told as the address, then its local route, the last notification of the change.
            var key = notification switch
            {
                AddressNotification { Removed: false } a => $"address {a.Address.Address}",
                RouteNotification { Removed: false, Route.Destination: { } destination } => $"route {destination}",
                _ => null,
            };
            if (key is null)
                return;
            // Some hand-overs of the last notification are slow, so that some questions come while the thread is
            // busy with it and nothing is left in the socket: only the thread's own account can say no then.
            if (key.StartsWith("route") && (key.EndsWith('1') || key.EndsWith('6')))
                Thread.Sleep(50);
            handedOver[key] = true;
        }, _ => { }, _ => { }));
        monitor.Start();
        _ns.Ip("link set lo up");

        int yes = 0, no = 0;
        var wrong = new List<string>();
        for (var i = 0; i < 120; i++)
        {
            var address = $"10.98.{i / 200}.{i % 200 + 1}";
            // ip returns once the kernel acknowledged the request, which it does after queuing the notification.
            _ns.Ip($"addr add {address}/32 dev lo");
            // Every tenth question waits for the monitor to settle first, so that a yes is seen on a loaded machine
            // too (where the question otherwise always comes before the monitor thread ran): asked until it says yes.
            var caughtUp = monitor.CaughtUp();
            if (i % 10 == 9)
                for (var settle = Stopwatch.StartNew(); !caughtUp && settle.Elapsed < TimeSpan.FromSeconds(10); caughtUp = monitor.CaughtUp())
                    Thread.Sleep(5);
            if (!caughtUp)
                no++;
            else if (handedOver.ContainsKey($"address {address}") && handedOver.ContainsKey($"route {address}"))
                yes++;
            else
                wrong.Add(address);
        }
        Assert.True(wrong.Count == 0, $"caught up said before {string.Join(", ", wrong)} was handed over");
        // Both answers were given (otherwise the property above was not tested where it matters).
        Assert.True(yes > 0 && no > 0, $"yes {yes}, no {no}");
    }

    /// <summary>
    /// A started monitor with a 4 KiB socket whose consumer is stuck in its first notification until
    /// <paramref name="release"/>, after <paramref name="addresses"/> address additions in the namespace.
    /// </summary>
    private NetlinkMonitor StuckAndFull(ManualResetEventSlim release, int addresses, Action<uint>? barrierReached = null)
    {
        var consumerStuck = new TaskCompletionSource();
        var monitor = _ns.Enter(() => new NetlinkMonitor(4096,
            _ => { consumerStuck.TrySetResult(); release.Wait(TimeSpan.FromSeconds(120)); }, _ => { }, _ => { })
        {
            BarrierReached = barrierReached,
        });
        monitor.Start();
        var batch = new StringBuilder("link set lo up\n");
        for (var i = 0; i < addresses; i++)
            batch.Append($"addr add 10.99.{i / 250}.{i % 250 + 1}/32 dev lo\n");
        _ns.IpBatch(batch.ToString());
        Assert.True(consumerStuck.Task.Wait(TimeSpan.FromSeconds(30)), "the monitor's consumer must be stuck");
        return monitor;
    }
}
