using System.Buffers;
using System.Runtime.InteropServices;
using NetworkBroker.Logging;
using NetworkBroker.Native;
using NetworkBroker.Security;

namespace NetworkBroker.Core;

/// <summary>
/// <see cref="RememberedStates"/> in a file of the runtime directory (<c>states</c>), which the unit keeps across
/// restarts (RuntimeDirectoryPreserve=yes) and which is gone at reboot (/run is a tmpfs). Read once at start;
/// written off the loop, on the <see cref="TimerThread"/>, latest wins (a newer state replaces one not yet
/// written); written once more at stop. A write appends the lines that changed (<see cref="StatesFileView"/>: one
/// write(2) of at most <see cref="MaxAppend"/> bytes to the open file); the whole file is written anew, and renamed
/// into place so that a reader never sees half of it, at the first write, for changes longer than that, once the
/// appended lines outgrow <see cref="AppendLimit"/>, and when the file was replaced behind this process's back or its
/// length changed (an edit in place that keeps the length is not seen). A kill in the middle of an append (the kernel
/// may stop a write between pages) leaves a last line without its newline: the next start refuses the file and runs
/// every current state once, never fewer. A run that ran is written <see cref="WriteDelay"/> after it, so a burst of
/// runs costs one write, not one per step, and the write does not compete with the scripts it follows; a crash within
/// that delay runs those states once more at the next start (at least once). A run newly queued is marked at once with
/// one line appended to the file (<see cref="RememberedStates.WriteQueued"/>), for what it stands for
/// (<see cref="RememberedRun"/>: one property of a link, the manager, an interface's leases): until then the file still
/// says its scripts ran for the state before, and a crash would lose the run.
/// </summary>
public sealed class StateMemory
{
    public const string FileName = "states";

    private readonly string _path;
    private readonly Logger _log;
    private readonly object _gate = new();
    private RememberedStates? _pending;
    private RememberedStates? _latest;
    // The bytes of a write (the changed lines, or the whole file), formatted into one buffer reused by every write (one
    // at a time, under _fileGate: a step of the timer thread, or a mark's fallback on the script thread), no garbage
    // per event.
    private readonly ArrayBufferWriter<byte> _text = new(4096);
    // The runs queued but not yet run, left out of the file; refilled by each write.
    private readonly RememberedStates.Omitted _omitted = new();
    private readonly Dictionary<RememberedRun, int> _inFlight = [];
    private bool _warned;
    // A write is posted that has not yet taken the pending state (at most one waits for its delay).
    private bool _scheduled;
    // Runs newly in flight whose mark is still to be appended, and whether a step to append them is posted.
    private readonly List<RememberedRun> _marks = [];
    private readonly List<RememberedRun> _marking = [];
    private readonly ArrayBufferWriter<byte> _markText = new(256);
    private bool _marksPosted;
    // The file, open for appending (-1 before the first write or mark): its inode and length as this process left it,
    // so that a file replaced or changed behind its back is written whole again, not appended to (an append to a file
    // renamed away would be lost). What it says is known when this process wrote it whole (_view), not when it is the
    // previous run's (then only marks are appended to it, until the first whole write).
    private int _fd = -1;
    private ulong _inode;
    private long _length;
    private long _wholeLength;
    private bool _viewKnown;
    private readonly StatesFileView _view = new();
    private int _writes;
    private int _wholeWrites;
    // This process wrote the file whole at least once (its own file, even when closed since: a mark opens it again).
    private bool _wroteFile;

    /// <summary>The largest file a start reads (some 80,000 links' lines; the file is the daemon's own, in its own 0750 directory).</summary>
    private const int MaxFileBytes = 16 << 20;

    /// <summary>The longest change appended (a burst of many links' changes is written whole instead).</summary>
    public const int MaxAppend = 4096;

    // Held by each write of the file: a mark can be appended on another thread than the full writes (MarkOn).
    private readonly object _fileGate = new();

    /// <summary>
    /// Where a mark is appended: the timer thread unless told; the daemon gives the script thread, where the mark is a
    /// step just before the run it marks, in the one wake-up that starts the run, not a thread switch of its own.
    /// </summary>
    public Action<Action> MarkOn { get; set; } = TimerThread.Shared.Post;

