using System.Net;
using NetworkBroker.Events;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Kernel;

/// <summary>
/// The broker's view of the kernel: links by ifindex and name, their addresses, routes and policy rules. Pure: it
/// changes only through <see cref="Apply"/> and <see cref="Resync"/>, each returning the changes it
/// made, so it is tested without a kernel. Not thread-safe: the broker's loop owns it.
/// </summary>
public sealed class KernelModel
{
    /// <summary>RTM_F_CLONED: a route cache entry, not a route anybody configured.</summary>
    private const uint RouteCloned = 0x200;

    private readonly Dictionary<int, LinkMessage> _links = [];
    private readonly Dictionary<string, int> _names = new(StringComparer.Ordinal);
    // ifindex -> the link's addresses, an array replaced (never changed) on each change: a link's addresses without a
    // pass over every link's, in 8 bytes per address beside the link's 48.
    private readonly Dictionary<int, AddressMessage[]> _addresses = [];
    private readonly RouteStore _routes = new();
    // Few (a handful per policy-routed address), kept from notifications so that nobody has to dump them.
    private readonly HashSet<RuleMessage> _rules = [];

    public IReadOnlyCollection<LinkMessage> Links => _links.Values;

    public LinkMessage? Link(int index) => _links.GetValueOrDefault(index);

    /// <summary>By name, then by alternative name.</summary>
    public LinkMessage? Link(string name) =>
        _names.TryGetValue(name, out var index) ? _links[index] : _links.Values.FirstOrDefault(l => l.AlternativeNames.Contains(name));

    public IReadOnlyList<AddressMessage> Addresses(int index) => _addresses.GetValueOrDefault(index) ?? [];

    public IEnumerable<AddressMessage> AllAddresses => _addresses.Values.SelectMany(a => a);

    public int AddressCount => _addresses.Values.Sum(a => a.Length);

    public IEnumerable<RouteMessage> Routes(int index) => _routes.OfLink(index);

    public IEnumerable<RouteMessage> AllRoutes => _routes.All;

    public int RouteCount => _routes.Count;

    /// <summary>Default routes (any table), without a pass over the tables.</summary>
    public IEnumerable<RouteMessage> DefaultRoutes => _routes.Defaults;

    /// <summary>Routes outside the main and local tables (policy routing's own among them), without a pass over main.</summary>
    public IEnumerable<RouteMessage> RoutesOutsideMain => _routes.OutsideMain;

    public IReadOnlyCollection<RuleMessage> Rules => _rules;

    /// <summary>Applies one notification; an address or route of an ifindex the model does not know is applied too (resolve the link first).</summary>
    public IReadOnlyList<KernelChange> Apply(KernelNotification notification)
    {
        var changes = new List<KernelChange>(1);
        switch (notification)
        {
            case LinkNotification { Removed: false } link:
                PutLink(link.Link, changes);
                break;
            case LinkNotification { Removed: true } link:
                RemoveLink(link.Link.Index, changes);
                break;
            case AddressNotification { Removed: false } address:
                if (!PutAddress(address.Address))
                    changes.Add(new AddressAdded(NameOf(address.Address.Index), address.Address));
                break;
            case AddressNotification { Removed: true } address:
                if (RemoveAddress(address.Address) is { } removed)
                {
                    changes.Add(new AddressRemoved(NameOf(removed.Index), removed));
                    if (removed.Family == AddressFamily.IPv4)
                        ForgetRoutesOfRemovedAddress(removed, changes);
                }
                break;
            case RouteNotification { Removed: false } route when (route.Route.Flags & RouteCloned) == 0:
                if (route.Flags.HasFlag(NetlinkFlags.Replace))
                    ReplaceSlot(route.Route, changes);
                PutRoute(route.Route, changes);
                break;
            case RouteNotification { Removed: true } route:
                if (_routes.Remove(route.Route, out var gone))
                    changes.Add(new RouteRemoved(NameOf(gone.Links.FirstOrDefault()), gone));
                break;
            // Rules are state, not news: no script runs for them; policy routing reads them from here.
            case RuleNotification { Removed: false } rule:
                _rules.Add(rule.Rule);
                break;
            case RuleNotification { Removed: true } rule:
                _rules.Remove(rule.Rule);
                break;
        }
        return changes;
    }

