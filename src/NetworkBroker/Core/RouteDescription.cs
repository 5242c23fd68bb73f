using System.Globalization;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Core;

/// <summary>How a route is written for scripts and logs: CIDR destination, gateway, table, protocol.</summary>
public static class RouteDescription
{
    public static string Destination(RouteMessage route) =>
        route.Destination is null
            ? (route.Family == AddressFamily.IPv6 ? "::/0" : "0.0.0.0/0")
            : $"{route.Destination}/{route.DestinationLength}";

    public static string Gateway(RouteMessage route) =>
        route.Gateway?.ToString() ?? string.Join(',', route.MultiPath.Where(h => h.Gateway is not null).Select(h => h.Gateway));

    public static string Describe(string change, RouteMessage route)
    {
        var gateway = Gateway(route);
        return $"{change} {Destination(route)}{(gateway.Length > 0 ? " via " + gateway : "")} table {route.Table.ToString(CultureInfo.InvariantCulture)} proto {RouteProtocol.Name(route.Protocol)}";
    }
}
