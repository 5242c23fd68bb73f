using System.Diagnostics;
using System.Runtime.InteropServices;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>
/// The states whose directories hold nothing to run in any script root (each one missing, or an empty directory),
/// known until the kernel says something changed. A flap runs some ten states and most have no script; each such run
/// looked its directory up in every root (an <c>openat2</c> and a <c>close</c> each, a <c>statx</c> for an empty one)
/// to find nothing. Known here, it costs one <c>poll</c> of two descriptors:
/// <list type="bullet">
/// <item>inotify on the directory that decided it: the empty directory itself (an entry made, removed, renamed in or
/// out, or its own attributes changed, renamed or removed), or, for a missing one, the nearest directory above it that
/// exists (what is made or renamed in there, and the same changes of its own); and on the script root (renamed away
/// and made anew, its state directories are others);</item>
/// <item>the mount table (<c>/proc/self/mountinfo</c> polls as changed): a mount over one of them changes no inode.</item>
/// </list>
/// Any change seen forgets every state known; the next run of each looks again. Before an answer both are polled,
/// so a change made before the question is always seen (inotify queues an event in the call that makes the change).
/// A directory is watched through the descriptor its symlink-free look-up opened (<c>/proc/self/fd</c>), so the inode
/// watched is the one the path names; a symbolic link on the way, a file system whose changes inotify does not see
/// (a network one), or any failure: that state is not known, and its runs look as before.
/// <para>
/// Nothing is ever run on this knowledge, only not run, so what it cannot see costs a missed run, never a run of a file
/// no one checked. The directories above are watched too, for their own renaming or removal (a tree deployed by renaming
/// a directory above the root). What it cannot see: a change queued past the inotify queue's limit (the overflow is an
/// event too, and forgets everything). As a bound for anything else, a state is known for <see cref="MaxAge"/> at most.
/// </para>
/// </summary>
internal sealed unsafe class ScriptDirectoryWatch : IDisposable
{
    private const uint Changes = Libc.IN_ATTRIB | Libc.IN_CREATE | Libc.IN_DELETE | Libc.IN_MOVED_FROM | Libc.IN_MOVED_TO |
        Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR;

    // A directory above: only its own renaming or removal changes what the paths below it name. Added to what a watch of
    // the same directory already asks for (a root is also a directory above its state directories), never in its place.
    private const uint Moved = Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR | Libc.IN_MASK_ADD;

    /// <summary>File systems whose every change goes through this kernel, where inotify sees it (statfs(2)'s f_type).</summary>
    private static readonly HashSet<long> LocalFileSystems =
    [
        0xEF53, // ext2, ext3, ext4
        0x58465342, // xfs
        0x9123683E, // btrfs
        0x01021994, // tmpfs
        0x858458F6, // ramfs
        0xF2F52010, // f2fs
        0x794C7630, // overlayfs
        0x73717368, // squashfs
        0xE0F5E1E2, // erofs
    ];

    private readonly Lock _gate = new();
    // Made anew at each forgetting: the watches of what is no longer known go with the old one (a directory renamed
    // away keeps no watch), and what it queued need not be read.
    private int _inotify;
    private readonly int _mounts;
    private readonly Dictionary<string, long> _nothing = new(StringComparer.Ordinal);
    private long _generation;
    private long _hits;
    private bool _disposed;

    private ScriptDirectoryWatch(int inotify, int mounts, TimeSpan maxAge)
    {
        _inotify = inotify;
        _mounts = mounts;
        MaxAge = maxAge;
    }

