using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>`make deb`, run once for all the tests that need the package (they run in parallel).</summary>
public static class DebianPackage
{
    private static readonly Lazy<string> Built = new(() =>
        Shell.Run("make", "-C", Repository, "--no-print-directory", "deb").Trim().Split('\n').Last(l => l.EndsWith(".deb", StringComparison.Ordinal)));

    /// <summary>The package file; building it runs lintian (warnings and errors fail the build).</summary>
    public static string Path => Built.Value;

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
