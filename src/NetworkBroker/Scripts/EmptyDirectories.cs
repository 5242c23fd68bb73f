using System.Diagnostics;

namespace NetworkBroker.Scripts;

/// <summary>
/// Which directory a path names and when it last changed, as the kernel keeps it: device, inode, ctime and mtime.
/// An entry added, removed or renamed in a directory changes its mtime and ctime; so does a directory made anew in
/// its place (another inode, or the same number reused with a new ctime); a mount over it is another device.
/// </summary>
internal readonly record struct DirectoryStamp(uint DevMajor, uint DevMinor, ulong Inode,
    long ChangeSeconds, uint ChangeNanoseconds, long ModifySeconds, uint ModifyNanoseconds)
{
    /// <summary>Whether the ctime is before <paramref name="time"/> (compared as seconds and nanoseconds: any ctime a file system reports, none overflows).</summary>
    public bool ChangedBefore(DateTime time)
    {
        var since = time.ToUniversalTime() - DateTime.UnixEpoch;
        var seconds = since.Ticks / TimeSpan.TicksPerSecond;
        var nanoseconds = since.Ticks % TimeSpan.TicksPerSecond * 100;
        if (nanoseconds < 0)
        {
            seconds--;
            nanoseconds += 1_000_000_000;
        }
        return ChangeSeconds < seconds || (ChangeSeconds == seconds && ChangeNanoseconds < nanoseconds);
    }
}

/// <summary>
/// State directories known to be empty. Most packages ship every <c>&lt;state&gt;.d</c> directory and most stay
/// empty, yet a flap runs five or six states; each run of an empty directory walked its path from "/" and listed
/// it (a dozen system calls and a slice of the script thread before the run that has a script). A directory whose
/// listing found no entry at all is remembered with its <see cref="DirectoryStamp"/>; a run that finds the same
/// stamp, in one look-up that follows no link, knows it is still empty and has nothing to run. Nothing is ever run
/// on this knowledge, only not run, and only in a directory that has no entry of any kind.
/// <para>
/// A change is seen only if its ctime differs from the remembered one, and the kernel stamps changes with a clock
/// that advances in ticks (and some file systems keep whole seconds): a change in the same tick as the listing,
/// or as the change before it, could keep the same ctime. So a directory is remembered only when its ctime is
/// older than <see cref="Margin"/> at the listing (read before it): any later change then carries a later time.
/// A directory changed within the margin is listed again at its next run, as before. What this cannot see (the
/// realtime clock stepped back by more than the margin, a network file system's server clock behind ours) is
/// bounded: a directory is listed again once it was remembered for <see cref="MaxAge"/>.
/// </para>
/// </summary>
internal sealed class EmptyDirectories
{
    /// <summary>More than a clock tick and than the two seconds of the coarsest file system's timestamps.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(3);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (DirectoryStamp Stamp, long Since)> _known = new(StringComparer.Ordinal);

    /// <summary>How long a directory is known empty by its stamp before it is listed again.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromMinutes(1);
    private long _hits;

    /// <summary>The realtime clock, read before a listing (tests move it).</summary>
    public Func<DateTime> Now { get; set; } = () => DateTime.UtcNow;

    /// <summary>How many runs found a directory still empty by its stamp (tests, the benchmarks).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Whether a stamp is worth taking for <paramref name="path"/>: it was found empty before.</summary>
    public bool Remembers(string path)
    {
        lock (_gate)
            return _known.ContainsKey(path);
    }

    /// <summary>
    /// Whether the directory at <paramref name="path"/>, now stamped <paramref name="now"/> (null: it could not be),
    /// is the empty one remembered. Anything else forgets it, here and only here: a run that goes on to walk and
    /// list the directory starts from nothing remembered, and <see cref="Listed"/> is the one way back in.
    /// </summary>
    public bool IsEmpty(string path, DirectoryStamp? now)
    {
        lock (_gate)
        {
            if (!_known.TryGetValue(path, out var known))
                return false;
            if (known.Stamp != now || Stopwatch.GetElapsedTime(known.Since) > MaxAge)
            {
                _known.Remove(path);
                return false;
            }
        }
        Interlocked.Increment(ref _hits);
        return true;
    }

    /// <summary>
    /// A listing of <paramref name="path"/> found no entry: stamped <paramref name="before"/> and
    /// <paramref name="after"/> it, with the clock read at <paramref name="listedAt"/> before the first stamp.
    /// Remembered only when nothing changed meanwhile and the last change is older than the margin.
    /// </summary>
    public void Listed(string path, DateTime listedAt, DirectoryStamp before, DirectoryStamp after)
    {
        lock (_gate)
        {
            if (before == after && before.ChangedBefore(listedAt - Margin))
                _known[path] = (before, Stopwatch.GetTimestamp());
            else
                _known.Remove(path);
        }
    }
}