    /// <summary>The watch, or null when the kernel gives no inotify or no mount table (the runs then look every time).</summary>
    /// <param name="maxAge">How long a state is known at most (<see cref="MaxAge"/>); a minute unless told.</param>
    public static ScriptDirectoryWatch? Open(TimeSpan? maxAge = null)
    {
        var inotify = Libc.inotify_init1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (inotify < 0)
            return null;
        var mounts = Libc.open("/proc/self/mountinfo", Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (mounts < 0)
        {
            Libc.close(inotify);
            return null;
        }
        return new ScriptDirectoryWatch(inotify, mounts, maxAge ?? TimeSpan.FromMinutes(1));
    }

    /// <summary>How long a state is known to hold nothing before its directories are looked at again.</summary>
    public TimeSpan MaxAge { get; }

    /// <summary>How many runs were answered from what is known (tests, the benchmarks).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>The watches the kernel holds for this instance now (<c>/proc/self/fdinfo</c>; tests).</summary>
    internal int Watches
    {
        get
        {
            lock (_gate)
                return _inotify < 0 ? 0 : File.ReadLines($"/proc/self/fdinfo/{_inotify}").Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
        }
    }

    /// <summary>Whether <paramref name="state"/> is known to hold nothing to run in any root, with no change seen since.</summary>
    public bool HoldsNothing(string state)
    {
        lock (_gate)
        {
            Refresh();
            if (!_nothing.TryGetValue(state, out var since))
                return false;
            if (Stopwatch.GetElapsedTime(since) > MaxAge)
            {
                _nothing.Remove(state);
                return false;
            }
        }
        Interlocked.Increment(ref _hits);
        return true;
    }

    /// <summary>Forgets every state known (the script roots changed).</summary>
    public void ForgetAll()
    {
        lock (_gate)
            Forget();
    }

    /// <summary>Before the look-ups that may show a state holds nothing: what <see cref="Learn"/> compares with.</summary>
    public long Begin()
    {
        lock (_gate)
        {
            Refresh();
            return _generation;
        }
    }

    /// <summary>
    /// Watches the directory that decides whether <paramref name="path"/> holds anything: the path itself when it is a
    /// directory, else the nearest directory above it that exists. What the path is, or null when that cannot be known
    /// (a symbolic link on the way, not a directory, a file system inotify does not see, a failure). The caller looks
    /// at the path after this, so that what changes after its look-up is an event.
    /// </summary>
    public WatchedPath? Watch(string path)
    {
        var current = path;
        while (true)
        {
            if (WatchAt(current, Changes) is { } watched)
                return watched && WatchAbove(current) ? (current == path ? WatchedPath.Directory : WatchedPath.Missing) : null;
            if (Marshal.GetLastPInvokeError() != Libc.ENOENT || Path.GetDirectoryName(current) is not { Length: > 0 } parent || parent == current)
                return null;
            current = parent;
        }
    }

    /// <summary>
    /// Watches every directory above <paramref name="path"/> (not "/") for its own renaming or removal: a directory
    /// renamed aside and made anew above a script root (an atomic deploy of a tree) changes what every path below names
    /// without a change of any inode watched there. Checked at the path once watched, as the directory itself is.
    /// </summary>
    private bool WatchAbove(string path)
    {
        for (var above = Path.GetDirectoryName(path); above is { Length: > 1 }; above = Path.GetDirectoryName(above))
            if (WatchAt(above, Moved) != true)
                return false;
        return true;
    }

    /// <summary>
    /// Watches the directory <paramref name="path"/> for <paramref name="mask"/> through the descriptor of its symlink-free
    /// look-up: true when watched, false when it cannot be (a file system inotify does not see, or it was renamed away
    /// before the watch was added: it would be watched for nothing), null when it cannot be opened (errno says why).
    /// </summary>
    private bool? WatchAt(string path, uint mask)
    {
        var fd = OpenDirectory(path);
        if (fd < 0)
            return null;
        try
        {
            return IsLocal(fd) && AddWatch(fd, mask) && IsAt(fd, path);
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>
    /// The look-ups begun at <paramref name="generation"/> found nothing to run for <paramref name="state"/> in any root:
    /// known from now on, unless a change was seen meanwhile.
    /// </summary>
    public bool Learn(string state, long generation)
    {
        lock (_gate)
        {
            Refresh();
            if (_generation != generation)
                return false;
            _nothing[state] = Stopwatch.GetTimestamp();
            return true;
        }
    }

    private static int OpenDirectory(string path)
    {
        var how = new Libc.OpenHow { Flags = (ulong)(Libc.O_PATH | Libc.O_CLOEXEC | Libc.O_DIRECTORY), Resolve = Libc.RESOLVE_NO_SYMLINKS };
        return Libc.openat2(Libc.AT_FDCWD, path, &how);
    }

    private static bool IsAt(int fd, string path)
    {
        var again = OpenDirectory(path);
        if (again < 0)
            return false;
        try
        {
            return Identity(fd) is { } watched && Identity(again) == watched;
        }
        finally
        {
            Libc.close(again);
        }
    }

    private static (uint, uint, ulong)? Identity(int fd)
    {
        Libc.Statx stat;
        return Libc.statx(fd, "", Libc.AT_EMPTY_PATH, Libc.STATX_INO, &stat) == 0 && (stat.Mask & Libc.STATX_INO) != 0
            ? (stat.DevMajor, stat.DevMinor, stat.Ino) : null;
    }

    private static bool IsLocal(int fd)
    {
        var buffer = stackalloc byte[256];
        return Libc.fstatfs(fd, buffer) == 0 && LocalFileSystems.Contains(*(long*)buffer & 0xFFFFFFFF);
    }

    private bool AddWatch(int fd, uint mask)
    {
        lock (_gate)
            return !_disposed && _inotify >= 0 && Libc.inotify_add_watch(_inotify, $"/proc/self/fd/{fd}", mask) >= 0;
    }

    /// <summary>Polls what the kernel queued: any inotify event or a changed mount table forgets everything known.</summary>
    private void Refresh()
    {
        if (_disposed)
        {
            Forget();
            return;
        }
        var fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = _inotify, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = _mounts, Events = Libc.POLLPRI };
        if (Libc.poll(fds, 2, 0) == 0)
            return;
        // Anything else (a failed poll included) is a change: nothing is known that was not looked at again.
        Forget();
    }

    private void Forget()
    {
        _nothing.Clear();
        _generation++;
        if (_disposed)
            return;
        // Its queue is not read (a flood of events cannot hold the caller), and its watches go with it. Failing to make
        // a new one, nothing is learned from now on (a watch cannot be added to -1; poll ignores it).
        Libc.close(_inotify);
        _inotify = Libc.inotify_init1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            Forget();
            if (_inotify >= 0)
                Libc.close(_inotify);
            Libc.close(_mounts);
        }
    }
}

/// <summary>What <see cref="ScriptDirectoryWatch.Watch"/> found at a path: a directory (watched), or nothing (a directory above it watched).</summary>
internal enum WatchedPath
{
    Directory,
    Missing,
}
