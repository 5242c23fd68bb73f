using NetworkBroker.Kernel;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>
/// The broker's own rules and routes as the kernel has them, taken from the kernel model on the broker's loop
/// (from the index of routes outside main, never a pass over main) and handed with the desired state to the worker that reconciles, with what its
/// log lines need (the links' names, the table base): the worker never reads the model itself.
/// </summary>
public sealed record PolicyRoutingPresent(IReadOnlyList<RuleMessage> Rules, IReadOnlyList<RouteMessage> Routes,
    IReadOnlyDictionary<int, string> Names, uint TableBase)
{
    public static PolicyRoutingPresent Of(KernelModel kernel, uint tableBase) => new(
        [.. kernel.Rules.Where(r => r.Protocol == PolicyRoutingTags.Protocol)],
        [.. kernel.RoutesOutsideMain.Where(r => r.Protocol == PolicyRoutingTags.Protocol)],
        kernel.Links.ToDictionary(l => l.Index, l => l.Name),
        tableBase);

    /// <summary>The link a table of ours belongs to (table = base + ifindex), and its name when known.</summary>
    public (int IfIndex, string? Name) LinkOf(uint table) =>
        PolicyRoutingTables.IfIndexOf(TableBase, table) is var index and > 0 ? (index, Names.GetValueOrDefault(index)) : (0, null);
}
