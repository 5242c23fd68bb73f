using System.Net;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>A rule the broker wants: traffic from (or to) one address looks up the link's table.</summary>
public readonly record struct PolicyRule(byte Family, bool From, IPAddress Address, uint Table, uint Priority)
{
    public byte Length => Family == AddressFamily.IPv6 ? (byte)128 : (byte)32;

    public RuleMessage ToMessage() => new()
    {
        Family = Family,
        Table = Table,
        Priority = Priority,
        Protocol = PolicyRoutingTags.Protocol,
        Action = RuleAction.ToTable,
        Source = From ? Address : null,
        SourceLength = From ? Length : (byte)0,
        Destination = From ? null : Address,
        DestinationLength = From ? (byte)0 : Length,
    };

    /// <summary>The rule a kernel message describes, if it is one of the shapes the broker makes.</summary>
    public static PolicyRule? Of(RuleMessage rule) => rule switch
    {
        { Source: { } from, Destination: null } => new PolicyRule(rule.Family, true, from, rule.Table, rule.Priority),
        { Source: null, Destination: { } to } => new PolicyRule(rule.Family, false, to, rule.Table, rule.Priority),
        _ => null,
    };

    public override string ToString() => $"{(From ? "from" : "to")} {Address}/{Length} lookup {Table} priority {Priority}";
}

/// <summary>A route the broker wants in a link's table: a subnet route, or the default route via a gateway.</summary>
public readonly record struct PolicyRoute(byte Family, uint Table, IPAddress? Destination, byte DestinationLength, IPAddress? Gateway,
    int OutputIndex, IPAddress? PreferredSource)
{
    public RouteMessage ToMessage() => new()
    {
        Family = Family,
        Table = Table,
        Protocol = PolicyRoutingTags.Protocol,
        Type = RouteType.Unicast,
        Scope = Gateway is null ? RouteScope.Link : RouteScope.Universe,
        Destination = Destination,
        DestinationLength = DestinationLength,
        Gateway = Gateway,
        OutputIndex = OutputIndex,
        PreferredSource = PreferredSource,
    };

    public static PolicyRoute Of(RouteMessage route) => new(route.Family, route.Table, route.Destination, route.DestinationLength,
        route.Gateway, route.OutputIndex, route.PreferredSource);

    public override string ToString() =>
        $"{(Destination is null ? "default" : $"{Destination}/{DestinationLength}")}{(Gateway is null ? "" : $" via {Gateway}")} table {Table}";
}

/// <summary>What the kernel should hold for policy routing, or does hold of the broker's making.</summary>
public sealed record PolicyRoutingState(IReadOnlySet<PolicyRule> Rules, IReadOnlySet<PolicyRoute> Routes)
{
    public static readonly PolicyRoutingState Empty = new(new HashSet<PolicyRule>(), new HashSet<PolicyRoute>());
}
