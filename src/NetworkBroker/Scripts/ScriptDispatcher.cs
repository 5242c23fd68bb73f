using NetworkBroker.Logging;

namespace NetworkBroker.Scripts;

/// <summary>
/// Orders script runs: each link has a lane whose events run strictly one after another in the
/// order they were queued (a link's "carrier" scripts finish before its "routable" ones start),
/// while different links' lanes run in parallel, at most <c>maxParallel</c> scripts at a time.
/// Queuing never blocks the event source; a lane exists only while it has work. The lanes' steps run on one
/// <see cref="ScriptThread"/> (the scripts run in parallel; starting, awaiting and logging them does not need to).
/// </summary>
public sealed class ScriptDispatcher : IAsyncDisposable
{
    private sealed class Lane
    {
        public readonly Queue<ScriptEvent> Pending = new();
        public Task Drain = Task.CompletedTask;
    }

    private readonly ScriptRunner _runner;
    private readonly Logger _log;
    private readonly ScriptThread _thread;
    private readonly SemaphoreSlim _slots;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Lane> _lanes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _idle = NewIdle(completed: true);
    private bool _disposed;
    private readonly List<ScriptEvent> _notRun = [];

    /// <summary>After <see cref="DisposeAsync"/>: the events dropped at stop, queued or cut short (remembered as not run).</summary>
    public IReadOnlyList<ScriptEvent> NotRun
    {
        get
        {
            lock (_gate)
                return [.. _notRun];
        }
    }

