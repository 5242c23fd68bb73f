using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// Exactly once across boots and restarts, under the real systemd with the package installed and the real
/// systemd-networkd: a link already routable when the daemon first starts gets routable.d once; a restart
/// with nothing changed runs nothing; a change made while the daemon was stopped runs once when it is back.
/// </summary>
public class SystemdRestartTests
{
    private const string Unit = "network-broker.service";

    // nbt0 is networkd's (a static address: routable once its veth peer is up); the hooks record every run.
    private const string Prepare = """
        set -e
        ! getent passwd network-broker >/dev/null || userdel network-broker
        dpkg -i /tmp/@DEB@ >/dev/null
        # No udev in this machine: a read-only /sys tells networkd so, instead of holding links "pending".
        mount -o remount,ro,bind /sys
        ip link add nbt0 type veth peer name nbt0p
        ip link set nbt0p up
        mkdir -p /etc/systemd/network
        printf '[Match]\nName=nbt0\n\n[Network]\nAddress=192.0.2.1/24\nLinkLocalAddressing=no\n' > /etc/systemd/network/50-nbt0.network
        printf '[System]\nLogLevel = "debug"\n' > /etc/network-broker/network-broker.toml
        mkdir -p /var/lib/nbtest && chown network-broker: /var/lib/nbtest
        for state in routable no-carrier; do
            printf '#!/bin/sh\n[ "$LINK" = nbt0 ] || exit 0\necho "$LINK $STATE" >> /var/lib/nbtest/record\n' > /etc/network-broker/$state.d/10-record
            chmod 755 /etc/network-broker/$state.d/10-record
        done
        cat > /etc/network-broker/routable.d/20-environment <<'EOF'
        #!/bin/sh
        [ "$LINK" = nbt0 ] || exit 0
        { echo "uid=$(id -u) $(grep CapEff /proc/self/status | tr -d '\t')"
          env | grep -E '^(LINK|LINKINDEX|STATE|OperationalState|CarrierState|IFACE|ADDR|IP_ADDRS|IP6_ADDRS)=' | sort
          [ -n "$JSON" ] && echo "JSON is set"; } > /var/lib/nbtest/environment.new
        mv /var/lib/nbtest/environment.new /var/lib/nbtest/environment
        echo "seen by $(id -un)"
        EOF
        chmod 755 /etc/network-broker/routable.d/20-environment
        mkdir -p /etc/systemd/system/network-broker.service.d
        printf '[Service]\nReadWritePaths=/var/lib/nbtest\n' > /etc/systemd/system/network-broker.service.d/test.conf
        printf '[Unit]\nDescription=network-broker test machine\nWants=systemd-journald.service dbus.service systemd-networkd.service network-broker.service\n' > /etc/systemd/system/nbtest.target
        """;

