using System.Net;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Kernel;

/// <summary>
/// The kernel model's routes, with an index for each question asked of them on the loop, so that none costs a
/// pass over a full table (200,000 routes in main on a router): by link (a link's routes, what a link going down
/// flushes), by preferred source (what an address going flushes), the default routes (a policy-routed link's
/// gateway), and the routes outside the main and local tables (policy routing's own). The indexes hold the
/// route objects by reference: about 24 bytes per route and index.
/// </summary>
internal sealed class RouteStore
{
    private readonly Dictionary<RouteKey, RouteMessage> _routes = [];
    private readonly Dictionary<int, HashSet<RouteMessage>> _byLink = [];
    private readonly Dictionary<IPAddress, HashSet<RouteMessage>> _byPreferredSource = [];
    private readonly HashSet<RouteMessage> _defaults = NewSet();
    private readonly HashSet<RouteMessage> _outsideMain = NewSet();
    // NLM_F_REPLACE's slot -> the route in it (a RouteMessage), or the routes (a List) when several share it: the
    // kernel marks most route notifications REPLACE, so this is asked for nearly every route that comes.
    private readonly Dictionary<(byte, uint, IPAddress?, byte, IPAddress?, byte, byte, uint), object> _bySlot = [];

    private static HashSet<RouteMessage> NewSet() => new(ReferenceEqualityComparer.Instance);

    public int Count => _routes.Count;

    public IEnumerable<RouteMessage> All => _routes.Values;

    public IEnumerable<KeyValuePair<RouteKey, RouteMessage>> Pairs => _routes;

    public bool Contains(RouteKey key) => _routes.ContainsKey(key);

    public IEnumerable<RouteMessage> OfLink(int index) => _byLink.TryGetValue(index, out var routes) ? routes : [];

    public IEnumerable<RouteMessage> WithPreferredSource(IPAddress address) =>
        _byPreferredSource.TryGetValue(address, out var routes) ? routes : [];

    public IEnumerable<RouteMessage> Defaults => _defaults;

    /// <summary>The routes in the slot NLM_F_REPLACE matches on (<see cref="RouteKey.Slot"/>).</summary>
    public IReadOnlyList<RouteMessage> InSlot((byte, uint, IPAddress?, byte, IPAddress?, byte, byte, uint) slot) =>
        _bySlot.TryGetValue(slot, out var found) ? found as List<RouteMessage> ?? [(RouteMessage)found] : [];

    /// <summary>Routes in tables other than main (254) and local (255).</summary>
    public IEnumerable<RouteMessage> OutsideMain => _outsideMain;

    public void Put(RouteKey key, RouteMessage route)
    {
        if (_routes.Remove(key, out var old))
            Unindex(old);
        _routes[key] = route;
        Index(route);
    }

    public bool Remove(RouteKey key, out RouteMessage? route)
    {
        if (!_routes.Remove(key, out route))
            return false;
        Unindex(route);
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
        var slot = RouteKey.Of(route).Slot;
        if (!_bySlot.TryGetValue(slot, out var present))
            _bySlot[slot] = route;
        else if (present is List<RouteMessage> several)
            several.Add(route);
        else
            _bySlot[slot] = new List<RouteMessage> { (RouteMessage)present, route };
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
        var slot = RouteKey.Of(route).Slot;
        if (_bySlot.TryGetValue(slot, out var present))
        {
            if (present is List<RouteMessage> several)
            {
                several.RemoveAll(r => ReferenceEquals(r, route));
                if (several.Count == 1)
                    _bySlot[slot] = several[0];
                else if (several.Count == 0)
                    _bySlot.Remove(slot);
            }
            else if (ReferenceEquals(present, route))
                _bySlot.Remove(slot);
        }
        foreach (var link in route.Links.Distinct())
            Remove(_byLink, link, route);
        if (route.PreferredSource is { } source)
            Remove(_byPreferredSource, source, route);
        _defaults.Remove(route);
        _outsideMain.Remove(route);
    }

    private static void Add<TKey>(Dictionary<TKey, HashSet<RouteMessage>> index, TKey key, RouteMessage route) where TKey : notnull
    {
        if (!index.TryGetValue(key, out var routes))
            index[key] = routes = NewSet();
        routes.Add(route);
    }

    private static void Remove<TKey>(Dictionary<TKey, HashSet<RouteMessage>> index, TKey key, RouteMessage route) where TKey : notnull
    {
        if (index.TryGetValue(key, out var routes) && routes.Remove(route) && routes.Count == 0)
            index.Remove(key);
    }
}
