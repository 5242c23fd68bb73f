using System.Globalization;
using NetworkBroker.Logging;
using NetworkBroker.Security;

namespace NetworkBroker.Networkd;

/// <summary>
/// networkd's runtime files: per-link state (DNS, NTP, domains, .network file) and DHCP leases. networkd's
/// user owns the directory, so every file is read as a peer's (<see cref="PeerFile"/>): no symbolic link on
/// the path, a regular file owned by root or systemd-network, at most 1 MiB. A refused file is as good as
/// missing, and says why in the log once per path and reason.
/// </summary>
public sealed class NetworkdFiles
{
    public const string DefaultDirectory = "/run/systemd/netif";
    public const string User = "systemd-network";

    private readonly PeerFileRules _rules;
    private readonly Logger? _log;
    private readonly RepeatFilter _reported = new();

    public NetworkdFiles(string directory = DefaultDirectory, Logger? log = null)
    {
        Directory = directory;
        _log = log;
        uint[] owners = Privileges.PrivilegeDrop.LookUp(User, out var uid, out _) ? [0, uid] : [0];
        _rules = new PeerFileRules { NoLinksOnPath = true, Owners = owners, OwnersText = $"root or {User}" };
    }

    public string Directory { get; }

    public string LeasePath(int ifindex) => Path.Combine(Directory, "leases", ifindex.ToString(CultureInfo.InvariantCulture));

    /// <summary>The link's DHCP lease as networkd wrote it (KEY=value lines, comments dropped), or null when it has none.</summary>
    public string? Lease(int ifindex)
    {
        var lines = ReadLines(LeasePath(ifindex));
        return lines is null ? null : string.Join('\n', lines.Where(l => l.Length > 0 && !l.StartsWith('#')));
    }

    /// <summary>KEY=value pairs of links/&lt;ifindex&gt; (empty when there is no such file).</summary>
    public IReadOnlyDictionary<string, string> LinkState(int ifindex)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in ReadLines(Path.Combine(Directory, "links", ifindex.ToString(CultureInfo.InvariantCulture))) ?? [])
        {
            var eq = line.IndexOf('=');
            if (eq > 0 && !line.StartsWith('#'))
                values[line[..eq]] = line[(eq + 1)..];
        }
        return values;
    }

    private string[]? ReadLines(string path)
    {
        var file = PeerFile.Read(path, _rules);
        if (file.IsRead)
        {
            _reported.Forget(path);
            var lines = file.Text.ReplaceLineEndings("\n").Split('\n');
            return lines.Length > 0 && lines[^1].Length == 0 ? lines[..^1] : lines;
        }
        // Missing (no lease yet, link gone) is ordinary; anything else is worth a word, once.
        if (file.Refusal != PeerFileRefusal.Missing && _reported.IsNew(path, file.Reason!))
            _log?.Warn($"networkd: not reading {path}: {file.Reason}");
        return null;
    }
}
