using System.Net;
using NetworkBroker.Configuration;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>
/// The desired policy routing, a pure function of the configuration and the kernel model: for every
/// link named in RoutingPolicyRules= that is up and has global addresses, a table RouteTableBase +
/// ifindex holding the link's subnet routes and a default route via the link's own gateway, and for
/// every global address a "from" and a "to" rule looking that table up.
/// </summary>
public static class PolicyRoutingDesired
{
    /// <param name="notes">Why a link gets no default route (no usable gateway), for the log.</param>
    public static PolicyRoutingState Compute(BrokerConfiguration config, KernelModel kernel, List<string>? notes = null)
    {
        var rules = new HashSet<PolicyRule>();
        var routes = new HashSet<PolicyRoute>();
        // One pass over the routes for every link (a full-table router has hundreds of thousands of them).
        List<RouteMessage>? defaults = null;
        foreach (var link in PolicyRoutedLinks(config, kernel))
        {
            var name = link.Name;
            if (!link.Flags.HasFlag(LinkFlags.Up))
                continue;
            var table = PolicyRoutingTables.TableOf(config.RouteTableBase, link.Index);
            var addresses = kernel.Addresses(link.Index).Where(a => a.Scope == RouteScope.Universe && IsGlobal(a.Address)).ToList();
            foreach (var address in addresses)
            {
                rules.Add(new PolicyRule(address.Family, true, address.Address, table, config.RoutingPolicyRulePriority));
                rules.Add(new PolicyRule(address.Family, false, address.Address, table, config.RoutingPolicyRulePriority));
                var maximum = address.Family == AddressFamily.IPv6 ? 128 : 32;
                if (address.PrefixLength < maximum)
                    routes.Add(new PolicyRoute(address.Family, table, Network(address.Address, address.PrefixLength), address.PrefixLength,
                        null, link.Index, address.Family == AddressFamily.IPv4 ? address.Address : null));
            }

            foreach (var family in addresses.Select(a => a.Family).Distinct())
            {
                defaults ??= Defaults(kernel);
                var gateway = Gateway(defaults, link.Index, family, addresses.Where(a => a.Family == family).ToList());
                if (gateway is null)
                    notes?.Add($"{name}: no {(family == AddressFamily.IPv6 ? "IPv6" : "IPv4")} gateway on the link, table {table} gets its subnet routes only");
                else
                    routes.Add(new PolicyRoute(family, table, null, 0, gateway, link.Index, null));
            }
        }
        return new PolicyRoutingState(rules, routes);
    }

    /// <summary>The links RoutingPolicyRules= names, by name or glob, in ifindex order.</summary>
    private static IEnumerable<LinkMessage> PolicyRoutedLinks(BrokerConfiguration config, KernelModel kernel)
    {
        if (config.RoutingPolicyRules.IsEmpty)
            return [];
        if (!config.RoutingPolicyRules.Any(LinkPattern.IsGlob))
            return config.RoutingPolicyRules.Select(n => kernel.Link(n)).OfType<LinkMessage>().Where(l => config.RoutingPolicyRules.Contains(l.Name)).Distinct();
        return kernel.Links.Where(l => IsPolicyRouted(config, l.Name)).OrderBy(l => l.Index);
    }

    /// <summary>Whether RoutingPolicyRules= names <paramref name="link"/> (exactly or by a glob).</summary>
    public static bool IsPolicyRouted(BrokerConfiguration config, string link) =>
        config.RoutingPolicyRules.Any(p => LinkPattern.Matches(p, link));

    /// <summary>
    /// The link's own gateway: the gateway of a default route leaving by the link (any table but ours).
    /// Failing that, another link's default gateway, but only when it is on this link's subnet.
    /// </summary>
    private static IPAddress? Gateway(List<RouteMessage> defaults, int index, byte family, List<AddressMessage> addresses)
    {
        var own = defaults.FirstOrDefault(r => r.Family == family && r.OutputIndex == index);
        if (own is not null)
            return own.Gateway;
        return defaults.Where(r => r.Family == family).Select(r => r.Gateway!).FirstOrDefault(g => addresses.Any(a => Contains(a.Address, a.PrefixLength, g)));
    }

    /// <summary>Default routes with a gateway that are not ours, the main table's first, then by metric.</summary>
    private static List<RouteMessage> Defaults(KernelModel kernel) => kernel.DefaultRoutes
        .Where(r => r.IsDefault && r.Gateway is not null && r.Protocol != PolicyRoutingTags.Protocol && r.Table != RouteTable.Local)
        .OrderBy(r => r.Table == RouteTable.Main ? 0 : 1).ThenBy(r => r.Priority)
        .ToList();

    /// <summary>Global unicast: not link-local, loopback or multicast (IPv6 ULAs count as global: they are routed).</summary>
    public static bool IsGlobal(IPAddress address) =>
        !IPAddress.IsLoopback(address) && !address.IsIPv6LinkLocal && !address.IsIPv6Multicast &&
        !(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && address.GetAddressBytes()[0] is 169 && address.GetAddressBytes()[1] == 254);

    public static IPAddress Network(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }
        return new IPAddress(bytes);
    }

    public static bool Contains(IPAddress network, int prefix, IPAddress address) =>
        network.AddressFamily == address.AddressFamily && Network(network, prefix).Equals(Network(address, prefix));
}
