using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>
/// The kernel's rules and routes as the reconciler changes them: one typed call per change, each waiting for
/// the kernel's answer. A refusal throws <see cref="Netlink.NetlinkException"/>. What is there is not asked
/// here: the broker's kernel model knows it from notifications.
/// </summary>
public interface IRoutingTables
{
    void AddRule(RuleMessage rule);

    void DeleteRule(RuleMessage rule);

    /// <summary>Adds or replaces the route of the same destination, table and metric.</summary>
    void AddRoute(RouteMessage route);

    void DeleteRoute(RouteMessage route);
}
