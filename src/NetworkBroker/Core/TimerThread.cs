using System.Diagnostics;

namespace NetworkBroker.Core;

/// <summary>
/// The daemon's own timer, and the thread that runs what it times: the restart memory's writes, the loop's
/// delayed events (a routes window closing, an overdue barrier), systemd's STATUS line. A <c>Task.Delay</c> arms
/// the runtime's timer thread, whose expiry queues its continuation to the thread pool, and a pool worker that
/// takes an item wakes another in case more follow: four or five thread switches for each delayed step, about
/// half of all the switches of a served run (bench/e2e/wakeups.py), each costly on a virtual machine. Here a step
/// runs on the thread that waited for it. The thread waits in a read of a timerfd set for its earliest step, so a
/// step posted for later than that costs nothing but the queue, and one due earlier sets the timer (one system
/// call), never a wake-up of the thread to wait again (a third of a served run's wake-ups of this thread). A step
/// may also say how much later than its time it may run (its slack): the thread wakes for the earliest latest time,
/// and then runs every step that is due, so that the restart memory's write, the STATUS line and the overdue-barrier
/// check of one burst share a wake-up instead of one each. Steps are short and never wait for another thread: they
/// write a small file or post to the loop. Steps that are due run in the order of their time, those due at the same
/// time in the order they were posted.
/// </summary>
public sealed unsafe class TimerThread
{
    private sealed class Step(Action run, long due, long latest)
    {
        public readonly Action Run = run;
        public readonly long Due = due;
        public readonly long Latest = latest;
        public bool Taken;
    }

    // The same steps twice: by the time they may run, from which they are taken, and by the latest time they must,
    // which sets the timer (a step already taken is dropped from it when it comes to the top).
    private readonly PriorityQueue<Step, (long Due, long Order)> _steps = new();
    private readonly PriorityQueue<Step, (long Latest, long Order)> _deadlines = new();
    private readonly Thread _thread;
    private readonly int _timer;
    private long _posted;
    // The expiry the timerfd is set to (Stopwatch ticks), 0 when unset; under the lock.
    private long _armed;

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
        _timer = Native.Libc.timerfd_create(Native.Libc.CLOCK_MONOTONIC, Native.Libc.TFD_CLOEXEC);
        if (_timer < 0)
            throw new IOException($"timerfd_create: {Native.Libc.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
        _thread = new Thread(Run, maxStackSize: 1024 * 1024) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="step"/> on this thread once the steps posted before it have run.</summary>
    public void Post(Action step) => At(Stopwatch.GetTimestamp(), 0, step);

    /// <summary>Runs <paramref name="step"/> on this thread after <paramref name="delay"/>.</summary>
    public void After(TimeSpan delay, Action step) => After(delay, TimeSpan.Zero, step);

    /// <summary>
    /// Runs <paramref name="step"/> on this thread after <paramref name="delay"/>, and at the latest
    /// <paramref name="slack"/> after that: earlier when the thread wakes meanwhile for another step.
    /// </summary>
    public void After(TimeSpan delay, TimeSpan slack, Action step) =>
        At(Stopwatch.GetTimestamp() + Ticks(delay), Ticks(slack), step);

    // Clamped to a year: a longer delay (TimeSpan.MaxValue) would overflow the timestamp and run at once.
    private static long Ticks(TimeSpan span) => (long)(Math.Clamp(span.TotalSeconds, 0, 365 * 86400.0) * Stopwatch.Frequency);

    /// <summary>Whether the caller is this thread (a step).</summary>
    public bool IsCurrent => Thread.CurrentThread == _thread;

    private void At(long due, long slack, Action run)
    {
        lock (_steps)
        {
            var order = _posted++;
            var step = new Step(run, due, due + slack);
            _steps.Enqueue(step, (due, order));
            _deadlines.Enqueue(step, (step.Latest, order));
            // The timer is set for the earliest latest time; only an earlier one sets it again.
            if (_armed == 0 || step.Latest < _armed)
                Arm(step.Latest);
        }
    }

    private void Run()
    {
        while (true)
        {
            if (Next() is not { } step)
            {
                WaitForTimer();
                continue;
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

    /// <summary>The earliest step if it is due; else null, with the timer set for the earliest latest time (or unset: none is queued).</summary>
    private Action? Next()
    {
        lock (_steps)
        {
            if (_steps.TryPeek(out var first, out _) && first.Due <= Stopwatch.GetTimestamp())
            {
                _steps.Dequeue();
                first.Taken = true;
                return first.Run;
            }
            while (_deadlines.TryPeek(out var soonest, out _) && soonest.Taken)
                _deadlines.Dequeue();
            Arm(_deadlines.TryPeek(out var next, out _) ? next.Latest : 0);
            return null;
        }
    }

    /// <summary>
    /// Sets the timerfd to expire at <paramref name="due"/> (Stopwatch ticks; 0 unsets it), unless it is so already.
    /// It cannot fail with a valid descriptor and time; if it did, the failure is reported and the thread, not
    /// trusting the timer, looks at its steps every few milliseconds (<see cref="WaitForTimer"/>) once its current
    /// wait ends. That wait is a read of the timer that failed: it ends at the expiry set before, and never if none
    /// was. Not tested: no way is known to make timerfd_settime fail on a valid timerfd and time.
    /// </summary>
    private void Arm(long due)
    {
        if (due == _armed)
            return;
        var nanoseconds = due == 0 ? 0 : Math.Max(1, (long)((Int128)due * 1_000_000_000 / Stopwatch.Frequency));
        var spec = new Native.Libc.TimerSpec { ValueSeconds = nanoseconds / 1_000_000_000, ValueNanoseconds = nanoseconds % 1_000_000_000 };
        // Stopwatch counts CLOCK_MONOTONIC on Linux: an expiry already past fires at once.
        if (Native.Libc.timerfd_settime(_timer, Native.Libc.TFD_TIMER_ABSTIME, &spec, null) == 0)
        {
            _armed = due;
            return;
        }
        _broken = true;
        (_unhandled ?? Unhandled)(new IOException($"timerfd_settime: {Native.Libc.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}"));
    }

    // The timerfd failed once: from then on the thread polls its steps instead of trusting it.
    private volatile bool _broken;

    /// <summary>Blocks until the timer expires (it is then unset); a step posted meanwhile for earlier set it sooner.</summary>
    private void WaitForTimer()
    {
        ulong expirations;
        while (!_broken && Native.Libc.read(_timer, (byte*)&expirations, sizeof(ulong)) < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == Native.Libc.EINTR)
                continue;
            _broken = true;
            (_unhandled ?? Unhandled)(new IOException($"reading the timerfd: {Native.Libc.Describe(errno)}"));
        }
        if (_broken)
            Thread.Sleep(5);
        lock (_steps)
            _armed = 0;
        Interlocked.Increment(ref _wakes);
    }

    private long _wakes;

    /// <summary>How often the thread woke from its wait (tests: a step posted earlier than the one waited for does not wake it).</summary>
    internal long Wakes => Interlocked.Read(ref _wakes);
}
