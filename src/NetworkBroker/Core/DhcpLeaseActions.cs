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
    // What this process last told resolved for each link (by ifindex): true, a list; false, nothing (an empty list or
    // a revert). A link not here was not told since the start, and may hold what an earlier process pushed. A lease
    // that then carries none must clear them, or the last server's values (a rogue one's too) would stay.
    private readonly Dictionary<int, bool> _dnsTold = [], _domainsTold = [];
    // The link whose lease gave the transient host name, while it is in force.
    private int? _hostnameFrom;

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
            else if (kernel.Link(key.Interface) is { } gone)
                Revert(gone.Name, gone.Index);
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
    /// The link has no lease left: resolved forgets what it holds for it (with UseDNS= or UseDomain=, for a link of
    /// <c>Links=</c>, or whatever the configuration now says when this process pushed something there), and a host
    /// name the link's lease gave is reset.
    /// </summary>
    private void Revert(string name, int ifindex)
    {
        if (resolver is null)
            return;
        if ((config.UseDNS || config.UseDomain) && config.Links.Matches(name)
            || _dnsTold.GetValueOrDefault(ifindex) || _domainsTold.GetValueOrDefault(ifindex))
        {
            resolver.RevertLink(name, ifindex);
            _dnsTold[ifindex] = _domainsTold[ifindex] = false;
        }
        if (_hostnameFrom == ifindex)
        {
            resolver.SetHostname(name, "");
            _hostnameFrom = null;
        }
    }

    /// <summary>
    /// One link's lease data, all families together, to resolved and hostnamed, after checking every value; only for
    /// a link of <c>Links=</c>, as its scripts. A list left empty clears what may have been pushed before (by this
    /// process, or by one before a restart); what this process pushed is cleared once the link leaves <c>Links=</c> or
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
        if (Tell(_dnsTold, link.Index, servers.Count, wanted: served && config.UseDNS))
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
        if (Tell(_domainsTold, link.Index, domains.Count, wanted: served && config.UseDomain))
            resolver.SetLinkDomains(link.Name, link.Index, domains);

        var hostname = served && config.UseHostname ? leases.Select(l => l.HostName).FirstOrDefault(h => h is not null) : null;
        if (hostname is not null && !DhcpValues.IsValidHostName(hostname))
        {
            linkLog.Warn($"dhclient: host name \"{PeerText.Excerpt(hostname)}\" from the lease is not a valid RFC 1123 name: skipped");
            hostname = null;
        }
        if (hostname is not null)
        {
            resolver.SetHostname(link.Name, hostname);
            _hostnameFrom = link.Index;
        }
        else if (_hostnameFrom == link.Index)
        {
            // The lease that gave the name no longer does (or is no longer to be used): hostnamed goes back to its own.
            resolver.SetHostname(link.Name, "");
            _hostnameFrom = null;
        }
    }

    /// <summary>
    /// Whether to send a list of <paramref name="count"/> values, and notes it as told: a list always; an empty one
    /// unless resolved is known to hold nothing of ours, and only where this process pushed one when the option no
    /// longer applies (<paramref name="wanted"/> false: a link outside Links=, or the option off), so that a daemon
    /// with UseDNS= off never calls resolved.
    /// </summary>
    private static bool Tell(Dictionary<int, bool> told, int ifindex, int count, bool wanted)
    {
        var before = told.TryGetValue(ifindex, out var held) ? held : (bool?)null;
        var send = count > 0 || (wanted ? before != false : before == true);
        if (send)
            told[ifindex] = count > 0;
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
