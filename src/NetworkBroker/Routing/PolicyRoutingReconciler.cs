using NetworkBroker.Logging;
using Libc = NetworkBroker.Native.Libc;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Routing;

/// <summary>
/// Makes the kernel's policy routing what is desired, touching only what the broker owns (protocol
/// <see cref="PolicyRoutingTags.Protocol"/>): given the tagged rules and routes the kernel has (the
/// broker's model knows them from notifications: nothing is dumped), removes those no longer desired and
/// adds those missing (routes before rules, so that a rule never points at an empty table). Running it
/// twice changes nothing; an add the kernel already has (EEXIST) or a delete of what is gone (ENOENT) is
/// done, not an error, since the model may lag the kernel by a notification. Another refusal is logged
/// and retried on the next run. Something that keeps deleting one of our rules is not fought in a loop:
/// after a few restorations in a short time that item is left alone for a while, longer each time.
/// </summary>
public sealed class PolicyRoutingReconciler(IRoutingTables tables, Logger log, Func<DateTime>? clock = null)
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

    /// <param name="present">The kernel's rules and routes as the model knows them (only the broker's are looked at).</param>
    public Result Reconcile(PolicyRoutingState desired, PolicyRoutingPresent present)
    {
        var rules = present.Rules.Where(r => r.Protocol == PolicyRoutingTags.Protocol).ToList();
        var routes = present.Routes.Where(r => r.Protocol == PolicyRoutingTags.Protocol).ToList();
        int added = 0, removed = 0, failed = 0, deferred = 0;

        foreach (var rule in rules)
        {
            if (PolicyRule.Of(rule) is { } known && desired.Rules.Contains(known))
                continue;
            Try(() => tables.DeleteRule(rule), present.LinkOf(rule.Table), $"remove stale rule {Describe(rule)}", ref removed, ref failed, Libc.ENOENT);
        }
        foreach (var route in routes)
        {
            if (desired.Routes.Contains(PolicyRoute.Of(route)))
                continue;
            Try(() => tables.DeleteRoute(route), present.LinkOf(route.Table), $"remove stale route {PolicyRoute.Of(route)}", ref removed, ref failed, Libc.ENOENT);
        }

        var presentRoutes = routes.Select(PolicyRoute.Of).ToHashSet();
        foreach (var route in desired.Routes.Where(r => !presentRoutes.Contains(r)).OrderBy(r => r.Gateway is null ? 0 : 1))
        {
            if (Deferred(route, _applied.Routes.Contains(route)))
            {
                deferred++;
                continue;
            }
            Try(() => tables.AddRoute(route.ToMessage()), present.LinkOf(route.Table), $"add route {route}", ref added, ref failed, Libc.EEXIST);
        }
        var presentRules = rules.Select(PolicyRule.Of).OfType<PolicyRule>().ToHashSet();
        foreach (var rule in desired.Rules.Where(r => !presentRules.Contains(r)))
        {
            if (Deferred(rule, _applied.Rules.Contains(rule)))
            {
                deferred++;
                continue;
            }
            Try(() => tables.AddRule(rule.ToMessage()), present.LinkOf(rule.Table), $"add rule {rule}", ref added, ref failed, Libc.EEXIST);
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

    /// <param name="already">The errno that means the change is already in the kernel (EEXIST for an add, ENOENT for a delete).</param>
    private void Try(Action apply, (int IfIndex, string? Name) link, string what, ref int count, ref int failed, int already)
    {
        try
        {
            apply();
            count++;
            Write(link, LogLevel.Info, $"policy routing: {what}: done");
        }
        catch (NetlinkException e) when (e.Errno == already)
        {
            Write(link, LogLevel.Debug, $"policy routing: {what}: already so ({e.ErrnoName})");
        }
        catch (NetlinkException e)
        {
            failed++;
            Write(link, LogLevel.Warn, $"policy routing: {what}: {e.ErrnoName} ({Errno.Describe(e.Errno)}); will retry on the next change");
        }
    }

    private void Write((int IfIndex, string? Name) link, LogLevel level, string message) =>
        log.Write(level, link.Name, link.Name is null ? 0 : link.IfIndex, message);

    private static string Describe(RuleMessage rule) => PolicyRule.Of(rule)?.ToString() ?? $"table {rule.Table} priority {rule.Priority}";
}
