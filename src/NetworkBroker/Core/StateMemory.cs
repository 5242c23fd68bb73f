using System.Buffers;
using NetworkBroker.Logging;
using NetworkBroker.Native;
using NetworkBroker.Security;

namespace NetworkBroker.Core;

/// <summary>
/// <see cref="RememberedStates"/> in a file of the runtime directory (<c>states</c>), which the unit keeps across
/// restarts (RuntimeDirectoryPreserve=yes) and which is gone at reboot (/run is a tmpfs). Read once at start;
/// written off the loop, on the <see cref="TimerThread"/>, latest wins (a newer state replaces one not yet
/// written), by rename so a reader or a crash never sees half a file; written once more at stop. A run that ran
/// is written <see cref="WriteDelay"/> after it, so a burst of runs costs one write, not one per step, and the
/// write does not compete with the scripts it follows; a crash within that delay runs those states once more at
/// the next start (at least once). A link whose first run is queued is written at once: until then the file still
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
    // The file's bytes, formatted into one buffer reused by every write (one at a time: every write is a step of the
    // one timer thread), no garbage per event. What was last written is known by its length and hash, and by the file
    // itself: a second buffer holding it was 256 KiB more beside 1,000 links (a 164 KB file).
    private readonly ArrayBufferWriter<byte> _text = new(4096);
    private int _writtenLength = -1;
    private int _writtenHash;
    // The runs queued but not yet run, left out of the file; refilled by each write.
    private readonly RememberedStates.Omitted _omitted = new();
    private readonly Dictionary<(string? Link, int IfIndex), int> _inFlight = [];
    private bool _warned;
    // A write is posted that has not yet taken the pending state (at most one waits for its delay); and whether one
    // is posted to go at once.
    private bool _scheduled;
    private bool _hurried;
    // A link went in flight since the last write took its state: the next write goes without its delay.
    private bool _urgent;
    private int _writes;

    /// <summary>How long a change waits before it is written (the changes meanwhile go with it).</summary>
    public TimeSpan WriteDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How many times the file was written since start.</summary>
    internal int Writes => Volatile.Read(ref _writes);

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
        // 16 MiB: some 80,000 links' lines; the file is the daemon's own, in its own 0750 directory.
        var content = PeerFile.Read(_path, new PeerFileRules { Owners = [0, Libc.geteuid()], OwnersText = "root or the daemon's user", MaxBytes = 16 << 20 });
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
    /// A run was queued: until it has run, its link (or the manager) is not remembered as run, so that a crash or
    /// a kill before it ran (the watchdog, SIGKILL) runs it at the next start: at least once, never lost.
    /// </summary>
    public void Queued(string? link, int ifindex)
    {
        lock (_gate)
        {
            var count = _inFlight.GetValueOrDefault((link, ifindex));
            _inFlight[(link, ifindex)] = count + 1;
            // Newly in flight: the next write (the one waiting, or the one Remember is about to ask for) goes now.
            if (count == 0)
            {
                _urgent = true;
                if (_scheduled)
                    Hurry();
            }
        }
    }

    /// <summary>Posts a write that goes at once (under the lock); the one waiting for its delay then finds nothing to write.</summary>
    private void Hurry()
    {
        if (_hurried)
            return;
        _hurried = true;
        TimerThread.Shared.Post(WritePending);
    }

    /// <summary>The run queued with <see cref="Queued"/> ran (or was found to have nothing to run): remembered from now on.</summary>
    public void Ran(string? link, int ifindex)
    {
        lock (_gate)
        {
            if (!_inFlight.TryGetValue((link, ifindex), out var count))
                return;
            if (count > 1)
                _inFlight[(link, ifindex)] = count - 1;
            else
            {
                _inFlight.Remove((link, ifindex));
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
            if (_urgent)
                Hurry();
            else
                TimerThread.Shared.After(WriteDelay, WritePending);
        }
    }

    /// <summary>
    /// At stop: the runs that were queued but never ran (or were cut short) are forgotten, so that they run at
    /// the next start, and the file is written.
    /// </summary>
    public Task StopAsync(IEnumerable<(string? Link, int IfIndex)> notRun)
    {
        lock (_gate)
        {
            if (_latest is { } latest && notRun.ToList() is { Count: > 0 } runs)
            {
                _log.Info($"{runs.Count} queued event(s) did not run; they run at the next start");
                Remember(latest.Without(runs));
            }
        }
        return FlushAsync();
    }

    /// <summary>Waits until the latest state handed over is in the file, without its delay (at stop).</summary>
    public Task FlushAsync()
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // After every step due before it, a write already waiting included: what was handed over is written by then.
        TimerThread.Shared.Post(() =>
        {
            try
            {
                WritePending();
                written.SetResult();
            }
            catch (Exception e)
            {
                written.SetException(e);
            }
        });
        return written.Task;
    }

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    /// <summary>Whether the file holds exactly <paramref name="expected"/>, read in chunks (no buffer of the file's size).</summary>
    private bool FileHolds(ReadOnlySpan<byte> expected)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            using var file = File.OpenHandle(_path);
            if (RandomAccess.GetLength(file) != expected.Length)
                return false;
            for (var offset = 0; offset < expected.Length;)
            {
                var read = RandomAccess.Read(file, chunk.AsSpan(0, Math.Min(chunk.Length, expected.Length - offset)), offset);
                if (read <= 0 || !chunk.AsSpan(0, read).SequenceEqual(expected.Slice(offset, read)))
                    return false;
                offset += read;
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private void WritePending()
    {
        RememberedStates states;
        lock (_gate)
        {
            // Nothing handed over (a delayed step after an at-once write took the state, a flush): the flags stay, an
            // urgency above all, which only a write that leaves the queued link out answers.
            if (_pending is null)
                return;
            states = _pending;
            _pending = null;
            _scheduled = _hurried = _urgent = false;
            _omitted.Set(_inFlight.Keys);
        }
        _text.ResetWrittenCount();
        states.WriteTo(_text, _omitted.IsEmpty ? null : _omitted);
        LoopGuard.Blocking("write of the remembered states", _path);
        var hash = Hash(_text.WrittenSpan);
        // The same length and hash as the last write: most likely unchanged, which the file itself confirms.
        if (_text.WrittenCount == _writtenLength && hash == _writtenHash && FileHolds(_text.WrittenSpan))
            return;
        var temporary = _path + ".new";
        try
        {
            File.Delete(temporary);
            using (var file = new FileStream(temporary, new FileStreamOptions
                   {
                       Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0,
                       UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                   }))
            {
                file.Write(_text.WrittenSpan);
            }
            File.Move(temporary, _path, overwrite: true);
            Interlocked.Increment(ref _writes);
            (_writtenLength, _writtenHash) = (_text.WrittenCount, hash);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Once: a runtime directory that cannot be written stays so; the next success says so again.
            if (!_warned)
                _log.Warn($"Cannot remember states in {_path}: {e.Message}; a restart will run every current state again");
            _warned = true;
            return;
        }
        if (_warned)
            _log.Info($"States remembered in {_path} again");
        _warned = false;
    }
}
