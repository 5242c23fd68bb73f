using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Events;

/// <summary>
/// Everything that flows through the broker's one channel. Sources write what they saw
/// (<see cref="KernelNotified"/>, <see cref="KernelResynced"/>, ...); the broker turns those into
/// changes of its model (<see cref="KernelChange"/>) and acts on them, in channel order.
/// </summary>
public abstract record BrokerEvent;

/// <summary>
/// What a peer that configures the kernel says (networkd's signals and reads, dhclient's lease files, a future
/// NetworkManager source): the peer changes the kernel first and tells us after, so such an input waits for a
/// kernel barrier before it is handled (its scripts then see a model that has the address).
/// </summary>
public abstract record PeerInput : BrokerEvent
{
    /// <summary>Whether the input is handled only once the kernel's notifications queued before it are in.</summary>
    public virtual bool WaitsForKernel => true;
}

/// <summary>A notification from the kernel, as received.</summary>
public sealed record KernelNotified(KernelNotification Notification) : BrokerEvent;

/// <summary>A full re-read of the kernel's state (at start, after lost notifications, or on request).</summary>
public sealed record KernelResynced(KernelSnapshot Snapshot, ResyncReason Reason) : BrokerEvent;

/// <summary>Every kernel notification queued before the barrier <see cref="Token"/> was asked for is on the channel ahead of this.</summary>
public sealed record KernelBarrier(uint Token) : BrokerEvent;

/// <summary>The kernel's answer, asked off the loop, about a link the model did not know (null: it has none).</summary>
internal sealed record LinkLookedUp(int IfIndex, LinkMessage? Link) : BrokerEvent;

/// <summary>Time to release what has waited for a barrier longer than the broker's timeout (one timer at a time).</summary>
internal sealed record BarrierOverdue : BrokerEvent;

/// <summary>The broker asks itself to run something on its loop, with its model (status, tests).</summary>
internal sealed record BrokerQuery(Action Run) : BrokerEvent;

/// <summary>Policy routing may need changing: time to reconcile (debounced).</summary>
internal sealed record PolicyRoutingDue : BrokerEvent;

/// <summary>A policy-routing reconcile ran: what was desired and what it changed.</summary>
public sealed record PolicyRoutingReconciled(Routing.PolicyRoutingState Desired, int Added, int Removed, int Failed) : BrokerEvent;

/// <summary>The coalescing window of a link's route changes closed: time to run routes.d.</summary>
internal sealed record RoutesWindowElapsed(int IfIndex) : BrokerEvent;

/// <summary>A change of the broker's view of the kernel, derived from notifications and resyncs.</summary>
public abstract record KernelChange(string Link) : BrokerEvent
{
    public abstract int IfIndex { get; }
}

public sealed record LinkAdded(LinkMessage Message) : KernelChange(Message.Name)
{
    public override int IfIndex => Message.Index;
}

public sealed record LinkRemoved(LinkMessage Message) : KernelChange(Message.Name)
{
    public override int IfIndex => Message.Index;
}

public sealed record LinkRenamed(LinkMessage Message, string OldName) : KernelChange(Message.Name)
{
    public override int IfIndex => Message.Index;
}

/// <summary>Flags, operational state, MTU, hardware address, master or altnames changed (statistics alone do not count).</summary>
public sealed record LinkChanged(LinkMessage Old, LinkMessage Message) : KernelChange(Message.Name)
{
    public override int IfIndex => Message.Index;
}

public sealed record AddressAdded(string Link, AddressMessage Address) : KernelChange(Link)
{
    public override int IfIndex => Address.Index;
}

public sealed record AddressRemoved(string Link, AddressMessage Address) : KernelChange(Link)
{
    public override int IfIndex => Address.Index;
}

/// <summary>A route appeared; <see cref="Link"/> is the first link it leaves by ("" for blackhole and the like).</summary>
public sealed record RouteAdded(string Link, RouteMessage Route) : KernelChange(Link)
{
    public override int IfIndex => Route.Links.FirstOrDefault();
}

public sealed record RouteRemoved(string Link, RouteMessage Route) : KernelChange(Link)
{
    public override int IfIndex => Route.Links.FirstOrDefault();
}
