using System.Diagnostics;
using System.Runtime.CompilerServices;
using NetworkBroker.Logging;

namespace NetworkBroker.Core;

/// <summary>
/// Makes "the loop never waits" checkable. The broker marks its thread while it handles an event
/// (<see cref="Handling"/>), and every call that may block says so first (<see cref="Blocking"/>): a netlink
/// request or dump, a read of a file a peer writes, sysfs, a script directory, a wait for room on the channel.
/// Such a call made on the loop is counted, and the first ones are named and logged as an error with the stack
/// that made them. It is never refused: a daemon that blocks for a moment still works, one that throws does not.
/// <c>status</c> shows the count, and the tests that churn a real kernel fail on any.
/// </summary>
public static class LoopGuard
{
    /// <summary>How many different sites are named and logged; later ones are only counted.</summary>
    public const int SitesKept = 8;

    // Set on the loop's thread for exactly as long as one event is handled: handling never awaits, so the
    // thread that starts an event is the one that ends it. The loop's log, for saying so.
    [ThreadStatic]
    private static Logger? t_loop;

    private static readonly Lock s_gate = new();
    private static readonly List<string> s_sites = [];
    private static long s_violations;

    /// <summary>Blocking calls made on the loop since start.</summary>
    public static long Violations => Interlocked.Read(ref s_violations);

    /// <summary>What the first few of them were (at most <see cref="SitesKept"/> different ones).</summary>
    public static IReadOnlyList<string> Sites
    {
        get
        {
            lock (s_gate)
                return [.. s_sites];
        }
    }

    /// <summary>Whether the calling thread is handling one of the broker's events now.</summary>
    public static bool OnLoop => t_loop is not null;

    /// <summary>Marks the calling thread as the loop until the scope is disposed (around one event's handling).</summary>
    public static Scope Handling(Logger log)
    {
        var previous = t_loop;
        t_loop = log;
        return new Scope(previous);
    }

    /// <summary>Restores what the thread was before (nested handling stays marked).</summary>
    public readonly struct Scope(Logger? previous) : IDisposable
    {
        public void Dispose() => t_loop = previous;
    }

    /// <summary>
    /// Said first by a call that may block. Off the loop it costs a thread-static read; on the loop it is counted
    /// and, the first time for <paramref name="what"/>, logged with <paramref name="detail"/> (a path, an ifindex).
    /// </summary>
    public static void Blocking(string what, string? detail = null)
    {
        if (t_loop is { } log)
            Violated(log, what, detail);
    }

    // Not inlined, so that the stack skipped is this method's frame alone (Blocking itself may be inlined into its caller).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Violated(Logger log, string what, string? detail)
    {
        Interlocked.Increment(ref s_violations);
        bool first;
        lock (s_gate)
        {
            first = s_sites.Count < SitesKept && !s_sites.Contains(what);
            if (first)
                s_sites.Add(what);
        }
        if (first)
            log.Error($"A blocking call on the broker's loop ({what}{(detail is null ? "" : ": " + detail)}): every event waits behind it; " +
                $"it belongs off the loop. Called from:\n{new StackTrace(1, false)}");
    }

    /// <summary>Forgets what was counted (tests of the guard itself).</summary>
    internal static void Reset()
    {
        lock (s_gate)
            s_sites.Clear();
        Interlocked.Exchange(ref s_violations, 0);
    }
}
