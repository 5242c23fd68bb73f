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
    // The links (by ifindex) this process pushed a list of servers or domains to. A served link whose lease carries
    // none gets an empty list at each lease change whatever this says (resolved may hold an earlier process's values,
    // or a clear may have failed); a link no longer served gets one only if it is here.
    private readonly HashSet<int> _dnsPushed = [], _domainsPushed = [];
    // The link whose lease gave the transient host name, and the name, while it is in force.
    private (string Link, string Name)? _hostname;

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
            if (_known.Keys.Any(k => k.Interface == key.Interface))
                changedLinks.Add(key.Interface); // another lease of the link stays (the other family, another file): its lists alone
            else
                Revert(key.Interface, kernel);
        }

        // At start after a restart: a lease remembered for this file that is gone ended while the daemon was stopped.
        if (leases.Initial && since is not null)
            foreach (var key in since.Leases.Keys.Where(k => k.Path == leases.Path && !current.ContainsKey(k)).DistinctBy(k => k.Interface))
                if (!_known.Keys.Any(k => k.Interface == key.Interface))
                {
                    log.ForLink(PeerText.Excerpt(key.Interface, 32)).Info(
                        $"dhclient: lease of {PeerText.Excerpt(key.Interface, 32)} ended while the daemon was stopped");
                    Revert(key.Interface, kernel);
                }

        foreach (var name in changedLinks)
            Push(name, kernel);
    }

    /// <summary>
    /// After a reload: each link with a lease is pushed again under the new configuration, so that an option turned on
    /// or off, or a link put into or taken out of <c>Links=</c>, applies now, not at the lease's next change (a lease
    /// that never expires has none).
    /// </summary>
    public void Reconfigured(KernelModel kernel)
    {
        foreach (var name in _known.Keys.Select(k => k.Interface).Distinct().Order(StringComparer.Ordinal).ToList())
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
    /// The link has no lease left: resolved forgets what it holds for it (with UseDNS= or UseDomain=, for a link of
    /// <c>Links=</c>, or whatever the configuration now says when this process pushed something there), and a host
    /// name the link's lease gave goes to another link's lease or is reset, the link gone from the kernel or not.
    /// </summary>
    private void Revert(string name, KernelModel kernel)
    {
        if (resolver is null)
            return;
        if (kernel.Link(name) is { } link
            && ((config.UseDNS || config.UseDomain) && config.Links.Matches(link.Name) || _dnsPushed.Contains(link.Index) || _domainsPushed.Contains(link.Index)))
        {
            resolver.RevertLink(link.Name, link.Index);
            _dnsPushed.Remove(link.Index);
            _domainsPushed.Remove(link.Index);
        }
        if (_hostname?.Link == name)
            HandHostnameOver(kernel);
    }

    /// <summary>
    /// One link's lease data, all families together, to resolved and hostnamed, after checking every value; only for
    /// a link of <c>Links=</c>, as its scripts. A list left empty clears what may be there (this process's, one's before a
    /// restart, or what a failed clear left); what this process pushed is cleared once the link leaves <c>Links=</c> or
    /// the option is turned off. A list longer than resolved takes is cut (<see cref="DhcpValues.MaxPerLink"/>).
    /// </summary>
    private void Push(string name, KernelModel kernel)
    {
        if (resolver is null || kernel.Link(name) is not { } link)
            return;
        var served = config.Links.Matches(link.Name);
        var leases = served ? _known.Where(k => k.Key.Interface == name).Select(k => k.Value).ToList() : [];
        var linkLog = log.ForLink(link.Name, link.Index);

        var servers = new List<System.Net.IPAddress>();
        if (served && config.UseDNS)
        {
            servers = leases.SelectMany(l => l.DnsServers).Distinct().ToList();
            var unusable = servers.Where(s => !DhcpValues.IsUsableDnsServer(s)).ToList();
            if (unusable.Count > 0)
                linkLog.Warn($"dhclient: {Counted(unusable.Count, "DNS server")} from the lease {(unusable.Count == 1 ? "is" : "are")} not a unicast address (loopback, 0.0.0.0/8, " +
                             $"multicast or broadcast): skipped ({PeerText.List([.. unusable.Select(s => s.ToString())])})");
            servers = Cut(servers.Where(DhcpValues.IsUsableDnsServer).ToList(), "DNS servers", linkLog);
        }
        if (Tell(_dnsPushed, link.Index, servers.Count, wanted: served && config.UseDNS))
            resolver.SetLinkDns(link.Name, link.Index, servers);

        var domains = new List<string>();
        if (served && config.UseDomain)
        {
            domains = DhcpValues.Domains(leases).ToList();
            var invalid = domains.Where(d => !DhcpValues.IsValidDomain(d)).ToList();
            if (invalid.Count > 0)
                linkLog.Warn($"dhclient: {Counted(invalid.Count, "domain")} from the lease {(invalid.Count == 1 ? "is" : "are")} not a valid domain name: " +
                             $"skipped ({PeerText.List([.. invalid.Select(d => $"\"{PeerText.Excerpt(d)}\"")])})");
            domains = Cut(domains.Where(DhcpValues.IsValidDomain).ToList(), "domains", linkLog);
        }
        if (Tell(_domainsPushed, link.Index, domains.Count, wanted: served && config.UseDomain))
            resolver.SetLinkDomains(link.Name, link.Index, domains);

        if (HostnameOf(link.Name, linkLog) is { } hostname)
        {
            // The first link whose lease gives a name keeps it while its lease does: two links' renewals do not take turns.
            if (_hostname is null || _hostname.Value.Link == link.Name)
            {
                resolver.SetHostname(link.Name, hostname);
                _hostname = (link.Name, hostname);
            }
        }
        else if (_hostname?.Link == link.Name)
            HandHostnameOver(kernel);
    }

    /// <summary>A valid host name from the link's leases when UseHostname= serves it, else null (an invalid one is said).</summary>
    private string? HostnameOf(string name, LinkLog? linkLog)
    {
        if (!config.UseHostname || !config.Links.Matches(name))
            return null;
        var hostname = _known.Where(k => k.Key.Interface == name).OrderBy(k => k.Key.Family).Select(k => k.Value.HostName).FirstOrDefault(h => h is not null);
        if (hostname is null || DhcpValues.IsValidHostName(hostname))
            return hostname;
        linkLog?.Warn($"dhclient: host name \"{PeerText.Excerpt(hostname)}\" from the lease is not a valid RFC 1123 name: skipped");
        return null;
    }

    /// <summary>
    /// The link that gave the host name gives none any more: another served link's lease gives it (the first by name),
    /// or hostnamed goes back to its own, if what it has is still ours.
    /// </summary>
    private void HandHostnameOver(KernelModel kernel)
    {
        var (from, ours) = _hostname!.Value;
        _hostname = null;
        foreach (var other in _known.Keys.Select(k => k.Interface).Where(i => i != from).Distinct().Order(StringComparer.Ordinal))
            if (kernel.Link(other) is { } link && HostnameOf(other, null) is { } name)
            {
                resolver!.SetHostname(link.Name, name);
                _hostname = (link.Name, name);
                return;
            }
        resolver!.ResetHostname(from, ours);
    }

    /// <summary>
    /// Whether to send a list of <paramref name="count"/> values, and notes what was pushed: a list always; an empty one
    /// always where the option applies (<paramref name="wanted"/>), and where it no longer does (a link outside Links=,
    /// the option off) only to a link this process pushed a list to, so that a daemon with UseDNS= off never calls resolved.
    /// </summary>
    private static bool Tell(HashSet<int> pushed, int ifindex, int count, bool wanted)
    {
        var send = count > 0 || wanted || pushed.Contains(ifindex);
        if (count > 0)
            pushed.Add(ifindex);
        else
            pushed.Remove(ifindex);
        return send;
    }

    private static List<T> Cut<T>(List<T> values, string what, LinkLog linkLog)
    {
        if (values.Count <= DhcpValues.MaxPerLink)
            return values;
        linkLog.Warn($"dhclient: the lease has {values.Count} {what}; the first {DhcpValues.MaxPerLink} are pushed, the rest skipped");
        return values[..DhcpValues.MaxPerLink];
    }

    private static string Counted(int count, string what) => count == 1 ? $"1 {what}" : $"{count} {what}s";
}
