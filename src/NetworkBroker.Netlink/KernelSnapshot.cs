using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Netlink;

/// <summary>The kernel's links, addresses, routes and policy rules as one consistent set of dumps.</summary>
public sealed record KernelSnapshot(IReadOnlyList<LinkMessage> Links, IReadOnlyList<AddressMessage> Addresses, IReadOnlyList<RouteMessage> Routes,
    IReadOnlyList<RuleMessage>? Rules = null)
{
    public static KernelSnapshot Read(RtnetlinkClient client) =>
        new(client.DumpLinks(), client.DumpAddresses(), client.DumpRoutes(), client.DumpRules());
}
