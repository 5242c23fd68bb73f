using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Core;

/// <summary>
/// The variables networkd-dispatcher gives its scripts, so that its hooks run here unchanged: IFACE (the
/// link), ADDR (the first IPv4 address), IP_ADDRS (IPv4 without 127.0.0.0/8) and IP6_ADDRS (IPv6 without
/// link-local fe80::/10), space-separated in the kernel's order, and ESSID (empty: the broker does not ask
/// the wireless stack). STATE, AdministrativeState and OperationalState are the broker's own already.
/// </summary>
public static class NetworkdDispatcherVariables
{
    public static IEnumerable<KeyValuePair<string, string>> Of(string link, IEnumerable<AddressMessage> addresses)
    {
        var ipv4 = new List<string>();
        var ipv6 = new List<string>();
        foreach (var address in addresses)
        {
            if (address.Family == AddressFamily.IPv4 && address.Address.GetAddressBytes()[0] != 127)
                ipv4.Add(address.Address.ToString());
            else if (address.Family == AddressFamily.IPv6 && !address.Address.IsIPv6LinkLocal)
                ipv6.Add(address.Address.ToString());
        }
        return
        [
            new("IFACE", link),
            new("ADDR", ipv4.Count > 0 ? ipv4[0] : ""),
            new("IP_ADDRS", string.Join(' ', ipv4)),
            new("IP6_ADDRS", string.Join(' ', ipv6)),
            new("ESSID", ""),
        ];
    }
}
