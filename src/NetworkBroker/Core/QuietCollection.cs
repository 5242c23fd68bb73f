using System.Diagnostics;
using NetworkBroker.Events;
using NetworkBroker.Hosting;
using NetworkBroker.Logging;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// The GC's memory a burst of events filled (the 1 MiB gen0 budget, what it promoted) returned once the daemon is quiet
/// again: one aggressive collection (compacting, and decommitting what is then free) when no event came and no run
/// ended for <see cref="DefaultQuiet"/>, and at least <see cref="Worth"/> was allocated since the last one. Without it
/// those pages stay committed until the next collection, which an idle daemon may not reach for hours: beside 1,000
/// links the RSS after 20 flaps was about 12 MiB, with it about 11 MiB (bench/e2e/memory.py). Never within a second of
/// an event or of a run's end (a script running for longer, its runs queued behind it, may see one: about 3 ms beside
/// 1,000 links), and at most one collection per megabyte allocated: a link that flaps every few seconds costs one
/// collection every few runs, not one per run. Enabled once the start's own collection (<c>StartupGarbage</c>) is done;
/// told of the activity by the daemon's <see cref="ActivityStream"/>.
/// </summary>
public sealed class QuietCollection : IActivityObserver
{
    public static readonly TimeSpan DefaultQuiet = TimeSpan.FromSeconds(1);

    /// <summary>The gen0 budget (the binary's GCgen0size): less than that allocated, and the collector has little to return.</summary>
    public const long Worth = 1024 * 1024;

    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(100);

    private readonly TimeSpan _quiet;
    private readonly Action<TimeSpan, Action> _after;
    private readonly Func<long> _allocated;
    private readonly Action _collect;
    private readonly Func<long> _now;
    private readonly Logger? _log;
    private long _lastActivity;
    private int _armed;
    private int _enabled;
    private long _allocatedAtLast;
    private long _collections;

    /// <param name="after">Runs a step after a delay (the daemon's timer thread).</param>
    /// <param name="allocated">The bytes allocated since start (<see cref="GC.GetTotalAllocatedBytes"/>; tests give their own).</param>
    /// <param name="collect">The collection (tests count it instead).</param>
    /// <param name="log">Each collection, at debug: what it found and what it returned.</param>
    /// <param name="now">The clock, as <see cref="Stopwatch.GetTimestamp"/> (tests move their own).</param>
    public QuietCollection(TimeSpan? quiet = null, Action<TimeSpan, Action>? after = null, Func<long>? allocated = null, Action? collect = null,
        Func<long>? now = null, Logger? log = null)
    {
        _log = log;
        _now = now ?? Stopwatch.GetTimestamp;
        _quiet = quiet ?? DefaultQuiet;
        _after = after ?? ((delay, step) => TimerThread.Shared.After(delay, Slack, step));
        _allocated = allocated ?? (() => GC.GetTotalAllocatedBytes());
        _collect = collect ?? (() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true));
    }

    /// <summary>The collections made so far.</summary>
    public long Collections => Interlocked.Read(ref _collections);

    /// <summary>From now on, quiet after activity collects (called once the start's own collection is done).</summary>
    public void Enable()
    {
        Interlocked.Exchange(ref _allocatedAtLast, _allocated());
        Volatile.Write(ref _enabled, 1);
    }

    /// <summary>An event was handled or a run ended (any thread; two interlocked writes when a check is already due).</summary>
    public void Activity()
    {
        if (Volatile.Read(ref _enabled) == 0)
            return;
        Volatile.Write(ref _lastActivity, _now());
        if (Interlocked.Exchange(ref _armed, 1) == 0)
            _after(_quiet, Check);
    }

    void IActivityObserver.Observed(BrokerEvent brokerEvent) => Activity();

    void IActivityObserver.ScriptsRan(ScriptEvent scriptEvent, IReadOnlyList<ScriptResult> results) => Activity();

    private void Check()
    {
        var last = Volatile.Read(ref _lastActivity);
        var quiet = Stopwatch.GetElapsedTime(last, _now());
        if (quiet < _quiet)
        {
            _after(_quiet - quiet, Check);
            return;
        }
        // A full fence (not a release write): the read below must not come before the disarm.
        Interlocked.Exchange(ref _armed, 0);
        // Activity between the look at the clock and the disarm did not arm a check: this one waits for it instead.
        if (Volatile.Read(ref _lastActivity) != last)
        {
            if (Interlocked.Exchange(ref _armed, 1) == 0)
                _after(_quiet, Check);
            return;
        }
        var since = _allocated() - Interlocked.Read(ref _allocatedAtLast);
        if (since < Worth)
            return;
        // As of the collector's previous collection (the last gen0 one of the burst, most often): what it had committed then.
        var committed = _log?.IsEnabled(LogLevel.Debug) == true ? GC.GetGCMemoryInfo().TotalCommittedBytes : 0;
        var started = Stopwatch.GetTimestamp();
        _collect();
        Interlocked.Exchange(ref _allocatedAtLast, _allocated());
        Interlocked.Increment(ref _collections);
        if (_log?.IsEnabled(LogLevel.Debug) == true)
            _log.Debug($"Quiet after events: collected the {since / 1024} KiB allocated since the last collection in " +
                $"{Stopwatch.GetElapsedTime(started).TotalMilliseconds:0.0} ms; the GC's committed memory {committed / 1024} -> " +
                $"{GC.GetGCMemoryInfo().TotalCommittedBytes / 1024} KiB");
    }
}
