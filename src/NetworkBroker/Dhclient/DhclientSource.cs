using System.Collections.Concurrent;
using System.IO.Enumeration;
using System.Threading.Channels;
using NetworkBroker.Events;
using NetworkBroker.Logging;
using NetworkBroker.Security;

namespace NetworkBroker.Dhclient;

/// <summary>
/// dhclient as an event source. Watches the directory of DHClientLeaseFile= (a path, or a glob in its
/// file name) with inotify, so creation, truncation, atomic rename and deletion are all seen; a burst of
/// writes is coalesced into one read, and a file that ends inside a block (dhclient is mid-write) is read
/// again a moment later. Each read posts the file's current leases; a lease that expires without the
/// file changing is noticed by one timer set for the earliest expiry, never by polling.
/// </summary>
public sealed class DhclientSource : IDisposable
{
    public static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(150);
    private const int IncompleteRetries = 10;

    private readonly ChannelWriter<BrokerEvent> _events;
    private readonly Logger _log;
    private readonly string _directory;
    private readonly string _pattern;
    private readonly ConcurrentDictionary<string, Timer> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _incomplete = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTime> _expiries = new(StringComparer.Ordinal);
    // Each file's leases as last read whole: a file that stops parsing keeps them until they expire.
    private readonly ConcurrentDictionary<string, IReadOnlyList<DhcpLease>> _lastRead = new(StringComparer.Ordinal);
    private readonly RepeatFilter _skipped = new();
    private readonly Timer _expiry;
    // Reads of one source are serialised: a file's timer and the expiry timer must not post out of order.
    private readonly Lock _reading = new();
    private FileSystemWatcher? _watcher;
    private readonly RepeatFilter _refused = new();

    // dhclient runs as root: a lease file of anyone else, a link, a FIFO or a giant is not its.
    private readonly PeerFileRules _rules = new()
    {
        Owners = [0, Native.Libc.geteuid()],
        OwnersText = "root or the daemon's user",
    };
    private Timer? _waitForDirectory;

    public DhclientSource(ChannelWriter<BrokerEvent> events, Logger log, string leaseFile)
    {
        _events = events;
        _log = log;
        _directory = Path.GetDirectoryName(leaseFile) ?? "/";
        _pattern = Path.GetFileName(leaseFile);
        _expiry = new Timer(_ => ReadAll(initial: false));
    }

    /// <summary>
    /// A started source for each of DHClientLeaseFile='s paths. Of several, those whose directory does not exist
    /// are left out (the default names both Debian's and Red Hat's directory, one machine has one); when none
    /// exists, each waits for its directory.
    /// </summary>
    public static IReadOnlyList<DhclientSource> ForEach(IReadOnlyList<string> leaseFiles, ChannelWriter<BrokerEvent> events, Logger log)
    {
        var present = leaseFiles.Where(f => Directory.Exists(Path.GetDirectoryName(f) ?? "/")).ToList();
        foreach (var absent in leaseFiles.Except(present))
            if (present.Count > 0)
                log.Debug($"dhclient: {Path.GetDirectoryName(absent)} does not exist; {absent} not watched");
        var sources = (present.Count > 0 ? present : leaseFiles).Select(f => new DhclientSource(events, log, f)).ToList();
        foreach (var source in sources)
            source.Start();
        return sources;
    }

    public void Start()
    {
        if (!Directory.Exists(_directory))
        {
            // The one case that polls: until dhclient's directory exists there is nothing to watch.
            _log.Warn($"dhclient: {_directory} does not exist; watching for it every 10 s");
            _waitForDirectory = new Timer(_ =>
            {
                if (!Directory.Exists(_directory))
                    return;
                _waitForDirectory?.Dispose();
                Watch();
                ReadAll(initial: false);
            }, null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
            return;
        }
        Watch();
        ReadAll(initial: true);
    }

    private void Watch()
    {
        _watcher = new FileSystemWatcher(_directory, _pattern)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
            IncludeSubdirectories = false,
        };
        _watcher.Created += (_, e) => Schedule(e.FullPath);
        _watcher.Changed += (_, e) => Schedule(e.FullPath);
        _watcher.Deleted += (_, e) => Schedule(e.FullPath);
        _watcher.Renamed += (_, e) =>
        {
            if (Matches(e.OldFullPath))
                Schedule(e.OldFullPath);
            if (Matches(e.FullPath))
                Schedule(e.FullPath);
        };
        _watcher.Error += (_, e) =>
        {
            _log.Warn($"dhclient: watching {_directory} failed ({e.GetException().Message}); re-reading every lease file");
            ReadAll(initial: false);
        };
        _watcher.EnableRaisingEvents = true;
    }

    private bool Matches(string path) =>
        Path.GetDirectoryName(path) == _directory && FileSystemName.MatchesSimpleExpression(_pattern, Path.GetFileName(path));

