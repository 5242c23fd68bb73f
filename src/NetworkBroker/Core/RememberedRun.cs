namespace NetworkBroker.Core;

public enum RememberedRunKind
{
    /// <summary>The manager's states (manager.d).</summary>
    Manager,

    /// <summary>One networkd state property of one link: the run of the directory its value names.</summary>
    LinkState,

    /// <summary>One interface's dhclient leases (routable.d with DHCP_LEASE).</summary>
    Lease,
}

/// <summary>
/// The part of the restart memory one queued run stands for. Until the run has run, only that part is left out of
/// the file (and a mark appended at once says so), so that a stop or a crash before it ran runs it at the next
/// start, and nothing else of its link runs again: a link whose routable.d was dropped at stop gets routable.d at
/// the next start, not configured.d a second time as well.
/// </summary>
/// <param name="IfIndex">The link's ifindex (<see cref="RememberedRunKind.LinkState"/>), else 0.</param>
/// <param name="Name">The link's name (<see cref="RememberedRunKind.LinkState"/>) or the lease's interface; null for the manager.</param>
/// <param name="Property">The state property (<see cref="RememberedRunKind.LinkState"/>), else null.</param>
public readonly record struct RememberedRun(RememberedRunKind Kind, int IfIndex, string? Name, string? Property)
{
    public static RememberedRun Manager => new(RememberedRunKind.Manager, 0, null, null);

    public static RememberedRun LinkState(int ifindex, string name, string property) => new(RememberedRunKind.LinkState, ifindex, name, property);

    public static RememberedRun Lease(string interfaceName) => new(RememberedRunKind.Lease, 0, interfaceName, null);

    public override string ToString() => Kind switch
    {
        RememberedRunKind.Manager => "manager",
        RememberedRunKind.LinkState => $"{Name} ({IfIndex}) {Property}",
        _ => $"{Name}'s leases",
    };
}
