using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>What `make install` puts in place, and that systemd accepts the unit.</summary>
public class InstallTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();


    [Fact]
    public void Make_install_ships_binary_config_directories_unit_sysusers_and_protocol_name_and_systemd_accepts_the_unit()
    {
        var repository = DebianPackage.Repository;
        DebianPackage.Make("install", $"DESTDIR={_root.Path}");

        string At(string path) => Path.Combine(_root.Path, path.TrimStart('/'));
        Assert.True(File.Exists(At("/usr/bin/network-broker")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(At("/usr/bin/network-broker")));
        Assert.Contains("[Network]", File.ReadAllText(At("/etc/network-broker/network-broker.toml")));
        foreach (var state in NetworkBroker.Scripts.ScriptDirectories.Standard)
            Assert.True(Directory.Exists(At($"/etc/network-broker/{state}.d")), state);
        Assert.Contains("250\tnetwork-broker", File.ReadAllText(At("/etc/iproute2/rt_protos.d/network-broker.conf")));
        Assert.Contains("u network-broker", File.ReadAllText(At("/usr/lib/sysusers.d/network-broker.conf")));
        Assert.True(File.Exists(At("/usr/share/doc/network-broker/README.md")));
        Assert.True(File.Exists(At("/usr/share/bash-completion/completions/network-broker")));
        // Every example, executable, where the README says.
        var examples = Path.Combine(repository, "examples");
        foreach (var example in Directory.EnumerateFiles(examples, "*", SearchOption.AllDirectories))
        {
            var installed = At("/usr/share/doc/network-broker/examples/" + Path.GetRelativePath(examples, example));
            Assert.Equal(File.ReadAllText(example), File.ReadAllText(installed));
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(installed));
        }
        // The man pages render without warnings and document every key.
        var page = Shell.Run("/bin/sh", "-c", $"MANWIDTH=100 man --warnings -l {At("/usr/share/man/man5/network-broker.toml.5")} 2>&1");
        foreach (var (_, key) in NetworkBroker.Configuration.ConfigurationLoader.Keys)
            Assert.Contains(key + "=", page);
        Assert.DoesNotContain("troff:", page); // groff's own warnings
        Assert.Contains("SIGHUP", Shell.Run("/bin/sh", "-c", $"MANWIDTH=100 man -l {At("/usr/share/man/man8/network-broker.8")} 2>&1"));

        // The default configuration is valid as shipped. Checked as an unprivileged user: as root check-config would
        // also want User= (network-broker, which the package creates) to exist on this machine, as the daemon would.
        Attacker.Run(null, At("/usr/bin/network-broker"), "check-config", "--config", At("/etc/network-broker/network-broker.toml"));

        var unit = File.ReadAllText(At("/usr/lib/systemd/system/network-broker.service"));
        Assert.Contains("Type=notify", unit);
        Assert.Contains("AmbientCapabilities=CAP_NET_ADMIN CAP_SYS_ADMIN", unit);
        // Verify a copy that starts the installed binary where it is (no /usr/bin/network-broker on the test machine).
        var copy = _root.Write("network-broker.service", unit.Replace("=/usr/bin/network-broker", $"={At("/usr/bin/network-broker")}"));
        // verify also looks up the Documentation= man pages: the installed ones, under DESTDIR.
        Shell.Run(new Dictionary<string, string> { ["MANPATH"] = At("/usr/share/man") }, "systemd-analyze", "verify", copy);
    }
}
