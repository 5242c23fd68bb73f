using System.Globalization;

namespace NetworkBroker.Networkd;

/// <summary>networkd's runtime files: per-link state (DNS, NTP, domains, .network file) and DHCP leases.</summary>
public sealed class NetworkdFiles(string directory = NetworkdFiles.DefaultDirectory)
{
    public const string DefaultDirectory = "/run/systemd/netif";

    public string Directory => directory;

    public string LeasePath(int ifindex) => Path.Combine(directory, "leases", ifindex.ToString(CultureInfo.InvariantCulture));

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
        foreach (var line in ReadLines(Path.Combine(directory, "links", ifindex.ToString(CultureInfo.InvariantCulture))) ?? [])
        {
            var eq = line.IndexOf('=');
            if (eq > 0 && !line.StartsWith('#'))
                values[line[..eq]] = line[(eq + 1)..];
        }
        return values;
    }

    private static string[]? ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Missing (no lease yet, link gone) or unreadable: the variable is simply not set.
            return null;
        }
    }
}
