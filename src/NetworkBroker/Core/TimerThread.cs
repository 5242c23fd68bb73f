using System.Diagnostics;

namespace NetworkBroker.Core;

/// <summary>
/// The daemon's own timer, and the thread that runs what it times: the restart memory's writes, the loop's
/// delayed events (a routes window closing, an overdue barrier), systemd's STATUS line. A <c>Task.Delay</c> arms
/// the runtime's timer thread, whose expiry queues its continuation to the thread pool, and a pool worker that
/// takes an item wakes another in case more follow: four or five thread switches for each delayed step, about
/// half of all the switches of a served run (bench/e2e/wakeups.py), each costly on a virtual machine. Here a step
/// runs on the thread that waited for it; posting wakes the thread only when the step is due before anything it
/// waits for already. Steps are short and never wait for another thread: they write a small file or post to the
/// loop. Steps due at the same time run in the order they were posted.
/// </summary>
public sealed class TimerThread
{
    private readonly PriorityQueue<Action, (long Due, long Order)> _steps = new();
    private readonly Thread _thread;
    private long _posted;

    /// <summary>The daemon's one timer thread, started at its first use (a background thread: it never holds the process).</summary>
    public static TimerThread Shared => s_shared.Value;

    private static readonly Lazy<TimerThread> s_shared = new(() => new TimerThread("timers"));

    /// <summary>What a step of the shared thread threw that it did not catch (a bug: the steps catch what they expect);
    /// it does not end the thread. The daemon sets its log here.</summary>
    public static Action<Exception> Unhandled { get; set; } = e => Console.Error.WriteLine($"A timed step failed: {e}");

    private readonly Action<Exception>? _unhandled;

    /// <param name="unhandled">What a step threw (<see cref="Unhandled"/> if null).</param>
    public TimerThread(string name, Action<Exception>? unhandled = null)
    {
        _unhandled = unhandled;
        _thread = new Thread(Run, maxStackSize: 1024 * 1024) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="step"/> on this thread once the steps posted before it have run.</summary>
    public void Post(Action step) => At(Stopwatch.GetTimestamp(), step);

    /// <summary>Runs <paramref name="step"/> on this thread after <paramref name="delay"/>.</summary>
    public void After(TimeSpan delay, Action step) =>
        // Clamped to a year: a longer delay (TimeSpan.MaxValue) would overflow the timestamp and run at once.
        At(Stopwatch.GetTimestamp() + (long)(Math.Clamp(delay.TotalSeconds, 0, 365 * 86400.0) * Stopwatch.Frequency), step);

    /// <summary>Whether the caller is this thread (a step).</summary>
    public bool IsCurrent => Thread.CurrentThread == _thread;

    private void At(long due, Action step)
    {
        lock (_steps)
        {
            var order = _posted++;
            _steps.Enqueue(step, (due, order));
            // The thread waits for the earliest step; it is woken only when this one is earlier still.
            if (_steps.TryPeek(out _, out var first) && first.Order == order)
                Monitor.Pulse(_steps);
        }
    }

    private void Run()
    {
        while (true)
        {
            Action step;
            lock (_steps)
            {
                while (true)
                {
                    if (_steps.TryPeek(out _, out var key))
                    {
                        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), key.Due);
                        if (wait <= TimeSpan.Zero)
                            break;
                        // Rounded up: woken a millisecond late rather than early and again.
                        Monitor.Wait(_steps, (int)Math.Min(int.MaxValue, Math.Ceiling(wait.TotalMilliseconds)));
                    }
                    else
                        Monitor.Wait(_steps);
                }
                step = _steps.Dequeue();
            }
            try
            {
                step();
            }
            catch (Exception e)
            {
                (_unhandled ?? Unhandled)(e);
            }
        }
    }
}
