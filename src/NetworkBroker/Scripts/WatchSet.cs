using System.Runtime.InteropServices;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>
/// Descriptors watched in one epoll set (level-triggered, for input), each with what to do once it is ready: a
/// script's pidfd, or the daemon's end of its output. One thread serves a set (<see cref="ScriptThread"/>, or one
/// of <see cref="ChildExits"/>' own) in <see cref="Serve"/>; adding may happen on any thread. A wakeable set also
/// holds an eventfd, which <see cref="Wake"/> writes from any thread to end the serving thread's wait.
/// </summary>
internal sealed unsafe class WatchSet
{
    internal abstract class Watched
    {
        /// <summary>The descriptor is ready; true when it is done with (it is then closed, which takes it out of the set).</summary>
        public abstract bool Ready(byte* buffer, int size);

        /// <summary>Ready threw: whoever waits must still hear the end.</summary>
        public abstract void Abandon();
    }

    /// <summary>Events taken by one epoll_wait; the caller's array holds <c>Batch * 16</c> bytes.</summary>
    public const int Batch = 8;

    private const int BufferSize = 4096;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, Watched> _watching = [];
    // Only the serving thread reads into it.
    private readonly byte* _buffer = (byte*)NativeMemory.Alloc(BufferSize);

    private readonly int _epoll;
    // The eventfd of a wakeable set, else -1.
    private readonly int _wake;

    private WatchSet(int epoll, int wake)
    {
        _epoll = epoll;
        _wake = wake;
    }

    /// <summary>How many descriptors are watched now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _watching.Count;
        }
    }

    /// <summary>Closes the descriptors and frees the buffer: once its thread serves it no more, and nothing is watched.</summary>
    public void Close()
    {
        if (_wake >= 0)
            Libc.close(_wake);
        Libc.close(_epoll);
        NativeMemory.Free(_buffer);
    }

    /// <summary>
    /// A new, empty set, with an eventfd for <see cref="Wake"/> when <paramref name="wakeable"/>; null when the kernel
    /// gives no such descriptor (the error is then the last P/Invoke error).
    /// </summary>
    public static WatchSet? Create(bool wakeable = false)
    {
        var epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        if (epoll < 0 || !wakeable)
            return epoll < 0 ? null : new WatchSet(epoll, -1);
        var wake = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (wake >= 0 && Register(epoll, wake))
            return new WatchSet(epoll, wake);
        var errno = Marshal.GetLastPInvokeError();
        if (wake >= 0)
            Libc.close(wake);
        Libc.close(epoll);
        Marshal.SetLastPInvokeError(errno);
        return null;
    }

    /// <summary>Ends the serving thread's wait in <see cref="Serve"/>, or its next one; from any thread (a wakeable set).</summary>
    public void Wake()
    {
        var one = 1L;
        // Only EAGAIN can fail it, a counter at its limit: the thread is woken then anyway.
        Libc.write(_wake, (byte*)&one, sizeof(long));
    }

    /// <summary>
    /// Waits until a watched descriptor is ready or the set is woken, calls <paramref name="awake"/>, then serves every
    /// descriptor ready. False when epoll_wait failed for another reason than a signal (the error is then the last
    /// P/Invoke error). <paramref name="events"/> holds <c>Batch * 16</c> bytes.
    /// </summary>
    public bool Serve(byte* events, Action? awake = null)
    {
        var count = Libc.epoll_wait(_epoll, events, Batch, -1);
        var errno = Marshal.GetLastPInvokeError();
        awake?.Invoke();
        if (count < 0)
        {
            Marshal.SetLastPInvokeError(errno);
            return errno == Libc.EINTR;
        }
        for (var i = 0; i < count; i++)
        {
            var fd = (int)*(long*)(events + i * Libc.EpollEventSize + Libc.EpollDataOffset);
            if (fd != _wake)
                Ready(fd);
            else
            {
                long value;
                Libc.read(_wake, (byte*)&value, sizeof(long));
            }
        }
        return true;
    }

    /// <summary>Registers <paramref name="fd"/> for input, its data the descriptor itself.</summary>
    private static bool Register(int epoll, int fd)
    {
        byte* registration = stackalloc byte[16];
        *(uint*)registration = Libc.EPOLLIN;
        *(long*)(registration + Libc.EpollDataOffset) = fd;
        return Libc.epoll_ctl(epoll, Libc.EPOLL_CTL_ADD, fd, registration) == 0;
    }

    public bool Add(int fd, Watched watched)
    {
        lock (_gate)
        {
            _watching[fd] = watched;
            if (!Register(_epoll, fd))
            {
                _watching.Remove(fd);
                return false;
            }
        }
        return true;
    }

    /// <summary>epoll_wait named <paramref name="fd"/>: its handler runs, and a descriptor done with leaves the set and is closed.</summary>
    private void Ready(int fd)
    {
        Watched? watched;
        lock (_gate)
        {
            if (!_watching.TryGetValue(fd, out watched))
                return;
        }
        bool finished;
        try
        {
            finished = watched.Ready(_buffer, BufferSize);
        }
        catch (Exception)
        {
            // A handler that threw (a log that cannot be written) must not stop every script's watch.
            watched.Abandon();
            finished = true;
        }
        if (!finished)
            return;
        lock (_gate)
            _watching.Remove(fd);
        // Out of the set before the close: a script being spawned on another thread may hold a copy of the
        // descriptor until its exec, and would keep a closed one's registration (and its events, under a number
        // reused by then) alive. Only the serving thread closes what it watches.
        Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, fd, null);
        Libc.close(fd);
    }
}
