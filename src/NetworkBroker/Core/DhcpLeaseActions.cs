using System.Collections.Immutable;
using System.Globalization;
using NetworkBroker.Configuration;
using NetworkBroker.Dhclient;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Logging;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// What a dhclient lease change calls for: routable.d once for the link whose lease changed (a new
/// address, new server data, or a renewal with a new expiry; not every link of the file on every write,
/// as the Go network-event-broker did), and with UseDNS=/UseDomain=/UseHostname= the lease's data pushed to systemd-resolved
/// and systemd-hostnamed; a lease that expires or disappears reverts the link in resolved.
/// </summary>
public sealed class DhcpLeaseActions(Func<BrokerConfiguration> configuration, ScriptDispatcher scripts, IResolverPusher? resolver, Logger log)
{
    /// <summary>Read at each use: a reload takes effect with the next event.</summary>
    private BrokerConfiguration config => configuration();

    public const string State = "routable";

    private readonly Dictionary<LeaseKey, DhcpLease> _known = [];
    // The links (by ifindex) resolved holds DNS servers or domains of ours for: a lease that then carries none
    // must clear them, or the last server's values (a rogue one's too) would stay.
    private readonly HashSet<int> _dnsPushed = [], _domainsPushed = [];

    /// <summary>What identifies a lease's run: its data and its expiry (a renewal runs routable.d again).</summary>
    public static string Remembered(DhcpLease lease) =>
        lease.Identity + "@" + (lease.Expire?.Ticks.ToString(CultureInfo.InvariantCulture) ?? "never");

    /// <summary>Every known lease as remembered across restarts.</summary>
    public ImmutableDictionary<LeaseKey, string> Now => _known.ToImmutableDictionary(k => k.Key, k => Remembered(k.Value));

    /// <param name="replay">At start: run every lease (RunStartupTriggers=, or the first start of a boot).</param>
    /// <param name="since">At start after a restart: run the leases that differ from these.</param>
    public void Handle(LeasesRead leases, KernelModel kernel, bool replay = false, RememberedStates? since = null)
    {
        var current = leases.Current.ToDictionary(l => new LeaseKey(leases.Path, l.Interface, l.Family));
        var changedLinks = new HashSet<string>(StringComparer.Ordinal);

        foreach (var (key, lease) in current)
        {
            if (_known.TryGetValue(key, out var before) && before.Identity == lease.Identity && before.Expire == lease.Expire)
                continue;
            _known[key] = lease;
            changedLinks.Add(lease.Interface);
            if (leases.Initial && !replay && (since is null || since.Leases.GetValueOrDefault(key) == Remembered(lease)))
                continue;
            if (kernel.Link(lease.Interface) is not { } link)
            {
                log.ForLink(PeerText.Excerpt(lease.Interface, 32)).Warn(
                    $"dhclient: {PeerText.FileName(leases.Path)} has a lease for {PeerText.Excerpt(lease.Interface, 32)}, which the kernel does not have: skipped");
                continue;
            }
            if (!config.Links.Matches(link.Name))
                continue;
            log.ForLink(link.Name, link.Index).Info($"dhclient: lease {lease.Address} {(before is null ? "gained" : "changed")}");
            scripts.Enqueue(new ScriptEvent(State, link.Name, link.Index, EventEnvironment.DhclientLease(lease, link, kernel, config))
            {
                Remembers = RememberedRun.Lease(lease.Interface),
            });
        }

        foreach (var key in _known.Keys.Where(k => k.Path == leases.Path && !current.ContainsKey(k)).ToList())
        {
            _known.Remove(key);
            log.ForLink(PeerText.Excerpt(key.Interface, 32)).Info($"dhclient: lease of {PeerText.Excerpt(key.Interface, 32)} expired or released");
            if ((config.UseDNS || config.UseDomain) && kernel.Link(key.Interface) is { } gone && resolver is not null
                && (config.Links.Matches(gone.Name) || _dnsPushed.Contains(gone.Index) || _domainsPushed.Contains(gone.Index))
                && !_known.Keys.Any(k => k.Interface == key.Interface))
            {
                resolver.RevertLink(gone.Name, gone.Index);
                _dnsPushed.Remove(gone.Index);
                _domainsPushed.Remove(gone.Index);
            }
        }

        foreach (var name in changedLinks)
            Push(name, kernel);
    }

