using System.Net;

namespace NetworkBroker.Dhclient;

/// <summary>What a DHCP server may hand us before it is passed on to resolved and hostnamed: nothing unchecked.</summary>
public static class DhcpValues
{
    /// <summary>
    /// At most this many DNS servers and search domains are pushed per link. resolved (systemd 252) holds at most 256 of
    /// each per link (LINK_DNS_SERVERS_MAX, LINK_SEARCH_DOMAINS_MAX), and while it takes a new list the old one still
    /// counts: a call that would pass 256 fails part way and leaves the link with none. Half of it keeps any new list
    /// beside any old one of ours within the limit.
    /// </summary>
    public const int MaxPerLink = 128;

    /// <summary>
    /// A unicast address a resolver can be asked: not unspecified or in 0.0.0.0/8, not multicast or
    /// broadcast, and not loopback (127.0.0.0/8, ::1), where a rogue server would point the link's queries at a
    /// local service such as resolved's own stub; an IPv4-mapped IPv6 address is judged by its IPv4 address. networkd
    /// drops null and loopback servers from its DHCP leases the same way.
    /// </summary>
    public static bool IsUsableDnsServer(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            var first = address.GetAddressBytes()[0];
            return first is not (0 or 127) and < 224;
        }
        return !address.Equals(IPAddress.IPv6Any) && !address.Equals(IPAddress.IPv6Loopback) && !address.IsIPv6Multicast;
    }

    /// <summary>RFC 1123 labels (letters, digits, '-', not at the ends), 1-63 each, 253 in all; a final dot is allowed.</summary>
    public static bool IsValidDomain(string domain)
    {
        var name = domain.EndsWith('.') ? domain[..^1] : domain;
        if (name.Length is 0 or > 253)
            return false;
        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                return false;
        }
        return true;
    }

    /// <summary>A host name the kernel and hostnamed take: a valid domain of at most 64 characters (HOST_NAME_MAX).</summary>
    public static bool IsValidHostName(string name) => name.Length <= 64 && !name.EndsWith('.') && IsValidDomain(name);

    /// <summary>The leases' domains as DHCP gives them: each one's domain name, then its search list, each name once.</summary>
    public static IEnumerable<string> Domains(IEnumerable<DhcpLease> leases) =>
        leases.SelectMany(l => (l.DomainName is { } name ? [name] : Array.Empty<string>()).Concat(l.DomainSearch)).Distinct(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The leases' domains that are domain names: what a DHCP server says reaches scripts (DOMAIN, DHCP_LEASE, JSON)
    /// only if it is one, so a rogue server's "x,ROUTER=6.6.6.6" or shell text never does.
    /// </summary>
    public static IEnumerable<string> ValidDomains(IEnumerable<DhcpLease> leases) => Domains(leases).Where(IsValidDomain);
}
