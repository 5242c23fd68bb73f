namespace NetworkBroker.Routing;

/// <summary>
/// The table number arithmetic, in one place: a policy-routed link's table is RouteTableBase= + its ifindex, so a
/// table of ours names its link after a restart without any state kept.
/// </summary>
public static class PolicyRoutingTables
{
    /// <summary>The table of the link with <paramref name="ifindex"/>.</summary>
    public static uint TableOf(uint tableBase, int ifindex) => tableBase + (uint)ifindex;

    /// <summary>The ifindex a table of ours belongs to; 0 when the table is not above the base (not one of ours).</summary>
    public static int IfIndexOf(uint tableBase, uint table) =>
        table > tableBase && table - tableBase <= int.MaxValue ? (int)(table - tableBase) : 0;
}
