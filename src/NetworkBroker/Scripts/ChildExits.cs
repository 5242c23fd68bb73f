using System.Runtime.InteropServices;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>
/// Tells when a script's process exited, and reads what it prints, for every script, on two threads: each
/// child gets a pidfd (readable once it exited) in one epoll set, whose thread reaps the child the pidfd
/// names; the daemon's ends of the script's stdout and stderr are in another set, read by its thread and
/// handed to the log line by line. Two, not one: a log write that blocks (journald not reading) must not
/// delay any script's exit notice, or a script that exited would time out and its group be killed. Measured before it, with a blocking waitpid on a thread of its own per script:
/// starting that thread was most of the daemon's CPU per event (the runtime yields in a loop until a new
/// thread runs, which on a busy machine is many times) and a thread's stack per running script. The output
/// had been two sockets of the runtime's socket engine per script: each registered with the engine's epoll,
/// and each end of stream woke the engine's thread and then a thread-pool worker. Only the pids given here
/// are waited for: nothing else's child is reaped.
/// </summary>
internal static unsafe class ChildExits
{
    private abstract class Watched
    {
        /// <summary>The descriptor is ready; true when it is done with (it is then closed, which takes it out of the set).</summary>
        public abstract bool Ready();

        /// <summary>Ready threw: whoever waits must still hear the end.</summary>
        public abstract void Abandon();
    }

    private sealed class Child(int pid, Action<ScriptExit> exited) : Watched
    {
        public override bool Ready()
        {
            exited(Reap(pid));
            return true;
        }

        public override void Abandon() => exited(new ScriptExit(-1, 0));
    }

    private sealed class Output(int fd, OutputLineSplitter splitter, TaskCompletionSource<long> done) : Watched
    {
        public override bool Ready()
        {
            while (true)
            {
                // MSG_DONTWAIT: this end stays blocking for nothing, and a stale readiness can never stall the thread.
                var read = Libc.recv(fd, Buffer, BufferSize, Libc.MSG_DONTWAIT);
                if (read > 0)
                {
                    splitter.Feed(new ReadOnlySpan<byte>(Buffer, (int)read));
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
    private const int BufferSize = 4096;
    // Only the output set's thread reads into it.
    private static readonly byte* Buffer = (byte*)NativeMemory.Alloc(BufferSize);

    private static readonly EpollSet Exits = new("script-wait");
    private static readonly EpollSet Outputs = new("script-output");

    /// <summary>
    /// Calls <paramref name="exited"/> with how the child ended once it exited and was reaped (on the watching
    /// thread: keep it short). False when pidfds are not to be had (a kernel before 5.3): the caller waits itself.
    /// </summary>
    public static bool Watch(int pid, Action<ScriptExit> exited)
    {
        var pidfd = Libc.pidfd_open(pid);
        if (pidfd < 0)
            return false;
        if (Exits.Add(pidfd, new Child(pid, exited)))
            return true;
        Libc.close(pidfd);
        return false;
    }

    /// <summary>
    /// Reads the stream <paramref name="fd"/> (owned from here on: closed at its end) to its end on the output
    /// thread, each line to <paramref name="line"/>; the task gives the bytes not logged. Null when there is no
    /// such thread: the caller still owns <paramref name="fd"/> and reads it itself.
    /// </summary>
    public static Task<long>? Read(int fd, Action<string> line)
    {
        // Continuations run on this thread, as for an exit (ScriptProcess): what awaits them resumes on the script thread.
        var done = new TaskCompletionSource<long>();
        return Outputs.Add(fd, new Output(fd, new OutputLineSplitter(line), done)) ? done.Task : null;
    }

    /// <summary>One epoll set and the thread that serves it.</summary>
    private sealed class EpollSet(string threadName)
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<int, Watched> _watching = [];
        private int _epoll = -1;

        public bool Add(int fd, Watched watched)
        {
            lock (_gate)
            {
                if (_epoll < 0 && !Start())
                    return false;
                _watching[fd] = watched;
                byte* registration = stackalloc byte[16];
                *(uint*)registration = Libc.EPOLLIN;
                *(long*)(registration + Libc.EpollDataOffset) = fd;
                if (Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, fd, registration) != 0)
                {
                    _watching.Remove(fd);
                    return false;
                }
            }
            return true;
        }

        private bool Start()
        {
            _epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
            if (_epoll < 0)
                return false;
            // 1 MiB reserved (only the pages touched count): with less, the runtime finds the stack too short to run a
            // completed task's continuations here (TryEnsureSufficientExecutionStack wants 128 KiB left) and queues each
            // to the thread pool: a worker woken, and another by it, for every exit.
            new Thread(Run, maxStackSize: 1024 * 1024) { IsBackground = true, Name = threadName }.Start();
            return true;
        }

        private void Run()
        {
            const int Batch = 8;
            var events = stackalloc byte[Batch * 16];
            while (true)
            {
                var count = Libc.epoll_wait(_epoll, events, Batch, -1);
                if (count < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Libc.EINTR)
                        continue;
                    return;
                }
                for (var i = 0; i < count; i++)
                {
                    var fd = (int)*(long*)(events + i * Libc.EpollEventSize + Libc.EpollDataOffset);
                    Watched? watched;
                    lock (_gate)
                    {
                        if (!_watching.TryGetValue(fd, out watched))
                            continue;
                    }
                    bool finished;
                    try
                    {
                        finished = watched.Ready();
                    }
                    catch (Exception)
                    {
                        // A handler that threw (a log that cannot be written) must not stop every script's watch.
                        watched.Abandon();
                        finished = true;
                    }
                    if (!finished)
                        continue;
                    lock (_gate)
                        _watching.Remove(fd);
                    // Out of the set before the close: a script being spawned on another thread may hold a copy of the
                    // descriptor until its exec, and would keep a closed one's registration (and its events, under a
                    // number reused by then) alive. Only this thread closes what it watches.
                    Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, fd, null);
                    Libc.close(fd);
                }
            }
        }
    }

    /// <summary>The pidfd said the child exited: its status is there (at worst a moment later, hence no WNOHANG).</summary>
    private static ScriptExit Reap(int pid)
    {
        int status;
        while (true)
        {
            var result = Libc.waitpid(pid, &status, 0);
            if (result == pid)
                return ScriptExit.FromWaitStatus(status);
            if (result < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR)
                continue;
            // ECHILD: something else reaped it; the status is lost but the script is gone.
            return new ScriptExit(-1, 0);
        }
    }
}