    /// <summary>
    /// Replaces the model with a snapshot. After lost notifications the difference is returned as the
    /// changes that were missed; at start (<paramref name="silently"/>) nothing is reported: the state is where we begin.
    /// </summary>
    public IReadOnlyList<KernelChange> Resync(KernelSnapshot snapshot, bool silently)
    {
        var links = snapshot.Links.GroupBy(l => l.Index).ToDictionary(g => g.Key, g => g.Last());
        var addresses = new Dictionary<AddressKey, AddressMessage>();
        foreach (var address in snapshot.Addresses)
            addresses[AddressKey.Of(address)] = address;
        var routes = new Dictionary<RouteMessage, RouteMessage>(RouteIdentity.Instance);
        foreach (var route in snapshot.Routes.Where(r => (r.Flags & RouteCloned) == 0))
            routes[route] = route;

        var changes = new List<KernelChange>();
        if (!silently)
        {
            foreach (var link in links.Values)
            {
                if (!_links.TryGetValue(link.Index, out var old))
                    changes.Add(new LinkAdded(link));
                else
                    DescribeLinkUpdate(old, link, changes);
            }
            string Name(int index) => links.GetValueOrDefault(index)?.Name ?? NameOf(index);
            var had = AllAddresses.Select(AddressKey.Of).ToHashSet();
            foreach (var address in AllAddresses)
                if (!addresses.ContainsKey(AddressKey.Of(address)))
                    changes.Add(new AddressRemoved(Name(address.Index), address));
            foreach (var route in _routes.All)
                if (!routes.ContainsKey(route))
                    changes.Add(new RouteRemoved(Name(route.Links.FirstOrDefault()), route));
            foreach (var (key, address) in addresses)
                if (!had.Contains(key))
                    changes.Add(new AddressAdded(Name(address.Index), address));
            foreach (var route in routes.Values)
                if (!_routes.Contains(route))
                    changes.Add(new RouteAdded(Name(route.Links.FirstOrDefault()), route));
            foreach (var link in _links.Values)
                if (!links.ContainsKey(link.Index))
                    changes.Add(new LinkRemoved(link));
        }

        _links.Clear();
        _names.Clear();
        foreach (var link in links.Values)
        {
            _links[link.Index] = link;
            _names[link.Name] = link.Index;
        }
        _addresses.Clear();
        foreach (var group in addresses.Values.GroupBy(a => a.Index))
            _addresses[group.Key] = [.. group];
        _addresses.TrimExcess();
        _routes.Clear();
        foreach (var route in routes.Values)
            _routes.Put(WithSharedAddresses(route));
        _rules.Clear();
        _rules.UnionWith(snapshot.Rules ?? []);
        return changes;
    }

    /// <summary>The model as a snapshot (for comparing with a fresh dump).</summary>
    public KernelSnapshot Snapshot() => new([.. _links.Values], [.. AllAddresses], [.. _routes.All], [.. _rules]);

    private string NameOf(int index) => _links.TryGetValue(index, out var link) ? link.Name : "";

    private void PutLink(LinkMessage link, List<KernelChange> changes)
    {
        if (_links.TryGetValue(link.Index, out var old))
        {
            DescribeLinkUpdate(old, link, changes);
            if (old.Name != link.Name && _names.TryGetValue(old.Name, out var owner) && owner == link.Index)
                _names.Remove(old.Name);
            if (old.Flags.HasFlag(LinkFlags.Up) && !link.Flags.HasFlag(LinkFlags.Up))
                ForgetSilentlyRemovedRoutes(link, changes);
        }
        else
        {
            changes.Add(new LinkAdded(link));
        }
        _links[link.Index] = link;
        _names[link.Name] = link.Index;
    }

    private static void DescribeLinkUpdate(LinkMessage old, LinkMessage link, List<KernelChange> changes)
    {
        if (old.Name != link.Name)
            changes.Add(new LinkRenamed(link, old.Name));
        if (old.Flags != link.Flags || old.OperState != link.OperState || old.Mtu != link.Mtu || old.Master != link.Master ||
            !SameBytes(old.HardwareAddress, link.HardwareAddress) || !old.AlternativeNames.SequenceEqual(link.AlternativeNames))
            changes.Add(new LinkChanged(old, link));
    }

