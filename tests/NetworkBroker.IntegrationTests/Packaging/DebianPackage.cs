using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>`make deb`, run once for all the tests that need the package (they run in parallel).</summary>
public static class DebianPackage
{
    private static readonly Lazy<string> Built = new(() =>
        Make("deb").Trim().Split('\n').Last(l => l.EndsWith(".deb", StringComparison.Ordinal)));

    /// <summary>The package file; building it runs lintian (warnings and errors fail the build).</summary>
    public static string Path => Built.Value;

    /// <summary>
    /// Runs a make target of the repository without remaking a binary that exists: tests run it in parallel, and
    /// copying onto a running binary fails ("Text file busy"). `make test` built it just before.
    /// </summary>
    public static string Make(params string[] goals)
    {
        string[] keep = File.Exists(System.IO.Path.Combine(Repository, "bin/network-broker")) ? ["-o", "bin/network-broker"] : [];
        return Shell.Run("make", ["-C", Repository, "--no-print-directory", .. keep, .. goals]);
    }

    public static string Repository
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "Makefile")))
                directory = directory.Parent;
            return directory?.FullName ?? throw new InvalidOperationException("no Makefile above the test's directory");
        }
    }
}
