using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Core;

/// <summary>
/// The variables networkd-dispatcher gives its scripts, so that its hooks run here unchanged, with its values:
/// it takes them from the "Address:" lines of <c>networkctl status</c>, so the addresses are taken as networkctl
/// lists them (deprecated ones left out; IPv4 before IPv6, then by scope, global first, then by value).
/// IFACE is the link, ADDR the first address of that list whatever it is (on a link without IPv4 that is
/// an IPv6 address, link-local included; 127.0.0.1 on lo), IP_ADDRS its IPv4 addresses without "127.",
/// IP6_ADDRS its IPv6 addresses without "fe80:", space-separated; ESSID is empty (the broker does not ask the
/// wireless stack). STATE, AdministrativeState and OperationalState are the broker's own already.
/// </summary>
public static class NetworkdDispatcherVariables
{
    public static IEnumerable<KeyValuePair<string, string>> Of(string link, IEnumerable<AddressMessage> addresses)
    {
        // The order is networkctl's, as networkd-dispatcher's json lists them: one owner of that rule.
        var listed = NetworkdDispatcherJson.Addresses(addresses).ToList();
        // networkd-dispatcher's own filter is on the text, not on the prefix: "127." and "fe80:".
        var ipv4 = listed.Where(a => !a.Contains(':') && !a.StartsWith("127.", StringComparison.Ordinal));
        var ipv6 = listed.Where(a => a.Contains(':') && !a.StartsWith("fe80:", StringComparison.Ordinal));
        return
        [
            new("IFACE", link),
            new("ADDR", listed.Count > 0 ? listed[0] : ""),
            new("IP_ADDRS", string.Join(' ', ipv4)),
            new("IP6_ADDRS", string.Join(' ', ipv6)),
            new("ESSID", ""),
        ];
    }
}