    private static bool SameBytes(byte[]? a, byte[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    private void RemoveLink(int index, List<KernelChange> changes)
    {
        if (!_links.Remove(index, out var link))
            return;
        if (_names.TryGetValue(link.Name, out var owner) && owner == index)
            _names.Remove(link.Name);
        // The kernel reports the addresses' removal, but not that of IPv4 routes through the link: drop both.
        if (_addresses.Remove(index, out var addresses))
            foreach (var address in addresses)
                changes.Add(new AddressRemoved(link.Name, address));
        foreach (var route in _routes.OfLink(index).ToList())
            _routes.Remove(route, out _);
        changes.Add(new LinkRemoved(link));
    }

    /// <summary>
    /// A link that goes down loses its IPv4 routes without a notification (fib_sync_down_dev flushes them
    /// silently); systemd-networkd forgets them the same way (link_forget_routes). Local routes stay while the
    /// address does, and a multipath route loses only a nexthop. Reported as removed, so nothing needs a re-read.
    /// </summary>
    private void ForgetSilentlyRemovedRoutes(LinkMessage link, List<KernelChange> changes)
    {
        foreach (var route in _routes.OfLink(link.Index).Where(r => IsSilentlyRemoved(r, link.Index)).ToList())
        {
            _routes.Remove(route, out _);
            changes.Add(new RouteRemoved(link.Name, route));
        }
    }

    /// <summary>
    /// What the kernel flushes without a word when an IPv4 address goes (fib_del_ifaddr): with the link's last
    /// IPv4 address, every IPv4 route through the link, as when it goes down; and once no link has the address
    /// any more, the main table's routes that used it as their preferred source (fib_sync_down_addr looks at
    /// the main table only).
    /// </summary>
    private void ForgetRoutesOfRemovedAddress(AddressMessage removed, List<KernelChange> changes)
    {
        var lastOfLink = !Addresses(removed.Index).Any(a => a.Family == AddressFamily.IPv4);
        var stillSomewhere = AllAddresses.Any(a => a.Family == AddressFamily.IPv4 && a.Address.Equals(removed.Address));
        if (!lastOfLink && stillSomewhere)
            return;
        var flushed = (lastOfLink ? _routes.OfLink(removed.Index).Where(r => IsSilentlyRemoved(r, removed.Index)) : [])
            .Concat(!stillSomewhere ? _routes.WithPreferredSource(removed.Address).Where(r => r.Family == AddressFamily.IPv4 && r.Table == RouteTable.Main) : [])
            .Distinct(ReferenceEqualityComparer.Instance).Cast<RouteMessage>().ToList();
        foreach (var route in flushed)
        {
            _routes.Remove(route, out _);
            changes.Add(new RouteRemoved(NameOf(route.Links.FirstOrDefault()), route));
        }
    }

    private static bool IsSilentlyRemoved(RouteMessage route, int index) =>
        route.Family == AddressFamily.IPv4 && route.MultiPath.IsEmpty && route.OutputIndex == index &&
        route.Type is RouteType.Unicast or RouteType.Broadcast or RouteType.Anycast or RouteType.Multicast;

    private void PutRoute(RouteMessage route, List<KernelChange> changes)
    {
        route = WithSharedAddresses(route);
        if (!_routes.Contains(route))
            changes.Add(new RouteAdded(NameOf(route.Links.FirstOrDefault()), route));
        _routes.Put(route);
    }

    /// <summary>
    /// The route with the address objects the model holds already where it names the same addresses: every link's
    /// local and broadcast routes repeat its own addresses, its IPv4 routes their preferred source, and its IPv6
    /// routes fe80::/64 and ff00::/8. Beside 1,000 links that was one IPAddress (32-72 bytes) for each of some 5,000
    /// routes. An IPAddress is never changed once made, so sharing one is safe.
    /// </summary>
    private RouteMessage WithSharedAddresses(RouteMessage route)
    {
        var destination = Shared(route.Destination, route.OutputIndex);
        var preferred = Shared(route.PreferredSource, route.OutputIndex);
        return ReferenceEquals(destination, route.Destination) && ReferenceEquals(preferred, route.PreferredSource)
            ? route
            : route with { Destination = destination, PreferredSource = preferred };
    }

    private static readonly IPAddress LinkLocalPrefix = IPAddress.Parse("fe80::");
    private static readonly IPAddress MulticastPrefix = IPAddress.Parse("ff00::");

    private IPAddress? Shared(IPAddress? address, int index)
    {
        if (address is null)
            return null;
        if (address.Equals(LinkLocalPrefix))
            return LinkLocalPrefix;
        if (address.Equals(MulticastPrefix))
            return MulticastPrefix;
        foreach (var own in Addresses(index))
        {
            if (own.Address.Equals(address))
                return own.Address;
            if (own.Broadcast is { } broadcast && broadcast.Equals(address))
                return broadcast;
        }
        return address;
    }

    private void ReplaceSlot(RouteMessage route, List<KernelChange> changes)
    {
        foreach (var old in _routes.InSlot(route).ToList())
        {
            if (RouteIdentity.Instance.Equals(old, route))
                continue;
            _routes.Remove(old, out _);
            changes.Add(new RouteRemoved(NameOf(old.Links.FirstOrDefault()), old));
        }
    }

    /// <summary>Puts the address in place of the same one (<see cref="AddressKey"/>) of its link: false if it is new.</summary>
    private bool PutAddress(AddressMessage address)
    {
        var key = AddressKey.Of(address);
        if (!_addresses.TryGetValue(address.Index, out var present))
        {
            _addresses[address.Index] = [address];
            return false;
        }
        var at = Array.FindIndex(present, a => AddressKey.Of(a) == key);
        var replaced = at < 0 ? [.. present, address] : (AddressMessage[])present.Clone();
        if (at >= 0)
            replaced[at] = address;
        _addresses[address.Index] = replaced;
        return at >= 0;
    }

    /// <summary>Removes the same address (<see cref="AddressKey"/>) from its link; the one removed, if there was one.</summary>
    private AddressMessage? RemoveAddress(AddressMessage address)
    {
        var key = AddressKey.Of(address);
        if (!_addresses.TryGetValue(address.Index, out var present) || Array.FindIndex(present, a => AddressKey.Of(a) == key) is var at && at < 0)
            return null;
        if (present.Length == 1)
            _addresses.Remove(address.Index);
        else
            _addresses[address.Index] = [.. present[..at], .. present[(at + 1)..]];
        return present[at];
    }
}