    /// <summary>How long a change waits before it is written (the changes meanwhile go with it).</summary>
    public TimeSpan WriteDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How much later still the write may be made, when the timer thread wakes meanwhile for another step (a STATUS
    /// line, a barrier's check): one wake-up for them all. A run's queued mark is in the file before it starts; this
    /// only delays when a finished run stops counting as one to run again after a crash.
    /// </summary>
    public TimeSpan WriteSlack { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>How many times the file was written since start (appended to or written whole).</summary>
    internal int Writes => Volatile.Read(ref _writes);

    /// <summary>How many of those wrote the whole file (a new file, renamed into place).</summary>
    internal int WholeWrites => Volatile.Read(ref _wholeWrites);

    /// <summary>
    /// How many bytes may be appended after a whole write before the next write is whole again: the larger of this
    /// and the whole file's length, so that a start reads at most about twice the file.
    /// </summary>
    public int AppendLimit { get; init; } = 16 * 1024;

    /// <param name="bootId">This boot's ID; a file from another boot is not this boot's memory.</param>
    public StateMemory(string directory, string bootId, Logger log)
    {
        _path = System.IO.Path.Combine(directory, FileName);
        BootId = bootId;
        _log = log;
        Recalled = Read();
    }

    public string Path => _path;

    public string BootId { get; }

    /// <summary>What the previous run of this boot last ran scripts for; null after a boot (or with no usable file).</summary>
    public RememberedStates? Recalled { get; }

    /// <summary>The kernel's ID for this boot (a new one at each boot).</summary>
    public static string CurrentBootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private RememberedStates? Read()
    {
        var content = PeerFile.Read(_path, new PeerFileRules { Owners = [0, Libc.geteuid()], OwnersText = "root or the daemon's user", MaxBytes = MaxFileBytes });
        if (content.Refusal == PeerFileRefusal.Missing)
        {
            _log.Info($"No states remembered in {_path}: first start of this boot, every link's current state runs once");
            return null;
        }
        if (!content.IsRead)
        {
            _log.Warn($"Ignoring {_path}: {content.Reason}; every link's current state runs once");
            return null;
        }
        try
        {
            var recalled = RememberedStates.Parse(content.Text);
            if (recalled.BootId != BootId || BootId.Length == 0)
            {
                _log.Info($"{_path} is from an earlier boot: every link's current state runs once");
                return null;
            }
            _log.Info($"Restarted: {recalled.Links.Count} link(s) and {recalled.Leases.Count} lease(s) remembered in {_path}; only what changed meanwhile runs");
            return recalled;
        }
        catch (FormatException e)
        {
            _log.Warn($"Ignoring {_path}: {e.Message}; every link's current state runs once");
            return null;
        }
    }

    /// <summary>
    /// A run was queued: until it has run, what it stands for (its link's property, the manager, an interface's
    /// leases) is not remembered as run, so that a crash or a kill before it ran (the watchdog, SIGKILL) runs it at
    /// the next start: at least once, never lost.
    /// </summary>
    public void Queued(RememberedRun run)
    {
        lock (_gate)
        {
            var count = _inFlight.GetValueOrDefault(run);
            _inFlight[run] = count + 1;
            // Newly in flight: marked in the file now, not after the write delay.
            if (count > 0)
                return;
            _marks.Add(run);
            if (_marksPosted)
                return;
            _marksPosted = true;
            MarkOn(WriteMarks);
        }
    }

    /// <summary>The run queued with <see cref="Queued"/> ran (or was found to have nothing to run): remembered from now on.</summary>
    public void Ran(RememberedRun run)
    {
        lock (_gate)
        {
            if (!_inFlight.TryGetValue(run, out var count))
                return;
            if (count > 1)
                _inFlight[run] = count - 1;
            else
            {
                _inFlight.Remove(run);
                BurstCapacity.TrimAfterBurst(_inFlight);
            }
            if (_latest is { } latest)
                Remember(latest);
        }
    }

    /// <summary>Called on the loop: hands the state to the writer (the timer thread), never waits for the file.</summary>
    public void Remember(RememberedStates states)
    {
        lock (_gate)
        {
            _pending = states;
            _latest = states;
            if (_scheduled)
                return;
            _scheduled = true;
            TimerThread.Shared.After(WriteDelay, WriteSlack, WritePending);
        }
    }

    /// <summary>
    /// At stop: what the runs that were queued but never ran (or were cut short) stand for is forgotten, so that
    /// they run at the next start, and the file is written.
    /// </summary>
    public Task StopAsync(IEnumerable<RememberedRun> notRun)
    {
        lock (_gate)
        {
            if (_latest is { } latest && notRun.ToList() is { Count: > 0 } runs)
            {
                _log.Info($"{runs.Count} queued event(s) did not run; they run at the next start");
                Remember(latest.Without(runs));
            }
        }
        return FlushAsync(close: true);
    }

    /// <summary>Waits until the latest state handed over is in the file, without its delay (at stop).</summary>
    public Task FlushAsync() => FlushAsync(close: false);

    /// <param name="close">At stop: the file kept open for marks is closed once written (a mark after it opens it again).</param>
    private Task FlushAsync(bool close)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // After every step due before it, a write already waiting included: what was handed over is written by then.
        TimerThread.Shared.Post(() =>
        {
            try
            {
                WritePending();
                if (close)
                    lock (_fileGate)
                        CloseFile();
                written.SetResult();
            }
            catch (Exception e)
            {
                written.SetException(e);
            }
        });
        return written.Task;
    }

    /// <summary>Appends the marks of the runs newly in flight (one write(2) for all of them).</summary>
    private void WriteMarks()
    {
        LoopGuard.Blocking("mark of a queued run", _path);
        // The file first, then the state (as a write takes them): a write either ran before, or takes its queued runs
        // after these marks were taken, and so leaves them out.
        lock (_fileGate)
        {
            lock (_gate)
            {
                _marking.AddRange(_marks);
                _marks.Clear();
                BurstCapacity.TrimAfterBurst(_marks);
                _marksPosted = false;
            }
            AppendMarks();
        }
    }

    private void AppendMarks()
    {
        try
        {
            // Nothing written by this process and nothing usable read at start: no file says these runs ran.
            if (_fd < 0 && Recalled is null && !_wroteFile)
                return;
            _markText.ResetWrittenCount();
            foreach (var run in _marking)
            {
                RememberedStates.WriteQueued(_markText, run);
                if (_viewKnown)
                    _view.Forget(run);
            }
        }
        finally
        {
            _marking.Clear();
            BurstCapacity.TrimAfterBurst(_marking);
        }
        if (_fd < 0)
            OpenPrevious();
        var error = _fd < 0 ? Marshal.GetLastPInvokeError() : Append(_markText.WrittenSpan);
        if (error == 0)
            return;
        if (error == Libc.ENOENT)
            return;
        // A mark that cannot be appended (the file was replaced or changed meanwhile, or the write failed): the whole
        // file, which leaves the queued runs out, at once; failing that (nothing handed over yet, or the write fails
        // too), no file: every current state runs at the next start.
        CloseFile();
        lock (_gate)
            _pending ??= _latest;
        if (!WriteFile() && Libc.unlink(_path) != 0 && Marshal.GetLastPInvokeError() != Libc.ENOENT && !_warned)
        {
            _warned = true;
            _log.Warn($"Cannot mark a queued run in {_path}: {Libc.Describe(error)}; a crash before it runs may skip it at the next start");
        }
    }

    /// <summary>The previous run's file, read at start (owned by root or us, a regular file), opened to append marks.</summary>
    private void OpenPrevious()
    {
        // O_NONBLOCK so a FIFO put in its place since cannot hang the writer.
        _fd = Libc.open(_path, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_NOFOLLOW | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (_fd < 0)
            return;
        var (inode, length) = Identity(_fd, out var error);
        if (error == 0)
            (_inode, _length, _viewKnown) = (inode, length, false);
    }

    /// <summary>
    /// Appends to the open file if it is still the one this process left (same inode, same length: not replaced,
    /// not changed meanwhile); 0, or why not (EEXIST: not the same file).
    /// </summary>
    private int Append(ReadOnlySpan<byte> bytes)
    {
        var error = Unchanged();
        if (error == 0)
            error = Libc.WriteAll(_fd, bytes);
        if (error != 0)
            return error;
        _length += bytes.Length;
        Interlocked.Increment(ref _writes);
        return 0;
    }

    /// <summary>0 when the file at the path is still the one this process left (same inode and length); else why not (EEXIST: another file).</summary>
    private unsafe int Unchanged()
    {
        Libc.Statx stat;
        if (Libc.statx(Libc.AT_FDCWD, _path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_INO | Libc.STATX_SIZE, &stat) != 0)
            return Marshal.GetLastPInvokeError();
        return stat.Ino == _inode && (long)stat.Size == _length ? 0 : Libc.EEXIST;
    }

    private void CloseFile()
    {
        if (_fd >= 0)
            Libc.close(_fd);
        _fd = -1;
        _viewKnown = false;
    }

    private void WritePending()
    {
        lock (_fileGate)
            WriteFile();
    }

    /// <summary>Writes what was handed over; true when the file holds it (appended, written whole, or found unchanged).</summary>
    private bool WriteFile()
    {
        RememberedStates states;
        lock (_gate)
        {
            // Nothing handed over (a delayed step after a write took the state, a flush).
            if (_pending is null)
                return false;
            states = _pending;
            _pending = null;
            _scheduled = false;
            _omitted.Set(_inFlight.Keys);
        }
        var omitted = _omitted.IsEmpty ? null : _omitted;
        LoopGuard.Blocking("write of the remembered states", _path);
        // The lines that changed, appended, while the file is this process's and has not grown past its limit.
        if (_fd >= 0 && _viewKnown)
        {
            _text.ResetWrittenCount();
            _view.WriteChanges(_text, states, omitted);
            // Nothing changed: the file is left as it is, if it still is the one this process left (not deleted or replaced).
            if (_text.WrittenCount == 0 && Unchanged() == 0)
                return Written();
            var limit = Math.Min(_wholeLength + Math.Max(AppendLimit, _wholeLength), MaxFileBytes);
            if (_text.WrittenCount <= MaxAppend && _length + _text.WrittenCount <= limit && Append(_text.WrittenSpan) == 0)
                return Written();
        }
        _text.ResetWrittenCount();
        states.WriteTo(_text, omitted);
        // open, write, rename: what FileStream did in 11 system calls (an unlink first, flock twice, fstatfs, lseek...).
        var temporary = _path + ".new";
        const int flags = Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC;
        const uint mode = 0x180; // 0600
        var fd = Libc.open(temporary, flags | Libc.O_NOFOLLOW, mode);
        var error = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        if (error == Libc.EEXIST)
        {
            // Left by a write that failed or a crash: a new file, so its owner and mode are ours and 0600.
            Libc.unlink(temporary);
            fd = Libc.open(temporary, flags | Libc.O_NOFOLLOW, mode);
            error = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        if (error == 0)
            error = Libc.WriteAll(fd, _text.WrittenSpan);
        var inode = error == 0 ? Identity(fd, out error).Inode : 0;
        if (error == 0 && Libc.rename(temporary, _path) != 0)
            error = Marshal.GetLastPInvokeError();
        if (error != 0)
        {
            if (fd >= 0)
            {
                Libc.close(fd);
                Libc.unlink(temporary);
            }
            // The file is what it was: marks are still appended to it, and the next write is whole again.
            _viewKnown = false;
            // Once: a runtime directory that cannot be written stays so; the next success says so again.
            if (!_warned)
                _log.Warn($"Cannot remember states in {_path}: {Libc.Describe(error)}; a restart will run every current state again");
            _warned = true;
            return false;
        }
        CloseFile();
        (_fd, _inode, _length, _wholeLength, _viewKnown) = (fd, inode, _text.WrittenCount, _text.WrittenCount, true);
        _view.Reset(states, omitted);
        Interlocked.Increment(ref _writes);
        Interlocked.Increment(ref _wholeWrites);
        _wroteFile = true;
        return Written();
    }

    private bool Written()
    {
        if (_warned)
            _log.Info($"States remembered in {_path} again");
        _warned = false;
        return true;
    }

    /// <summary>An open file's inode and length, as <see cref="Unchanged"/> compares them with the path's.</summary>
    private static unsafe (ulong Inode, long Length) Identity(int fd, out int error)
    {
        Libc.Statx stat;
        error = Libc.statx(fd, "", Libc.AT_EMPTY_PATH, Libc.STATX_INO | Libc.STATX_SIZE, &stat) == 0 ? 0 : Marshal.GetLastPInvokeError();
        return (stat.Ino, (long)stat.Size);
    }
}
