using System.Runtime.InteropServices;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>
/// One thread on which every lane's run goes on: the dispatcher starts each lane's drain here, and the awaits of a
/// run (a free slot, the script's exit, its output) resume here, as their continuations are posted to this context.
/// A run is a chain of a dozen short steps; on the thread pool each step that followed a wait woke a sleeping worker,
/// some fifty thread switches per served run, each costly on a virtual machine. Here a step that follows another
/// runs at once, and only what comes from outside (an exit or an output seen by their threads, a timer) wakes the
/// thread. The steps never wait: reading a directory, starting a script and writing a log line are what they do.
/// The thread sleeps in epoll_wait on one set with an eventfd, written by a post that finds it asleep, and the
/// pidfds and output streams of the scripts it started (<see cref="ChildExits"/>): a script's exit, its streams'
/// ends and the run's next step go in one wake-up of this thread, where they had taken a wake-up of an exit
/// thread, one of an output thread, and one or two of this thread, woken by them through a futex.
/// </summary>
public sealed class ScriptThread : SynchronizationContext, IDisposable
{
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();
    private readonly Thread _thread;
    private readonly Action<Exception> _unhandled;
    private readonly WatchSet _watches;
    private bool _stopped;
    // The thread is in epoll_wait (or about to be) with nothing queued; whether the eventfd was written since.
    private bool _sleeping;
    private bool _woken;
    private readonly Action _awake;

    /// <param name="unhandled">What a step threw that nothing awaited (a bug: steps are awaited or catch their own).</param>
    public ScriptThread(Action<Exception> unhandled)
    {
        _unhandled = unhandled;
        _awake = Awake;
        _watches = WatchSet.Create(wakeable: true) ?? throw new IOException($"epoll or eventfd: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        _thread = new Thread(Run, maxStackSize: 1024 * 1024) { IsBackground = true, Name = "scripts" };
        _thread.Start();
    }

    /// <summary>The watch set of the script thread this code runs on, or null anywhere else.</summary>
    internal static WatchSet? CurrentWatches =>
        Current is ScriptThread thread && thread._thread.ManagedThreadId == Environment.CurrentManagedThreadId ? thread._watches : null;

    /// <summary>Runs <paramref name="work"/> on the thread; the task completes when it has.</summary>
    public Task Start(Func<Task> work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(static async state =>
        {
            var (work, done) = ((Func<Task>, TaskCompletionSource))state!;
            try
            {
                await work();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, (work, done));
        return done.Task;
    }

    /// <summary>Queues a step; once stopped, steps go to the thread pool (nothing posted is ever dropped).</summary>
    public override void Post(SendOrPostCallback d, object? state)
    {
        lock (_queue)
        {
            if (!_stopped)
            {
                _queue.Enqueue((d, state));
                if (_sleeping && !_woken)
                {
                    _woken = true;
                    _watches.Wake();
                }
                return;
            }
        }
        ThreadPool.UnsafeQueueUserWorkItem(s => d(s), state, preferLocal: false);
    }

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("the script thread takes posted steps only");

    public override SynchronizationContext CreateCopy() => this;

    private unsafe void Run()
    {
        SetSynchronizationContext(this);
        var events = stackalloc byte[WatchSet.Batch * 16];
        while (true)
        {
            (SendOrPostCallback Callback, object? State) next;
            lock (_queue)
            {
                if (!_queue.TryDequeue(out next))
                {
                    // Stopped: once nothing is queued and no script is watched (its exit would be lost otherwise). Posts
                    // go to the thread pool from now on, and nothing writes the eventfd.
                    if (_stopped && _watches.Count == 0)
                    {
                        _watches.Close();
                        return;
                    }
                    _sleeping = true;
                }
            }
            if (next.Callback is null)
            {
                Wait(events);
                continue;
            }
            try
            {
                next.Callback(next.State);
            }
            catch (Exception e)
            {
                _unhandled(e);
            }
        }
    }

    /// <summary>Sleeps until a post or a watched descriptor wakes the thread, and serves the descriptors ready.</summary>
    private unsafe void Wait(byte* events)
    {
        if (_watches.Serve(events, _awake))
            return;
        // Never seen: reported, and not retried in a busy loop.
        _unhandled(new IOException($"epoll_wait: {Libc.Describe(Marshal.GetLastPInvokeError())}"));
        Thread.Sleep(100);
    }

    private void Awake()
    {
        lock (_queue)
        {
            _sleeping = false;
            _woken = false;
        }
    }

    /// <summary>The thread ends once what is queued has run and no script it started is still watched; later steps run on the thread pool.</summary>
    public void Dispose()
    {
        lock (_queue)
        {
            _stopped = true;
            if (_sleeping && !_woken)
            {
                _woken = true;
                _watches.Wake();
            }
        }
    }
}
