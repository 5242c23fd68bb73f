using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>The kernel's rules and routes as the reconciler reads and changes them.</summary>
public interface IRoutingTables
{
    IReadOnlyList<RuleMessage> DumpRules();

    IReadOnlyList<RouteMessage> DumpRoutes();

    /// <summary>Sends one change and waits for the kernel's answer; a refusal throws <see cref="NetlinkException"/>.</summary>
    void Apply(Func<uint, NetlinkRequestWriter> request, string description);
}