    [Fact]
    public void A_boot_runs_the_current_state_once_a_restart_nothing_and_a_change_while_stopped_once()
    {
        using var machine = SystemdMachine.WithPackage(Prepare);
        // (routable.d runs, no-carrier.d runs): a daemon up before networkd brought nbt0 up may see it without carrier first.
        (int Routable, int NoCarrier) Runs()
        {
            var lines = machine.Sh("cat /var/lib/nbtest/record 2>/dev/null || true").Split('\n');
            return (lines.Count(l => l == "nbt0 routable"), lines.Count(l => l == "nbt0 no-carrier"));
        }
        void WaitFor(Func<bool> condition, string what)
        {
            try
            {
                machine.WaitFor(condition, what);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}\nrecord: {machine.Sh("cat /var/lib/nbtest/record 2>&1 || true")}\n" +
                    $"networkd: {machine.Sh("networkctl list --no-pager 2>&1; journalctl -u systemd-networkd -o cat --no-pager 2>&1 | tail -20")}\n" +
                    $"daemon: {machine.Journal(Unit)}");
            }
        }

        // Boot: routable.d once, whether the daemon came up before networkd configured nbt0 or after.
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active", "the unit to be active");
        WaitFor(() => Runs().Routable == 1, "routable.d for nbt0");
        // journald takes the daemon's lines in its own time, which the scripts' own files do not wait for.
        WaitFor(() => machine.Journal(Unit).Contains("first start of this boot"), "the start's line in the journal");
        var noCarrier = Runs().NoCarrier;

        // A restart with nothing changed: the states are remembered, nothing runs.
        var before = machine.Property(Unit, "MainPID");
        machine.Run("systemctl", "restart", Unit);
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active" && machine.Property(Unit, "MainPID") != before, "the restart");
        WaitFor(() => machine.Journal(Unit).Contains("remembered in /run/network-broker/states; only what changed meanwhile runs"), "the memory to be read");
        Thread.Sleep(3000); // nothing may come: a duplicate run would be queued within milliseconds of the start
        Assert.Equal((1, noCarrier), Runs());

        // Stopped (and started again, not restarted: the runtime directory is kept until reboot), nbt0 loses
        // its carrier meanwhile: no-carrier.d once when the daemon is back, routable.d not again.
        machine.Run("systemctl", "stop", Unit);
        Assert.Contains("states", machine.Run("ls", "/run/network-broker"));
        machine.Run("ip", "link", "set", "nbt0p", "down");
        machine.WaitFor(() => machine.Sh("networkctl status nbt0 --no-pager 2>/dev/null | grep -i 'State:' || true").Contains("no-carrier"), "networkd to see no carrier");
        machine.Run("systemctl", "start", Unit);
        WaitFor(() => Runs() == (1, noCarrier + 1), "no-carrier.d once after the start");
        Thread.Sleep(2000);
        Assert.Equal((1, noCarrier + 1), Runs());

        // A reboot forgets: a file from another boot is not this boot's memory.
        machine.Run("systemctl", "stop", Unit);
        machine.Sh("sed -i 's/^boot .*/boot 00000000-0000-0000-0000-000000000000/' /run/network-broker/states");
        machine.Run("systemctl", "start", Unit);
        WaitFor(() => Runs() == (1, noCarrier + 2), "the current state once after a boot");
        WaitFor(() => machine.Journal(Unit).Contains("is from an earlier boot"), "the earlier boot's line in the journal");

        // run-scripts runs what a real event runs, as it runs: same user, capabilities and variables; with the
        // daemon running the daemon runs them, without it the command builds the same event and drops to User=.
        // 20-environment writes its file whole (by rename), after 10-record's line: wait for the file, not the line.
        machine.Run("rm", "-f", "/var/lib/nbtest/environment");
        machine.Run("ip", "link", "set", "nbt0p", "up");
        WaitFor(() => Runs().Routable == 2, "routable.d for the carrier's return");
        machine.WaitFor(() => machine.Sh("test -e /var/lib/nbtest/environment && echo written || true").Contains("written"), "20-environment's file");
        var real = machine.Run("cat", "/var/lib/nbtest/environment");
        Assert.Contains("IFACE=nbt0\n", real);
        Assert.Contains("ADDR=192.0.2.1\n", real);
        Assert.Contains("JSON is set", real);
        Assert.Matches(@"^uid=\d+ CapEff:0000000000201000\n", real);
        machine.Run("rm", "/var/lib/nbtest/environment");
        var asked = machine.Run("network-broker", "run-scripts", "--link", "nbt0", "--state", "routable");
        Assert.Contains("20-environment: seen by network-broker", asked);
        Assert.Contains("/etc/network-broker/routable.d/20-environment: exit status 0", asked);
        Assert.Equal(real, machine.Run("cat", "/var/lib/nbtest/environment"));
        WaitFor(() => machine.Journal(Unit).Contains("asked to run routable.d for nbt0"), "run-scripts' line in the journal");

        machine.Run("systemctl", "stop", Unit);
        machine.Run("rm", "/var/lib/nbtest/environment");
        var alone = machine.Run("network-broker", "run-scripts", "--link", "nbt0", "--state", "routable");
        Assert.Contains("20-environment: seen by network-broker", alone);
        Assert.Equal(real, machine.Run("cat", "/var/lib/nbtest/environment"));
    }
}
