using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// `make deb` builds a package lintian accepts, and dpkg installs, upgrades, removes and purges it in a
/// scratch root: an overlay of this machine's / (so dpkg's database and the dependencies are the real
/// ones) in a private mount namespace, entered with chroot. Nothing reaches the machine itself.
/// </summary>
public class DebianPackageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();


    [Fact]
    public void Make_deb_builds_a_lintian_clean_package_that_installs_upgrades_and_purges_in_a_scratch_root()
    {
        Assert.True(File.Exists("/usr/bin/lintian"), "lintian is not installed (make deps installs it)");
        var deb = DebianPackage.Path;
        Assert.True(File.Exists(deb), deb);

        // The control file and the contents.
        var fields = Shell.Run("dpkg-deb", "-f", deb, "Package", "Architecture", "Depends", "Recommends");
        Assert.Contains("Package: network-broker", fields);
        Assert.Contains("Depends: libc6 (>= 2.34), systemd", fields);
        Assert.Contains("Recommends: iproute2, dbus, polkitd", fields);
        var contents = Shell.Run("dpkg-deb", "-c", deb);
        foreach (var path in new[]
                 {
                     "./usr/bin/network-broker", "./lib/systemd/system/network-broker.service", "./usr/lib/sysusers.d/network-broker.conf",
                     "./etc/network-broker/network-broker.toml", "./etc/iproute2/rt_protos.d/network-broker.conf", "./etc/network-broker/routable.d/",
                     "./usr/share/man/man8/network-broker.8.gz", "./usr/share/man/man5/network-broker.toml.5.gz",
                     "./usr/share/doc/network-broker/copyright", "./usr/share/doc/network-broker/changelog.Debian.gz",
                     "./usr/share/bash-completion/completions/network-broker",
                     "./usr/share/doc/network-broker/examples/routable.d/50-ddns-update",
                     "./usr/share/doc/network-broker/examples/manager.d/50-online-notify",
                     "./usr/share/polkit-1/rules.d/50-network-broker.rules", "./usr/lib/network-broker/full-host.conf",
                 })
            Assert.Contains(path, contents);
        Assert.Matches(@"-rwxr-xr-x root/root .* \./usr/lib/network-broker/full-host\n", contents);
        Assert.All(contents.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Contains(" root/root ", line));
        Assert.Equal("/etc/network-broker/network-broker.toml\n/etc/iproute2/rt_protos.d/network-broker.conf",
            Shell.Run("/bin/sh", "-c", $"dpkg-deb --ctrl-tarfile {deb} | tar -xOf - ./conffiles").Trim());

        var hostHadIt = (File.Exists("/usr/bin/network-broker"), Directory.Exists("/etc/network-broker"));
        var root = _dir.Combine("root");
        var script = $$"""
            set -eu
            root={{root}}
            mkdir -p {{_dir.Combine("upper")}} {{_dir.Combine("work")}} "$root"
            mount -t overlay overlay -o lowerdir=/,upperdir={{_dir.Combine("upper")}},workdir={{_dir.Combine("work")}} "$root"
            mount -t proc proc "$root/proc"
            mount --rbind /dev "$root/dev"
            mount -t tmpfs tmpfs "$root/run"
            mount -t tmpfs tmpfs "$root/tmp"
            cp {{deb}} "$root/tmp/network-broker.deb"
            inside() { chroot "$root" "$@"; }
            ! inside getent passwd network-broker >/dev/null || inside userdel network-broker
            echo "before: $(inside dpkg-query -W -f='${Status}' network-broker 2>/dev/null || echo absent)"

            inside dpkg -i /tmp/network-broker.deb
            echo "installed: $(inside dpkg-query -W -f='${Status} ${Version}' network-broker)"
            echo "user: $(inside getent passwd network-broker | cut -d: -f1,6,7)"
            echo "version: $(inside network-broker --version)"
            inside network-broker check-config >/dev/null && echo "check-config: ok"
            inside systemd-analyze verify /lib/systemd/system/network-broker.service && echo "verify: ok"
            [ -L "$root/etc/systemd/system/multi-user.target.wants/network-broker.service" ] && echo "enabled: yes"
            echo "directories: $(stat -c '%U %a' "$root/etc/network-broker/routable.d")"

            echo '# edited by the admin' >> "$root/etc/network-broker/network-broker.toml"
            inside dpkg -i /tmp/network-broker.deb
            grep -q 'edited by the admin' "$root/etc/network-broker/network-broker.toml" && echo "upgrade keeps the edited configuration"

            inside dpkg -r network-broker
            [ ! -e "$root/usr/bin/network-broker" ] && echo "removed: binary gone"
            [ -e "$root/etc/network-broker/network-broker.toml" ] && echo "removed: configuration kept"
            inside dpkg -P network-broker
            [ ! -e "$root/etc/network-broker" ] && echo "purged: /etc/network-broker gone"
            [ ! -e "$root/etc/systemd/system/multi-user.target.wants/network-broker.service" ] && echo "purged: unit disabled"
            echo "after purge: $(inside dpkg-query -W -f='${Status}' network-broker 2>/dev/null || echo absent)"
            """;
        var output = Shell.Run("unshare", "-m", "--propagation", "private", "bash", "-c", script);

        Assert.Contains("before: absent", output);
        Assert.Contains($"installed: install ok installed {BuildInfo.Version}-1", output);
        Assert.Contains("user: network-broker:/", output);
        Assert.Contains($"version: network-broker {BuildInfo.Version}", output);
        Assert.Contains("check-config: ok", output);
        Assert.Contains("verify: ok", output);
        Assert.Contains("enabled: yes", output);
        Assert.Contains("directories: root 755", output);
        Assert.Contains("upgrade keeps the edited configuration", output);
        Assert.Contains("removed: binary gone", output);
        Assert.Contains("removed: configuration kept", output);
        Assert.Contains("purged: /etc/network-broker gone", output);
        Assert.Contains("purged: unit disabled", output);
        Assert.Matches("after purge: (absent|unknown ok not-installed)", output);
        // The machine itself is untouched.
        Assert.Equal(hostHadIt, (File.Exists("/usr/bin/network-broker"), Directory.Exists("/etc/network-broker")));
    }
}
