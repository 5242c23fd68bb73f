namespace NetworkBroker.Scripts;

/// <summary>
/// One thread on which every lane's run goes on: the dispatcher starts each lane's drain here, and the awaits of a
/// run (a free slot, the script's exit, its output) resume here, as their continuations are posted to this context.
/// A run is a chain of a dozen short steps; on the thread pool each step that followed a wait woke a sleeping worker,
/// some fifty thread switches per served run, each costly on a virtual machine. Here a step that follows another
/// runs at once, and only what comes from outside (an exit or an output seen by their threads, a timer) wakes the
/// thread. The steps never wait: reading a directory, starting a script and writing a log line are what they do.
/// </summary>
public sealed class ScriptThread : SynchronizationContext, IDisposable
{
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();
    private readonly Thread _thread;
    private readonly Action<Exception> _unhandled;
    private bool _stopped;

    /// <param name="unhandled">What a step threw that nothing awaited (a bug: steps are awaited or catch their own).</param>
    public ScriptThread(Action<Exception> unhandled)
    {
        _unhandled = unhandled;
        _thread = new Thread(Run, maxStackSize: 1024 * 1024) { IsBackground = true, Name = "scripts" };
        _thread.Start();
    }

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
                // The thread waits only on an empty queue.
                if (_queue.Count == 1)
                    Monitor.Pulse(_queue);
                return;
            }
        }
        ThreadPool.UnsafeQueueUserWorkItem(s => d(s), state, preferLocal: false);
    }

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("the script thread takes posted steps only");

    public override SynchronizationContext CreateCopy() => this;

    private void Run()
    {
        SetSynchronizationContext(this);
        while (true)
        {
            (SendOrPostCallback Callback, object? State) next;
            lock (_queue)
            {
                while (_queue.Count == 0)
                {
                    if (_stopped)
                        return;
                    Monitor.Wait(_queue);
                }
                next = _queue.Dequeue();
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

    /// <summary>The thread ends once what is queued has run; later steps run on the thread pool.</summary>
    public void Dispose()
    {
        lock (_queue)
        {
            _stopped = true;
            Monitor.Pulse(_queue);
        }
    }
}
