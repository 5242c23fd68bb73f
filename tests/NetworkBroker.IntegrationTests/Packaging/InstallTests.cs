using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>What `make install` puts in place, and that systemd accepts the unit.</summary>
public class InstallTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private static string Repository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Makefile")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("no Makefile above the test's directory");
    }

    [Fact]
    public void Make_install_ships_binary_config_directories_unit_sysusers_and_protocol_name_and_systemd_accepts_the_unit()
    {
        var repository = Repository();
        Shell.Run("make", "-C", repository, "--no-print-directory", "install", $"DESTDIR={_root.Path}");

        string At(string path) => Path.Combine(_root.Path, path.TrimStart('/'));
        Assert.True(File.Exists(At("/usr/bin/network-broker")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(At("/usr/bin/network-broker")));
        Assert.Contains("[Network]", File.ReadAllText(At("/etc/network-broker/network-broker.toml")));
        foreach (var state in NetworkBroker.Scripts.ScriptDirectories.Standard)
            Assert.True(Directory.Exists(At($"/etc/network-broker/{state}.d")), state);
        Assert.Contains("250\tnetwork-broker", File.ReadAllText(At("/etc/iproute2/rt_protos.d/network-broker.conf")));
        Assert.Contains("u network-broker", File.ReadAllText(At("/usr/lib/sysusers.d/network-broker.conf")));
        Assert.True(File.Exists(At("/usr/share/doc/network-broker/README.md")));

        // The default configuration is valid as shipped.
        Shell.Run(At("/usr/bin/network-broker"), "check-config", "--config", At("/etc/network-broker/network-broker.toml"));

        var unit = File.ReadAllText(At("/usr/lib/systemd/system/network-broker.service"));
        Assert.Contains("Type=notify", unit);
        Assert.Contains("AmbientCapabilities=CAP_NET_ADMIN CAP_SYS_ADMIN", unit);
        // Verify a copy that starts the installed binary where it is (no /usr/bin/network-broker on the test machine).
        var copy = _root.Write("network-broker.service", unit.Replace("ExecStart=/usr/bin/network-broker", $"ExecStart={At("/usr/bin/network-broker")}"));
        Shell.Run("systemd-analyze", "verify", copy);
    }
}
