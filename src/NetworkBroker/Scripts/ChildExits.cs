using System.Runtime.InteropServices;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>
/// Tells when a script's process exited, for every script, on one thread: each child gets a pidfd (readable
/// once it exited) in one epoll set, and the thread reaps the child the pidfd names. Measured before it, with
/// a blocking waitpid on a thread of its own per script: starting that thread was most of the daemon's CPU per
/// event (the runtime yields in a loop until a new thread runs, which on a busy machine is many times) and a
/// thread's stack per running script. Only the pids given here are waited for: nothing else's child is reaped.
/// </summary>
internal static unsafe class ChildExits
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<int, (int Pid, Action<ScriptExit> Exited)> Watched = [];
    private static int _epoll = -1;

    /// <summary>
    /// Calls <paramref name="exited"/> with how the child ended once it exited and was reaped (on the watching
    /// thread: keep it short). False when pidfds are not to be had (a kernel before 5.3): the caller waits itself.
    /// </summary>
    public static bool Watch(int pid, Action<ScriptExit> exited)
    {
        var pidfd = Libc.pidfd_open(pid);
        if (pidfd < 0)
            return false;
        lock (Gate)
        {
            if (_epoll < 0 && !Start())
            {
                Libc.close(pidfd);
                return false;
            }
            Watched[pidfd] = (pid, exited);
            byte* registration = stackalloc byte[16];
            *(uint*)registration = Libc.EPOLLIN;
            *(long*)(registration + Libc.EpollDataOffset) = pidfd;
            if (Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, pidfd, registration) != 0)
            {
                Watched.Remove(pidfd);
                Libc.close(pidfd);
                return false;
            }
        }
        return true;
    }

    private static bool Start()
    {
        _epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        if (_epoll < 0)
            return false;
        new Thread(Run, maxStackSize: 128 * 1024) { IsBackground = true, Name = "script-wait" }.Start();
        return true;
    }

    private static void Run()
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
                var pidfd = (int)*(long*)(events + i * Libc.EpollEventSize + Libc.EpollDataOffset);
                (int Pid, Action<ScriptExit> Exited) child;
                lock (Gate)
                {
                    if (!Watched.Remove(pidfd, out child))
                        continue;
                }
                // Closing the pidfd takes it out of the epoll set too.
                Libc.close(pidfd);
                child.Exited(Reap(child.Pid));
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