    private void ReadAll(bool initial)
    {
        IEnumerable<string> files;
        Core.LoopGuard.Blocking("dhclient lease directory listing", _directory);
        try
        {
            files = Directory.EnumerateFiles(_directory, _pattern).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warn($"dhclient: cannot list {_directory}: {Native.ErrorText.Of(e)}");
            return;
        }
        foreach (var file in files.Concat(_expiries.Keys).Distinct())
            Read(file, initial);
    }

    /// <summary>Coalesces a burst of changes of one file into one read after <see cref="Coalesce"/>.</summary>
    private void Schedule(string path, TimeSpan? delay = null)
    {
        var timer = _pending.GetOrAdd(path, p => new Timer(_ =>
        {
            if (_pending.TryRemove(p, out var self))
                self.Dispose();
            Read(p, initial: false);
        }));
        timer.Change(delay ?? Coalesce, Timeout.InfiniteTimeSpan);
    }

    private void Read(string path, bool initial)
    {
        lock (_reading)
            ReadLocked(path, initial);
    }

    private void ReadLocked(string path, bool initial)
    {
        var file = PeerFile.Read(path, _rules);
        if (file.Refusal == PeerFileRefusal.Missing)
        {
            // Deleted (or renamed away): its leases are gone.
            _expiries.TryRemove(path, out _);
            _lastRead.TryRemove(path, out _);
            Post(new LeasesRead(path, [], initial));
            return;
        }
        IReadOnlyList<DhcpLease>? leases = null;
        string problem;
        var sayIt = true;
        if (!file.IsRead)
        {
            problem = $"not reading {PeerText.FileName(path)}: {file.Reason}";
            sayIt = _refused.IsNew(path, file.Reason!);
        }
        else
        {
            _refused.Forget(path);
            problem = "";
            var skipped = new List<LeaseParseException>();
            try
            {
                leases = LeaseFileParser.Parse(file.Text, path, skipped);
                _incomplete.TryRemove(path, out _);
                _lastRead[path] = leases;
                ReportSkipped(path, skipped);
            }
            catch (LeaseParseException e) when (e.Incomplete && _incomplete.AddOrUpdate(path, 1, (_, n) => n + 1) <= IncompleteRetries)
            {
                Schedule(path); // dhclient is probably still writing it
                return;
            }
            catch (LeaseParseException e)
            {
                _incomplete.TryRemove(path, out _);
                problem = $"ignoring {PeerText.FileName(path)}: {e.Message}";
            }
        }
        if (leases is null)
        {
            // Refused (another owner, a link, too large) or no longer parsing: what the file said when it last parsed
            // stands, and expires when it would have. A file that stays so must not keep a lease's DNS servers in
            // resolved for ever, nor its stale expiry the timer busy.
            var known = _lastRead.GetValueOrDefault(path);
            if (sayIt)
                _log.Error($"dhclient: {problem}{(known is null ? "" : "; its leases as last read stay until they expire")}");
            if (known is null)
                return;
            leases = known;
        }

        var now = DateTime.UtcNow;
        var current = LeaseFileParser.Current(leases, now);
        if (current.Select(l => l.Expire).OfType<DateTime>().DefaultIfEmpty(DateTime.MaxValue).Min() is var next && next != DateTime.MaxValue)
            _expiries[path] = next;
        else
            _expiries.TryRemove(path, out _);
        ArmExpiry(now);
        Post(new LeasesRead(path, current, initial));
    }

    /// <summary>
    /// The options a DHCP server sent that the file holds as no value of theirs (see <see cref="LeaseFileParser"/>):
    /// said when they change, at most 4 lines, not at every renewal that writes the same file again.
    /// </summary>
    private void ReportSkipped(string path, List<LeaseParseException> skipped)
    {
        if (skipped.Count == 0)
        {
            _skipped.Forget(path);
            return;
        }
        if (!_skipped.IsNew(path, string.Join('\n', skipped.Select(e => e.Message))))
            return;
        foreach (var e in skipped.Take(3))
            _log.Warn($"dhclient: {e.Message}: the option is left out of its lease");
        if (skipped.Count > 3)
            _log.Warn($"dhclient: {PeerText.FileName(path)}: {skipped.Count - 3} more options left out");
    }

    private void ArmExpiry(DateTime now)
    {
        if (_expiries.IsEmpty)
        {
            _expiry.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        var due = _expiries.Values.Min() - now + TimeSpan.FromMilliseconds(100);
        _expiry.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due > TimeSpan.FromDays(30) ? TimeSpan.FromDays(30) : due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>On a timer thread, in file order (reads are serialised).</summary>
    private void Post(BrokerEvent brokerEvent) => _events.WriteWaiting(brokerEvent);

    public void Dispose()
    {
        _watcher?.Dispose();
        _waitForDirectory?.Dispose();
        _expiry.Dispose();
        foreach (var timer in _pending.Values)
            timer.Dispose();
    }
}
