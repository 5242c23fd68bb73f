using NetworkBroker.Logging;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>
/// Makes the kernel's policy routing what is desired, touching only what the broker owns (protocol
/// <see cref="PolicyRoutingTags.Protocol"/>): reads the tagged rules and routes, removes those no longer
/// desired, adds those missing (routes before rules, so that a rule never points at an empty table).
/// Running it twice changes nothing. A kernel refusal is logged and retried on the next run. Something
/// that keeps deleting one of our rules is not fought in a loop: after a few restorations in a short
/// time that item is left alone for a while, longer each time.
/// </summary>
public sealed class PolicyRoutingReconciler(IRoutingTables tables, Logger log, Func<int, string?> linkName, Func<uint> tableBase,
    Func<DateTime>? clock = null)
{
    private const int RestoresBeforeBackoff = 5;
    private static readonly TimeSpan RestoreWindow = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LongestBackoff = TimeSpan.FromMinutes(5);

    private readonly Func<DateTime> _now = clock ?? (() => DateTime.UtcNow);
    private readonly Dictionary<object, List<DateTime>> _restores = [];
    private readonly Dictionary<object, (DateTime Until, TimeSpan Length)> _backoff = [];
    private PolicyRoutingState _applied = PolicyRoutingState.Empty;

    public sealed record Result(int Added, int Removed, int Failed, int Deferred);

    public Result Reconcile(PolicyRoutingState desired)
    {
        var rules = tables.DumpRules().Where(r => r.Protocol == PolicyRoutingTags.Protocol).ToList();
        var routes = tables.DumpRoutes().Where(r => r.Protocol == PolicyRoutingTags.Protocol).ToList();
        int added = 0, removed = 0, failed = 0, deferred = 0;

        foreach (var rule in rules)
        {
            if (PolicyRule.Of(rule) is { } known && desired.Rules.Contains(known))
                continue;
            Try(() => tables.Apply(s => rule.Encode(NetlinkMessageType.DelRule, NetlinkFlags.None, s), $"remove rule {Describe(rule)}"),
                rule.Table, $"removed stale rule {Describe(rule)}", ref removed, ref failed);
        }
        foreach (var route in routes)
        {
            if (desired.Routes.Contains(PolicyRoute.Of(route)))
                continue;
            Try(() => tables.Apply(s => route.Encode(NetlinkMessageType.DelRoute, NetlinkFlags.None, s), $"remove route {PolicyRoute.Of(route)}"),
                route.Table, $"removed stale route {PolicyRoute.Of(route)}", ref removed, ref failed);
        }

        var presentRoutes = routes.Select(PolicyRoute.Of).ToHashSet();
        foreach (var route in desired.Routes.Where(r => !presentRoutes.Contains(r)).OrderBy(r => r.Gateway is null ? 0 : 1))
        {
            if (Deferred(route, _applied.Routes.Contains(route)))
            {
                deferred++;
                continue;
            }
            Try(() => tables.Apply(s => route.ToMessage().Encode(NetlinkMessageType.NewRoute, NetlinkFlags.Create | NetlinkFlags.Replace, s),
                $"add route {route}"), route.Table, $"added route {route}", ref added, ref failed);
        }
        var presentRules = rules.Select(PolicyRule.Of).OfType<PolicyRule>().ToHashSet();
        foreach (var rule in desired.Rules.Where(r => !presentRules.Contains(r)))
        {
            if (Deferred(rule, _applied.Rules.Contains(rule)))
            {
                deferred++;
                continue;
            }
            Try(() => tables.Apply(s => rule.ToMessage().Encode(NetlinkMessageType.NewRule, NetlinkFlags.Create | NetlinkFlags.Exclusive, s),
                $"add rule {rule}"), rule.Table, $"added rule {rule}", ref added, ref failed);
        }

        _applied = desired;
        return new Result(added, removed, failed, deferred);
    }

    /// <summary>
    /// An item we had in place is missing again: someone removed it. Restore it, unless that happened too
    /// often lately; then leave it for a growing while (and say so once).
    /// </summary>
    private bool Deferred(object item, bool wasInPlace)
    {
        var now = _now();
        if (_backoff.TryGetValue(item, out var backoff) && now < backoff.Until)
            return true;
        if (!wasInPlace)
            return false;
        if (!_restores.TryGetValue(item, out var times))
            _restores[item] = times = [];
        times.RemoveAll(t => now - t > RestoreWindow);
        times.Add(now);
        if (times.Count <= RestoresBeforeBackoff)
            return false;
        var length = backoff.Length == TimeSpan.Zero ? FirstBackoff : TimeSpan.FromTicks(Math.Min(backoff.Length.Ticks * 2, LongestBackoff.Ticks));
        _backoff[item] = (now + length, length);
        times.Clear();
        log.Warn($"policy routing: {item} was removed by something else {RestoresBeforeBackoff + 1} times within {RestoreWindow.TotalSeconds:0} s; " +
                 $"not restoring it for {length.TotalSeconds:0} s");
        return true;
    }

    private void Try(Action apply, uint table, string done, ref int count, ref int failed)
    {
        var link = table > tableBase() ? linkName((int)(table - tableBase())) : null;
        try
        {
            apply();
            count++;
            Write(link, (int)(table - tableBase()), LogLevel.Info, $"policy routing: {done}");
        }
        catch (NetlinkException e)
        {
            failed++;
            Write(link, (int)(table - tableBase()), LogLevel.Warn, $"policy routing: {e.Message}; will retry on the next change");
        }
    }

    private void Write(string? link, int ifindex, LogLevel level, string message) =>
        log.Write(level, link, link is null ? 0 : ifindex, message);

    private static string Describe(RuleMessage rule) => PolicyRule.Of(rule)?.ToString() ?? $"table {rule.Table} priority {rule.Priority}";
}
