using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Binary;

/// <summary>A script's output must cost the daemon a fixed buffer, however much it prints.</summary>
public class ScriptOutputMemoryTests : IDisposable
{
    /// <summary>
    /// The bound: 16 MB of peak RSS above the same run with a silent script. Buffering the output would
    /// cost at least its 50 MB (100 MB as .NET strings); the daemon keeps 4 KiB per stream and logs 64 KiB.
    /// </summary>
    private const long BoundKb = 16 * 1024;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<(long PeakKb, string Log)> PeakRss(string script)
    {
        var root = new TempDirectory();
        try
        {
            root.Script("routable", "10-print", script);
            var config = root.Write("network-broker.toml", "[System]\nUser = \"root\"\nScriptTimeoutSec = 120\n");
            using var broker = BrokerBinary.Start(["run-scripts", "--config", config, "--link", "lo", "--state", "routable"]);
            var peak = await broker.PeakRssUntilExitAsync(TimeSpan.FromSeconds(150));
            return (peak, broker.StandardError);
        }
        finally
        {
            root.Dispose();
        }
    }

    [Fact]
    public async Task A_script_printing_50_MB_does_not_grow_the_daemons_memory()
    {
        var (quiet, _) = await PeakRss("#!/bin/sh\nexit 0\n");
        // 50 MB of 100-byte lines on stdout, and 50 MB with no newline at all on stderr.
        var (noisy, log) = await PeakRss(
            "#!/bin/bash\nyes \"$(printf 'x%.0s' {1..99})\" | head -c 50000000\nhead -c 50000000 /dev/zero | tr '\\0' 'y' >&2\n");

        Assert.True(noisy - quiet < BoundKb, $"peak RSS {noisy} kB against {quiet} kB for a silent script");
        Assert.Contains("routable.d/10-print succeeded", log);
        Assert.Matches(@"routable\.d/10-print: 99\d{6} more bytes of output were not logged", log);
        Assert.True(log.Length < 1_000_000, $"the log itself is bounded too: {log.Length} characters");
    }
}
