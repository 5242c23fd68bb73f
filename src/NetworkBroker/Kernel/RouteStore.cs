using System.Diagnostics.CodeAnalysis;
using System.Net;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Kernel;

/// <summary>
/// The kernel model's routes, with an index for each question asked of them on the loop, so that none costs a
/// pass over a full table (200,000 routes in main on a router): by link (a link's routes, what a link going down
/// flushes), by preferred source (what an address going flushes), the default routes (a policy-routed link's
/// gateway), and the routes outside the main and local tables (policy routing's own). The indexes hold the
/// route objects by reference: about 8-24 bytes per route and index.
/// </summary>
internal sealed class RouteStore
{
    // Keyed by the routes themselves (RouteIdentity): 16 bytes per route, where a RouteKey beside each was 128.
    private readonly HashSet<RouteMessage> _routes = new(RouteIdentity.Instance);
    // ifindex (preferred source) -> its routes: a RouteMessage[] while few, a HashSet beyond (see FewRoutes).
    private readonly Dictionary<int, object> _byLink = [];
    private readonly Dictionary<IPAddress, object> _byPreferredSource = [];
    private readonly HashSet<RouteMessage> _defaults = NewSet();
    private readonly HashSet<RouteMessage> _outsideMain = NewSet();
    // NLM_F_REPLACE's slot (RouteSlot: a route of the slot stands for it) -> the route in it (a RouteMessage), or the
    // routes (a List) when several share it: the kernel marks most route notifications REPLACE, so this is asked for
    // nearly every route that comes.
    private readonly Dictionary<RouteMessage, object> _bySlot = new(RouteSlot.Instance);

    private static HashSet<RouteMessage> NewSet() => new(ReferenceEqualityComparer.Instance);

    public int Count => _routes.Count;

    public IEnumerable<RouteMessage> All => _routes;

    /// <summary>Whether a route the same as <paramref name="route"/> (<see cref="RouteKey"/>) is in the store.</summary>
    public bool Contains(RouteMessage route) => _routes.Contains(route);

    public IEnumerable<RouteMessage> OfLink(int index) => Get(_byLink, index);

    public IEnumerable<RouteMessage> WithPreferredSource(IPAddress address) => Get(_byPreferredSource, address);

    public IEnumerable<RouteMessage> Defaults => _defaults;

    /// <summary>The routes in the slot NLM_F_REPLACE matches on (<see cref="RouteKey.Slot"/>) that <paramref name="route"/> is in.</summary>
    public IReadOnlyList<RouteMessage> InSlot(RouteMessage route) =>
        _bySlot.TryGetValue(route, out var found) ? found as List<RouteMessage> ?? [(RouteMessage)found] : [];

    /// <summary>Routes in tables other than main (254) and local (255).</summary>
    public IEnumerable<RouteMessage> OutsideMain => _outsideMain;

    /// <summary>Puts the route in place of the one the same as it, if any.</summary>
    public void Put(RouteMessage route)
    {
        if (_routes.TryGetValue(route, out var old))
        {
            _routes.Remove(old);
            Unindex(old);
        }
        _routes.Add(route);
        Index(route);
    }

    /// <summary>Removes the route the same as <paramref name="route"/> (<see cref="RouteKey"/>); <paramref name="removed"/> is the one stored.</summary>
    public bool Remove(RouteMessage route, [NotNullWhen(true)] out RouteMessage? removed)
    {
        if (!_routes.TryGetValue(route, out removed))
            return false;
        _routes.Remove(removed);
        Unindex(removed);
        return true;
    }

    public void Clear()
    {
        _routes.Clear();
        _byLink.Clear();
        _byPreferredSource.Clear();
        _defaults.Clear();
        _outsideMain.Clear();
        _bySlot.Clear();
    }

    private void Index(RouteMessage route)
    {
        if (!_bySlot.TryGetValue(route, out var present))
            _bySlot[route] = route;
        else if (present is List<RouteMessage> several)
            several.Add(route);
        else
            _bySlot[route] = new List<RouteMessage> { (RouteMessage)present, route };
        foreach (var link in route.Links.Distinct())
            Add(_byLink, link, route);
        if (route.PreferredSource is { } source)
            Add(_byPreferredSource, source, route);
        if (route.IsDefault)
            _defaults.Add(route);
        if (route.Table is not (RouteTable.Main or RouteTable.Local))
            _outsideMain.Add(route);
    }

    private void Unindex(RouteMessage route)
    {
        if (_bySlot.Remove(route, out var present))
        {
            // Put back under a route that stays: the key is a route object, and a removed one must not be kept by it.
            if (present is List<RouteMessage> several)
            {
                several.RemoveAll(r => ReferenceEquals(r, route));
                if (several.Count == 1)
                    _bySlot[several[0]] = several[0];
                else if (several.Count > 1)
                    _bySlot[several[0]] = several;
            }
            else if (!ReferenceEquals(present, route))
                _bySlot[(RouteMessage)present] = present;
        }
        foreach (var link in route.Links.Distinct())
            Remove(_byLink, link, route);
        if (route.PreferredSource is { } source)
            Remove(_byPreferredSource, source, route);
        _defaults.Remove(route);
        _outsideMain.Remove(route);
    }

    // A link's or an address's routes: an array while they are few (a link has a handful: 56 bytes for four, where a
    // set was 250), copied on each change; a set beyond that (a router's uplink with the full table), so that no
    // change costs a pass over many.
    private const int FewRoutes = 16;

    private static IEnumerable<RouteMessage> Get<TKey>(Dictionary<TKey, object> index, TKey key) where TKey : notnull =>
        index.TryGetValue(key, out var routes) ? (IEnumerable<RouteMessage>)routes : [];

    private static void Add<TKey>(Dictionary<TKey, object> index, TKey key, RouteMessage route) where TKey : notnull
    {
        if (!index.TryGetValue(key, out var routes))
            index[key] = new[] { route };
        else if (routes is HashSet<RouteMessage> many)
            many.Add(route);
        else if (routes is RouteMessage[] few && Find(few, route) < 0)
        {
            RouteMessage[] more = [.. few, route];
            index[key] = more.Length <= FewRoutes ? more : new HashSet<RouteMessage>(more, ReferenceEqualityComparer.Instance);
        }
    }

    private static int Find(RouteMessage[] routes, RouteMessage route)
    {
        for (var i = 0; i < routes.Length; i++)
            if (ReferenceEquals(routes[i], route))
                return i;
        return -1;
    }

    private static void Remove<TKey>(Dictionary<TKey, object> index, TKey key, RouteMessage route) where TKey : notnull
    {
        if (!index.TryGetValue(key, out var routes))
            return;
        if (routes is HashSet<RouteMessage> many)
        {
            if (many.Remove(route) && many.Count == 0)
                index.Remove(key);
        }
        else if (routes is RouteMessage[] few && Find(few, route) is var at and >= 0)
        {
            if (few.Length == 1)
                index.Remove(key);
            else
                index[key] = (RouteMessage[])[.. few[..at], .. few[(at + 1)..]];
        }
    }
}
