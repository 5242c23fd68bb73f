using System.Runtime.InteropServices;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>
/// Descriptors watched in one epoll set (level-triggered, for input), each with what to do once it is ready: a
/// script's pidfd, or the daemon's end of its output. One thread serves a set (<see cref="ScriptThread"/>, or one
/// of <see cref="ChildExits"/>' own) and calls <see cref="Ready"/> for each descriptor epoll_wait names; adding may
/// happen on any thread.
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

    private WatchSet(int epoll) => Epoll = epoll;

    /// <summary>The epoll descriptor, which its thread waits on (and may add descriptors of its own to).</summary>
    public int Epoll { get; }

    /// <summary>How many descriptors are watched now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _watching.Count;
        }
    }

    /// <summary>Closes the epoll descriptor and frees the buffer: once its thread serves it no more, and nothing is watched.</summary>
    public void Close()
    {
        Libc.close(Epoll);
        NativeMemory.Free(_buffer);
    }

    /// <summary>A new, empty set; null when the kernel gives no epoll descriptor.</summary>
    public static WatchSet? Create()
    {
        var epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        return epoll < 0 ? null : new WatchSet(epoll);
    }

    /// <summary>The descriptor of the <paramref name="index"/>-th event epoll_wait gave.</summary>
    public static int Descriptor(byte* events, int index) =>
        (int)*(long*)(events + index * Libc.EpollEventSize + Libc.EpollDataOffset);

    /// <summary>Registers <paramref name="fd"/> for input, its data the descriptor itself.</summary>
    public static bool Register(int epoll, int fd)
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
            if (!Register(Epoll, fd))
            {
                _watching.Remove(fd);
                return false;
            }
        }
        return true;
    }

    /// <summary>epoll_wait named <paramref name="fd"/>: its handler runs, and a descriptor done with leaves the set and is closed.</summary>
    public void Ready(int fd)
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
        Libc.epoll_ctl(Epoll, Libc.EPOLL_CTL_DEL, fd, null);
        Libc.close(fd);
    }
}
