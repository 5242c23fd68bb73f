using System.Runtime.InteropServices;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>
/// Tells when a script's process exited, and reads what it prints. Each child gets a pidfd (readable once it
/// exited), and the daemon's ends of its stdout and stderr are read to their end, each line handed to the log.
/// A script started on the <see cref="ScriptThread"/> (every run of the daemon) is watched by that thread's own
/// epoll set, beside the wake-up of its posted steps: the exit, the streams' ends and the run's next step are one
/// wake-up of one thread. Anywhere else, two threads of their own: one for exits and one for output, so that a log
/// write that blocks (journald not reading) cannot delay an exit notice. On the script thread it can, and the
/// runner asks the kernel before it calls a script timed out (<see cref="ScriptProcess.HasExited"/>).
/// Measured before the threads, with a blocking waitpid on a thread of its own per script: starting that thread
/// was most of the daemon's CPU per event (the runtime yields in a loop until a new thread runs, which on a busy
/// machine is many times) and a thread's stack per running script. The output had been two sockets of the
/// runtime's socket engine per script: each registered with the engine's epoll, and each end of stream woke the
/// engine's thread and then a thread-pool worker. Only the pids given here are waited for: nothing else's child
/// is reaped.
/// </summary>
internal static unsafe class ChildExits
{
    private sealed class Child(int pid, Action<ScriptExit> exited) : WatchSet.Watched
    {
        public override bool Ready(byte* buffer, int size)
        {
            if (Reap(pid, wait: false) is { } exit)
                exited(exit);
            else
                // Exited but not yet to be reaped: a tracer (strace -p, gdb) holds it. Waited for on a thread of its
                // own, not on the watching thread, which serves every other script's exit and output meanwhile.
                new Thread(() => exited(Reap(pid, wait: true)!.Value), maxStackSize: 128 * 1024) { IsBackground = true, Name = "script-wait" }.Start();
            return true;
        }

        public override void Abandon() => exited(new ScriptExit(-1, 0));
    }

    private sealed class Output(int fd, OutputLineSplitter splitter, TaskCompletionSource<long> done) : WatchSet.Watched
    {
        public override bool Ready(byte* buffer, int size)
        {
            while (true)
            {
                // MSG_DONTWAIT: this end stays blocking for nothing, and a stale readiness can never stall the thread.
                var read = Libc.recv(fd, buffer, size, Libc.MSG_DONTWAIT);
                if (read > 0)
                {
                    splitter.Feed(new ReadOnlySpan<byte>(buffer, (int)read));
                    // Level-triggered: more is said again by the next epoll_wait; one read per turn keeps scripts fair.
                    return false;
                }
                if (read < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                        continue;
                    if (errno == EAGAIN)
                        return false;
                    // A reset stream ends like a closed one.
                }
                splitter.Complete();
                done.TrySetResult(splitter.DroppedBytes);
                return true;
            }
        }

        public override void Abandon() => done.TrySetResult(splitter.DroppedBytes);
    }

    private const int EAGAIN = 11;

    private static readonly EpollThread Exits = new("script-wait");
    private static readonly EpollThread Outputs = new("script-output");

    /// <summary>
    /// Calls <paramref name="exited"/> with how the child ended once it exited and was reaped (on the watching
    /// thread: keep it short). False when pidfds are not to be had (a kernel before 5.3): the caller waits itself.
    /// </summary>
    public static bool Watch(int pid, Action<ScriptExit> exited)
    {
        var pidfd = Libc.pidfd_open(pid);
        if (pidfd < 0)
            return false;
        if ((ScriptThread.CurrentWatches ?? Exits.Set)?.Add(pidfd, new Child(pid, exited)) == true)
            return true;
        Libc.close(pidfd);
        return false;
    }

    /// <summary>
    /// Reads the stream <paramref name="fd"/> (owned from here on: closed at its end) to its end on the watching
    /// thread, each line to <paramref name="line"/>; the task gives the bytes not logged. Null when there is no
    /// such thread: the caller still owns <paramref name="fd"/> and reads it itself.
    /// </summary>
    public static Task<long>? Read(int fd, Action<string> line)
    {
        // Continuations run on the watching thread, as for an exit (ScriptProcess): what awaits them resumes on the script thread.
        var done = new TaskCompletionSource<long>();
        var set = ScriptThread.CurrentWatches ?? Outputs.Set;
        return set?.Add(fd, new Output(fd, new OutputLineSplitter(line), done)) == true ? done.Task : null;
    }

    /// <summary>A watch set and the thread of its own that serves it, started with its first watch.</summary>
    private sealed class EpollThread(string threadName)
    {
        private readonly Lock _gate = new();
        private WatchSet? _set;

        public WatchSet? Set
        {
            get
            {
                lock (_gate)
                {
                    if (_set is null)
                    {
                        // Null again at the next watch when no set could be made (EMFILE): that one is tried anew.
                        _set = WatchSet.Create();
                        // 1 MiB reserved (only the pages touched count): with less, the runtime finds the stack too short to
                        // run a completed task's continuations here (TryEnsureSufficientExecutionStack wants 128 KiB left)
                        // and queues each to the thread pool: a worker woken, and another by it, for every exit.
                        if (_set is { } set)
                            new Thread(() => Run(set), maxStackSize: 1024 * 1024) { IsBackground = true, Name = threadName }.Start();
                    }
                    return _set;
                }
            }
        }

        private static void Run(WatchSet set)
        {
            var events = stackalloc byte[WatchSet.Batch * 16];
            while (set.Serve(events))
            {
            }
        }
    }

    /// <summary>
    /// Reaps the child <paramref name="pid"/>: its status once it exited; with <paramref name="wait"/> false, null while
    /// it cannot be reaped yet (running, or exited and held by a tracer). A child something else reaped (ECHILD) is gone
    /// with its status lost.
    /// </summary>
    internal static ScriptExit? Reap(int pid, bool wait)
    {
        int status;
        while (true)
        {
            var result = Libc.waitpid(pid, &status, wait ? 0 : Libc.WNOHANG);
            if (result == pid)
                return ScriptExit.FromWaitStatus(status);
            if (result == 0)
                return null;
            if (result < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR)
                continue;
            return new ScriptExit(-1, 0);
        }
    }
}