    public ScriptDispatcher(ScriptRunner runner, Logger log, int maxParallel = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallel, 1);
        _runner = runner;
        _log = log;
        _thread = new ScriptThread(e => log.Error($"Running scripts failed: {e}"));
        _slots = new SemaphoreSlim(maxParallel, maxParallel);
    }

    private long _events;
    private long _scripts;
    private long _failed;
    private long _timedOut;
    private int _running;

    /// <summary>What ran since start (status, STATUS= lines); safe to read from any thread.</summary>
    public ScriptStatistics Statistics => new(Interlocked.Read(ref _events), Interlocked.Read(ref _scripts),
        Interlocked.Read(ref _failed), Interlocked.Read(ref _timedOut), Volatile.Read(ref _running));

    /// <summary>
    /// Called for every event handed over, before it runs: accepted into its lane, or refused because the dispatcher
    /// stops (such an event never completes: the restart memory keeps its link as not run).
    /// </summary>
    public event Action<ScriptEvent>? Enqueued;

    /// <summary>Called after each queued event's scripts ran (tests and the monitor use it).</summary>
    public event Action<ScriptEvent, IReadOnlyList<ScriptResult>>? Completed;

    /// <summary>
    /// Whether an event of <paramref name="state"/>, with no one waiting on it, would be dropped at once by
    /// <see cref="Enqueue"/>: its maker need not make it. Never waits (one poll).
    /// </summary>
    public bool HoldsNothing(string state)
    {
        lock (_gate)
            return !_stopping.IsCancellationRequested && _runner.HoldsNothing(state);
    }

    /// <summary>
    /// Queues an event behind the others of its link. False once stopping: no new runs start then. An event whose
    /// state is known to hold nothing to run (<see cref="ScriptRunner.HoldsNothing"/>), with no one waiting on it, is
    /// dropped at once: nothing would run, so there is nothing to order, to remember as in flight or to report
    /// (neither <see cref="Enqueued"/> nor <see cref="Completed"/>). A queued event's scripts are chosen when it
    /// starts; a dropped one's were none when it came.
    /// </summary>
    public bool Enqueue(ScriptEvent scriptEvent)
    {
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
            {
                Enqueued?.Invoke(scriptEvent);
                scriptEvent.Observer?.Complete("the daemon is stopping");
                _notRun.Add(scriptEvent);
                return false;
            }
            if (QueueAnyway(scriptEvent))
            {
                var key = scriptEvent.OrderingKey;
                Enqueued?.Invoke(scriptEvent);
                // A lane is in the table exactly while its drain runs: a new lane needs a drain, an existing one has one.
                if (_lanes.TryGetValue(key, out var lane))
                {
                    lane.Pending.Enqueue(scriptEvent);
                    return true;
                }
                lane = new Lane();
                lane.Pending.Enqueue(scriptEvent);
                _lanes.Add(key, lane);
                if (_idle.Task.IsCompleted)
                    _idle = NewIdle(completed: false);
                lane.Drain = _thread.Start(() => DrainAsync(key, lane));
                return true;
            }
        }
        _runner.Skipped(scriptEvent);
        return true;
    }

    /// <summary>Whether the event must go through its lane: its state may have a script, or someone waits on it.</summary>
    private bool QueueAnyway(ScriptEvent scriptEvent) => scriptEvent.Observer is not null || !_runner.HoldsNothing(scriptEvent.State);

    /// <summary>
    /// Runs <paramref name="step"/> on the script thread, before the runs enqueued after it start: posted from
    /// <see cref="Enqueued"/>, it goes in the same wake-up of that thread as the run it comes with.
    /// </summary>
    public void Post(Action step) => _thread.Post(static s => ((Action)s!)(), step);

    /// <summary>Completes when no event is queued or running.</summary>
    public Task WhenIdle()
    {
        lock (_gate)
            return _idle.Task;
    }

    private async Task DrainAsync(string key, Lane lane)
    {
        while (true)
        {
            ScriptEvent next;
            lock (_gate)
            {
                if (!lane.Pending.TryPeek(out next!))
                {
                    _lanes.Remove(key);
                    Core.BurstCapacity.TrimAfterBurst(_lanes);
                    if (_lanes.Count == 0)
                        _idle.TrySetResult();
                    return;
                }
            }

            try
            {
                // Without ConfigureAwait(false) here and in the runner: each step resumes on the script thread.
                await _slots.WaitAsync(_stopping.Token);
                try
                {
                    Interlocked.Increment(ref _running);
                    IReadOnlyList<ScriptResult> results;
                    try
                    {
                        var cut = false;
                        results = await _runner.RunAsync(next, _stopping.Token, () =>
                        {
                            cut = true;
                            lock (_gate)
                                _notRun.Add(next);
                        });
                        next.Observer?.Complete(cut ? "the daemon is stopping" : null);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _running);
                    }
                    Count(results);
                    Completed?.Invoke(next, results);
                }
                finally
                {
                    _slots.Release();
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                next.Observer?.Complete("the daemon is stopping");
                lock (_gate)
                    _notRun.Add(next);
            }
            catch (Exception e)
            {
                next.Observer?.Complete($"running {next.State}.d failed: {e.Message}");
                // One bad event must not stall its link's lane for good.
                _log.Write(LogLevel.Error, next.Link, next.IfIndex, $"Running {next.State}.d failed: {e.Message}");
            }

            lock (_gate)
            {
                lane.Pending.Dequeue();
                if (_stopping.IsCancellationRequested && lane.Pending.Count > 0)
                {
                    _log.Write(LogLevel.Warn, next.Link, next.IfIndex, $"Shutting down: {lane.Pending.Count} queued event(s) not run");
                    _notRun.AddRange(lane.Pending);
                    foreach (var dropped in lane.Pending)
                        dropped.Observer?.Complete("the daemon is stopping");
                    lane.Pending.Clear();
                }
            }
        }
    }

    private void Count(IReadOnlyList<ScriptResult> results)
    {
        if (results.Count == 0)
            return;
        Interlocked.Increment(ref _events);
        Interlocked.Add(ref _scripts, results.Count);
        foreach (var result in results)
        {
            if (!result.Succeeded)
                Interlocked.Increment(ref _failed);
            if (result.TimedOut)
                Interlocked.Increment(ref _timedOut);
        }
    }

    /// <summary>
    /// From now on no event is accepted and no script starts (the rest of a directory and queued events are
    /// dropped, and logged); scripts already running go on within their timeout. <see cref="DisposeAsync"/> waits for them.
    /// </summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (!_stopping.IsCancellationRequested)
                _stopping.Cancel();
        }
    }

    /// <summary>Stops (<see cref="Stop"/>) and waits until the scripts running finished. Calling it again does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        Task[] drains;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            if (!_stopping.IsCancellationRequested)
                _stopping.Cancel();
            drains = [.. _lanes.Values.Select(l => l.Drain)];
        }
        await Task.WhenAll(drains).ConfigureAwait(false);
        _thread.Dispose();
        _stopping.Dispose();
    }

    private static TaskCompletionSource NewIdle(bool completed)
    {
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
            idle.SetResult();
        return idle;
    }
}

/// <summary>Counts since start: events whose directory was run, scripts run, of those failed and timed out; scripts running now.</summary>
public readonly record struct ScriptStatistics(long Events, long Scripts, long Failed, long TimedOut, int Running);
