using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Kernel;

/// <summary>What the broker asks of the kernel beyond the notifications it is sent.</summary>
public interface IKernel
{
    /// <summary>One link by ifindex; null when the kernel has none (it vanished).</summary>
    LinkMessage? GetLink(int index);

    /// <summary>
    /// Asks for a <see cref="Events.KernelBarrier"/> with <paramref name="token"/> on the channel once every
    /// notification the kernel has queued so far is on it. False when no barrier can be had.
    /// </summary>
    bool Barrier(uint token);

    /// <summary>
    /// Whether every notification the kernel has queued so far is on the channel already, asked without a round trip
    /// (<see cref="Netlink.NetlinkMonitor.CaughtUp"/>); then <paramref name="posted"/> is how many events this source
    /// has put on the channel since start. False when that cannot be told now: a <see cref="Barrier"/> then.
    /// </summary>
    bool CaughtUp(out long posted)
    {
        posted = 0;
        return false;
    }
}
