using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// A Debian package to install inside a test machine only, never on this one (systemd-resolved's installation
/// rewrites /etc/resolv.conf): fetched with apt-get's --download-only into apt's cache, of the version that
/// matches the systemd installed here.
/// </summary>
public static class DownloadedPackage
{
    private static readonly Lazy<string> Resolved = new(() => Fetch("systemd-resolved", "systemd"));

    /// <summary>systemd-resolved's .deb, the same version as systemd.</summary>
    public static string SystemdResolved => Resolved.Value;

    private static string Fetch(string package, string versionOf)
    {
        var version = Shell.Run("dpkg-query", "-W", "-f=${Version}", versionOf).Trim();
        var arch = Shell.Run("dpkg", "--print-architecture").Trim();
        var path = $"/var/cache/apt/archives/{package}_{version.Replace(":", "%3a")}_{arch}.deb";
        for (var attempt = 0; !File.Exists(path); attempt++)
        {
            if (attempt == 6)
                throw new InvalidOperationException($"could not download {package} {version} into {path}");
            try
            {
                // An old package list may not know the version installed: update once, then ask again.
                if (attempt == 1)
                    Shell.Run("apt-get", "update", "-qq");
                // apt-get download, not install --download-only, which fetches nothing when the package is installed here.
                Shell.Run(new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" },
                    "sh", "-c", $"cd /var/cache/apt/archives && apt-get download -qq {package}={version}");
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
                Thread.Sleep(3000); // apt's lock, held by another installation for a while
            }
        }
        return path;
    }
}
