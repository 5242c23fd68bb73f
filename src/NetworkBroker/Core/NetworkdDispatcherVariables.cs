using NetworkBroker.Netlink.Messages;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// The values of the variables networkd-dispatcher gives its scripts, so that its hooks run here unchanged: it takes
/// them from the "Address:" lines of <c>networkctl status</c>, so the addresses are taken as networkctl lists them
/// (deprecated ones left out; IPv4 before IPv6, then by scope, global first, then by value). ADDR is the first address
/// of that list whatever it is (on a link without IPv4 that is an IPv6 address, link-local included; 127.0.0.1 on lo),
/// IP_ADDRS its IPv4 addresses without "127.", IP6_ADDRS its IPv6 addresses without "fe80:", space-separated. The
/// names, IFACE and ESSID are the environment's (<see cref="EventEnvironment"/>).
/// </summary>
public static class NetworkdDispatcherVariables
{
    /// <summary>The five variables of a link-state event (IFACE, ADDR, IP_ADDRS, IP6_ADDRS, ESSID), as scripts get them.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Of(string link, IEnumerable<AddressMessage> addresses) =>
        EventEnvironment.NetworkdDispatcher(link, addresses);

    /// <summary>ADDR, IP_ADDRS and IP6_ADDRS's values.</summary>
    public static (string First, string IPv4, string IPv6) Addresses(IEnumerable<AddressMessage> addresses)
    {
        // The order is networkctl's, as networkd-dispatcher's json lists them: one owner of that rule.
        var listed = NetworkdDispatcherJson.Addresses(addresses).ToList();
        // networkd-dispatcher's own filter is on the text, not on the prefix: "127." and "fe80:".
        var ipv4 = listed.Where(a => !a.Contains(':') && !a.StartsWith("127.", StringComparison.Ordinal));
        var ipv6 = listed.Where(a => a.Contains(':') && !a.StartsWith("fe80:", StringComparison.Ordinal));
        return (listed.Count > 0 ? listed[0] : "", string.Join(' ', ipv4), string.Join(' ', ipv6));
    }
}
