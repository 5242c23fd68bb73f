using System.Threading.Channels;
using NetworkBroker.Events;
using NetworkBroker.Logging;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Kernel;

/// <summary>
/// The kernel as an event source: rtnetlink notifications for links, addresses, routes and rules go
/// onto the broker's channel as they arrive, and a full re-read goes there whenever notifications
/// were lost (ENOBUFS is a signal, not an error). When the channel is full the monitor thread waits,
/// so the kernel's socket buffer fills and overruns, which ends in a re-read: memory stays bounded
/// under any storm and the model still converges to the kernel's truth.
/// </summary>
public sealed class KernelWatcher : IKernel, Routing.IRoutingTables, IDisposable
{
    private readonly ChannelWriter<BrokerEvent> _events;
    private readonly Logger _log;
    // One socket per user, as a socket's requests and replies must not interleave: the monitor thread's
    // re-reads, the loop's link look-ups, and the policy-routing worker's changes.
    private readonly RtnetlinkClient _client;
    private readonly RtnetlinkClient _lookups;
    private readonly RtnetlinkClient _changes;
    private readonly NetlinkMonitor _monitor;
    private long _overruns;
    // Events this source put on the channel (notifications, re-reads, barriers), counted once each is on it.
    private long _posted;

    /// <summary>Opens the sockets in the calling thread's network namespace; <see cref="Start"/> begins with a full read.</summary>
    public KernelWatcher(ChannelWriter<BrokerEvent> events, Logger log, int receiveBuffer = NetlinkMonitor.DefaultReceiveBuffer)
    {
        _events = events;
        _log = log;
        _client = RtnetlinkClient.Open();
        _lookups = RtnetlinkClient.Open();
        _changes = RtnetlinkClient.Open();
        try
        {
            _monitor = new NetlinkMonitor(receiveBuffer, Post, Resync, e => _log.Error($"rtnetlink: {e.Message}"))
            {
                BarrierReached = token => Write(new KernelBarrier(token)),
            };
        }
        catch
        {
            _client.Dispose();
            _lookups.Dispose();
            _changes.Dispose();
            throw;
        }
    }

    /// <summary>How many times notifications were lost and the state re-read.</summary>
    public long Overruns => Interlocked.Read(ref _overruns);

    public int ReceiveBufferSize => _monitor.ReceiveBufferSize;

    public void Start() => _monitor.Start();

    public LinkMessage? GetLink(int index)
    {
        Core.LoopGuard.Blocking("RTM_GETLINK", $"ifindex {index}");
        try
        {
            return _lookups.GetLink(index);
        }
        catch (Exception e) when (e is NetlinkException or NetlinkParseException or System.Net.Sockets.SocketException)
        {
            _log.Warn($"Cannot ask the kernel for ifindex {index}: {e.Message}");
            return null;
        }
    }


    public bool Barrier(uint token) => _monitor.Barrier(token);

    public bool CaughtUp(out long posted)
    {
        var caughtUp = _monitor.CaughtUp();
        // Read after the monitor's answer: every event it handed over before it waited is counted by then.
        posted = Interlocked.Read(ref _posted);
        return caughtUp;
    }

    public void AddRule(RuleMessage rule)
    {
        Core.LoopGuard.Blocking("rtnetlink request", "add rule");
        _changes.Execute(s => rule.Encode(NetlinkMessageType.NewRule, NetlinkFlags.Create | NetlinkFlags.Exclusive, s), "add rule");
    }

    public void DeleteRule(RuleMessage rule)
    {
        Core.LoopGuard.Blocking("rtnetlink request", "delete rule");
        _changes.Execute(s => rule.Encode(NetlinkMessageType.DelRule, NetlinkFlags.None, s), "delete rule");
    }

    public void AddRoute(RouteMessage route)
    {
        Core.LoopGuard.Blocking("rtnetlink request", "add route");
        _changes.Execute(s => route.Encode(NetlinkMessageType.NewRoute, NetlinkFlags.Create | NetlinkFlags.Replace, s), "add route");
    }

    public void DeleteRoute(RouteMessage route)
    {
        Core.LoopGuard.Blocking("rtnetlink request", "delete route");
        _changes.Execute(s => route.Encode(NetlinkMessageType.DelRoute, NetlinkFlags.None, s), "delete route");
    }

    private void Post(KernelNotification notification) => Write(new KernelNotified(notification));

    private void Resync(ResyncReason reason)
    {
        if (reason == ResyncReason.Overrun)
        {
            Interlocked.Increment(ref _overruns);
            _log.Warn("Kernel notifications were lost (receive buffer full): re-reading links, addresses and routes");
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Core.LoopGuard.Blocking("rtnetlink dump", "links, addresses, routes and rules");
                Write(new KernelResynced(KernelSnapshot.Read(_client), reason));
                return;
            }
            catch (Exception e) when (e is NetlinkException or NetlinkParseException or System.Net.Sockets.SocketException && attempt < 5)
            {
                _log.Warn($"Reading the kernel's state failed ({e.Message}), trying again");
                Thread.Sleep(100 * attempt);
            }
        }
    }

    private void Write(BrokerEvent brokerEvent)
    {
        _events.WriteWaiting(brokerEvent);
        Interlocked.Increment(ref _posted);
    }

    public void Dispose()
    {
        _monitor.Dispose();
        _client.Dispose();
        _lookups.Dispose();
        _changes.Dispose();
    }
}
