using System.Collections.Immutable;
using System.Net;

namespace NetworkBroker.Dhclient;

/// <summary>One lease of an ISC dhclient lease file: a "lease { }" (IPv4) or "lease6 { }" (IPv6) block.</summary>
public sealed record DhcpLease
{
    public string Interface { get; init; } = "";
    /// <summary>4 or 6.</summary>
    public int Family { get; init; } = 4;
    public IPAddress? Address { get; init; }
    public int? PrefixLength { get; init; }
    public IPAddress? SubnetMask { get; init; }
    public ImmutableArray<IPAddress> Routers { get; init; } = [];
    public ImmutableArray<IPAddress> DnsServers { get; init; } = [];
    public string? DomainName { get; init; }
    public ImmutableArray<string> DomainSearch { get; init; } = [];
    public string? HostName { get; init; }
    public IPAddress? ServerIdentifier { get; init; }
    public uint? LeaseTime { get; init; }
    public DateTime? Renew { get; init; }
    public DateTime? Rebind { get; init; }
    /// <summary>UTC; null for "never" or when the file gives none.</summary>
    public DateTime? Expire { get; init; }
    /// <summary>Where the lease starts in the file.</summary>
    public int Line { get; init; }

    public bool IsExpired(DateTime utcNow) => Expire is { } expire && expire <= utcNow;

    /// <summary>
    /// The content that matters to scripts and resolvers, without the timers: two leases with the same
    /// value here but a later expiry are a renewal.
    /// </summary>
    public string Identity => string.Join('|', Family, Address, PrefixLength, string.Join(',', Routers), string.Join(',', DnsServers),
        DomainName, string.Join(',', DomainSearch), HostName, ServerIdentifier);
}