    /// <summary>run-scripts through the control socket: routable.d for the link's current lease, as a lease change runs it.</summary>
    public bool RunOnRequest(string name, KernelModel kernel, ScriptObserver observer)
    {
        if (kernel.Link(name) is not { } link || _known.Where(k => k.Key.Interface == name).Select(k => k.Value).FirstOrDefault() is not { } lease)
            return false;
        scripts.Enqueue(new ScriptEvent(State, link.Name, link.Index, EventEnvironment.DhclientLease(lease, link, kernel, config)) { Observer = observer });
        return true;
    }

    /// <summary>
    /// One link's lease data, all families together, to resolved and hostnamed, after checking every value; only for
    /// a link of <c>Links=</c>, as its scripts. A list left empty clears what was pushed before; a list longer than
    /// resolved keeps is cut (<see cref="DhcpValues.MaxPerLink"/>).
    /// </summary>
    private void Push(string name, KernelModel kernel)
    {
        if (resolver is null || kernel.Link(name) is not { } link || !config.Links.Matches(link.Name))
            return;
        var leases = _known.Where(k => k.Key.Interface == name).Select(k => k.Value).ToList();
        var linkLog = log.ForLink(link.Name, link.Index);
        if (config.UseDNS)
        {
            var servers = leases.SelectMany(l => l.DnsServers).Distinct().ToList();
            var unusable = servers.Where(s => !DhcpValues.IsUsableDnsServer(s)).ToList();
            if (unusable.Count > 0)
                linkLog.Warn($"dhclient: {Counted(unusable.Count, "DNS server")} from the lease not the unicast address of another host: " +
                             $"skipped ({PeerText.List([.. unusable.Select(s => s.ToString())])})");
            servers = Cut(servers.Where(DhcpValues.IsUsableDnsServer).ToList(), "DNS servers", linkLog);
            if (servers.Count > 0 || _dnsPushed.Contains(link.Index))
                resolver.SetLinkDns(link.Name, link.Index, servers);
            if (servers.Count > 0)
                _dnsPushed.Add(link.Index);
            else
                _dnsPushed.Remove(link.Index);
        }
        if (config.UseDomain)
        {
            var domains = DhcpValues.Domains(leases).ToList();
            var invalid = domains.Where(d => !DhcpValues.IsValidDomain(d)).ToList();
            if (invalid.Count > 0)
                linkLog.Warn($"dhclient: {Counted(invalid.Count, "domain")} from the lease not a valid domain name: " +
                             $"skipped ({PeerText.List([.. invalid.Select(d => $"\"{PeerText.Excerpt(d)}\"")])})");
            domains = Cut(domains.Where(DhcpValues.IsValidDomain).ToList(), "domains", linkLog);
            if (domains.Count > 0 || _domainsPushed.Contains(link.Index))
                resolver.SetLinkDomains(link.Name, link.Index, domains);
            if (domains.Count > 0)
                _domainsPushed.Add(link.Index);
            else
                _domainsPushed.Remove(link.Index);
        }
        if (config.UseHostname && leases.Select(l => l.HostName).FirstOrDefault(h => h is not null) is { } hostname)
        {
            if (DhcpValues.IsValidHostName(hostname))
                resolver.SetHostname(link.Name, hostname);
            else
                linkLog.Warn($"dhclient: host name \"{PeerText.Excerpt(hostname)}\" from the lease is not a valid RFC 1123 name: skipped");
        }
    }

    private static List<T> Cut<T>(List<T> values, string what, LinkLog linkLog)
    {
        if (values.Count <= DhcpValues.MaxPerLink)
            return values;
        linkLog.Warn($"dhclient: the lease has {values.Count} {what}; resolved keeps {DhcpValues.MaxPerLink} per link, the rest are skipped");
        return values[..DhcpValues.MaxPerLink];
    }

    private static string Counted(int count, string what) => count == 1 ? $"1 {what} is" : $"{count} {what}s are";
}
