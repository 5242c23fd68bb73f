using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// Hooks that need the whole host, under the real systemd as PID 1 with the package installed: by default
/// (least privilege) restarting a unit, writing /etc and appending to /var/log fail, each with the reason in
/// the journal, while `ip route replace` and `ethtool -K` work; `full-host enable` makes all five work. The
/// unit and User= in the file never disagree silently, and a drop-in that empties the bounding set does not
/// crash-loop.
/// </summary>
public class SystemdFullHostTests
{
    private const string Unit = "network-broker.service";
    private const string Toml = "/etc/network-broker/network-broker.toml";

    // Five typical hooks in routes.d, each acting on the test's trigger routes only; a unit for the first to
    // restart; a veth for ethtool; /var/lib/nbtest where the hooks record (allowed by a test drop-in).
    private const string Prepare = """
        set -e
        ! getent passwd network-broker >/dev/null || userdel network-broker
        dpkg -i /tmp/@DEB@ >/dev/null
        printf '[System]\nGenerator = "dhclient"\nDHClientLeaseFile = "/var/lib/dhcp/dhclient.leases"\n' > /etc/network-broker/network-broker.toml
        mkdir -p /var/lib/nbtest && chown network-broker: /var/lib/nbtest
        hook() {
            printf '#!/bin/sh\ncase "$ROUTE_DST" in 198.51.10[0-9].0/24) ;; *) exit 0 ;; esac\n%s\nstatus=$?\necho "%s $status $ROUTE_DST" >> /var/lib/nbtest/record\nexit $status\n' "$2" "$1" \
                > /etc/network-broker/routes.d/$1
            chmod 755 /etc/network-broker/routes.d/$1
        }
        hook 10-restart 'systemctl try-restart nbtest-dummy.service'
        hook 20-etc 'echo "$ROUTE_DST" > /etc/nbtest-hook.conf'
        hook 30-varlog 'echo "$ROUTE_DST" >> /var/log/nbtest-hook.log'
        hook 40-route 'ip route replace 203.0.113.0/24 dev lo'
        hook 50-ethtool 'ethtool -K nbeth0 tx off'
        printf '[Service]\nExecStart=/bin/sleep infinity\n' > /etc/systemd/system/nbtest-dummy.service
        mkdir -p /etc/systemd/system/network-broker.service.d
        printf '[Service]\nReadWritePaths=/var/lib/nbtest\n' > /etc/systemd/system/network-broker.service.d/test.conf
        printf '[Unit]\nDescription=network-broker test machine\nWants=systemd-journald.service dbus.service nbtest-dummy.service network-broker.service\n' > /etc/systemd/system/nbtest.target
        """;

    [Fact]
    public void Five_typical_hooks_need_the_full_host_switch_for_three_and_user_never_disagrees_silently()
    {
        using var machine = SystemdMachine.WithPackage(Prepare);
        try
        {
            Run(machine);
        }
        catch (Exception e) when (e is TimeoutException or Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{e.Message}\njournal of {Unit}:\n{machine.Journal(Unit)}", e);
        }
    }

    private static void Run(SystemdMachine machine)
    {
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active", "the unit to be active");
        machine.Sh("ip link add nbeth0 type veth peer name nbeth1 && ip link set nbeth0 up && ip link set nbeth1 up");
        var uid = machine.Run("id", "-u", "network-broker").Trim();
        // journald takes the daemon's lines in its own time, which READY=1 and the scripts' own files do not wait for.
        machine.WaitFor(() => machine.Journal(Unit).Contains("Scripts run as network-broker"), "the start line in the journal");
        Assert.Contains($"Scripts run as network-broker (uid {uid}) with CAP_NET_ADMIN CAP_SYS_ADMIN: systemd started the daemon as network-broker (the unit's User=); " +
                        "hooks that need the whole host (restart services, write /etc or /var) need the full-host switch: /usr/lib/network-broker/full-host enable",
            machine.Journal(Unit));

        // Least privilege: the first three fail, each with its reason in the journal beside the script; the others work.
        var dummy = machine.Property("nbtest-dummy.service", "MainPID");
        var record = Trigger(machine, "198.51.100.0/24");
        Assert.Equal(["10-restart failed", "20-etc failed", "30-varlog failed", "40-route ok", "50-ethtool ok"], record);
        machine.WaitFor(() => machine.Journal(Unit).Contains("routes.d/50-ethtool succeeded"), "the last hook's line in the journal");
        var log = machine.Journal(Unit);
        Assert.Contains("routes.d/10-restart failed: exit status 1", log);
        Assert.Contains("routes.d/20-etc failed: exit status 2", log);
        Assert.Contains("Failed to try-restart nbtest-dummy.service: Interactive authentication required", log);
        Assert.Matches(@"nbtest-hook\.conf: (Read-only file system|Permission denied)", log);
        Assert.Matches(@"nbtest-hook\.log: (Read-only file system|Permission denied)", log);
        Assert.Equal(dummy, machine.Property("nbtest-dummy.service", "MainPID"));
        Assert.Contains("203.0.113.0/24 dev lo", machine.Run("ip", "route", "show", "203.0.113.0/24"));
        Assert.Contains("tx-checksumming: off", machine.Run("ethtool", "-k", "nbeth0"));

        // User = "root" in the file cannot take effect under this unit: said at reload (not "at the next restart") and at start.
        machine.Sh($"sed -i 's/^\\[System\\]/[System]\\nUser = \"root\"/' {Toml}");
        machine.Run("systemctl", "reload", Unit);
        machine.WaitFor(() => machine.Journal(Unit).Contains("Reload: User = "), "the reload's line in the journal");
        log = machine.Journal(Unit);
        Assert.Contains($"Reload: User = \"root\" in {Toml} cannot take effect: systemd started the daemon as network-broker (the unit's User=), " +
                        $"and only a daemon started as root can change user; scripts run as network-broker (uid {uid}) with CAP_NET_ADMIN CAP_SYS_ADMIN; " +
                        "to run hooks as root, enable the full-host switch: /usr/lib/network-broker/full-host enable", log);
        Assert.DoesNotContain("takes effect at the next restart", log);
        machine.Run("systemctl", "restart", Unit);
        machine.WaitFor(() => machine.Journal(Unit).Contains($"User = \"root\" in {Toml} cannot take effect"), "the warning at start");

        // The switch: one command; all five hooks work, as root with every capability.
        machine.Sh($"sed -i '/^User/d' {Toml}");
        Assert.Contains("full-host enabled", machine.Run("/usr/lib/network-broker/full-host", "enable"));
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active", "the unit to be active as root");
        Assert.Equal("enabled (/etc/systemd/system/network-broker.service.d/50-full-host.conf)", machine.Run("/usr/lib/network-broker/full-host", "status").Trim());
        Assert.Equal("root", machine.Property(Unit, "User"));
        // (A test machine's bounding set may lack a capability or two that the host's root has: named after "but".)
        machine.WaitFor(() => System.Text.RegularExpressions.Regex.IsMatch(machine.Journal(Unit),
            $"Scripts run as root with every capability( but [A-Z_ ]+)?: systemd started the daemon as root \\(the unit's User=\\) and User= is not set in {Toml}"), "the start line as root");
        machine.Run("ethtool", "-K", "nbeth0", "tx", "on");
        machine.Run("ip", "route", "del", "203.0.113.0/24");
        record = Trigger(machine, "198.51.101.0/24");
        Assert.Equal(["10-restart ok", "20-etc ok", "30-varlog ok", "40-route ok", "50-ethtool ok"], record);
        Assert.NotEqual(dummy, machine.Property("nbtest-dummy.service", "MainPID"));
        Assert.Equal("198.51.101.0/24", machine.Run("cat", "/etc/nbtest-hook.conf").Trim());
        Assert.Equal("198.51.101.0/24", machine.Run("cat", "/var/log/nbtest-hook.log").Trim());
        Assert.Contains("203.0.113.0/24 dev lo", machine.Run("ip", "route", "show", "203.0.113.0/24"));
        Assert.Contains("tx-checksumming: off", machine.Run("ethtool", "-k", "nbeth0"));

        // A drop-in that empties the bounding set: User= unset, the daemon runs as root without capabilities and says so;
        // User= set, it cannot change user: exit 78, and systemd does not restart it.
        // (TimeoutStopSec= short: without CAP_NET_ADMIN the daemon does not yet stop on SIGTERM, a known problem of its own.)
        machine.Sh("printf '[Service]\\nCapabilityBoundingSet=\\nTimeoutStopSec=2s\\n' > /etc/systemd/system/network-broker.service.d/60-empty.conf && systemctl daemon-reload");
        machine.Run("systemctl", "restart", Unit);
        machine.WaitFor(() => machine.Journal(Unit).Contains("Scripts run as root with no capabilities"), "the start line without capabilities");
        Assert.Equal("active", machine.Property(Unit, "ActiveState"));
        Assert.Equal("0", machine.Property(Unit, "NRestarts"));
        machine.Sh($"sed -i 's/^\\[System\\]/[System]\\nUser = \"network-broker\"/' {Toml}");
        machine.Sh($"systemctl restart {Unit} || true");
        Thread.Sleep(3000); // three times RestartSec=: long enough for a restart loop to show
        Assert.Equal("failed", machine.Property(Unit, "ActiveState"));
        Assert.Equal("78", machine.Property(Unit, "ExecMainStatus"));
        Assert.Equal("0", machine.Property(Unit, "NRestarts"));
        // The whole journal: lines of a process that has already exited may miss their unit's name.
        var all = machine.Run("journalctl", "-o", "cat", "--no-pager");
        Assert.Contains("Cannot become network-broker (User = \"network-broker\" in /etc/network-broker/network-broker.toml): started as root without " +
                        "CAP_SETUID, CAP_SETGID and CAP_SETPCAP", all);
        Assert.DoesNotContain("setresuid failed", all);

        // Off again: least privilege.
        machine.Sh("rm /etc/systemd/system/network-broker.service.d/60-empty.conf");
        Assert.Contains("full-host disabled", machine.Run("/usr/lib/network-broker/full-host", "disable"));
        machine.Run("systemctl", "restart", Unit);
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active", "the unit to be active again");
        Assert.Equal("network-broker", machine.Property(Unit, "User"));
        Assert.Equal("disabled", machine.Run("/usr/lib/network-broker/full-host", "status").Trim());

        // A broken file at start: EX_CONFIG, and no restart at all (RestartPreventExitStatus=78).
        machine.Sh($"printf '[System]\\nLogLevel = \"loud\"\\n' > {Toml}");
        machine.Sh($"systemctl restart {Unit} || true");
        Thread.Sleep(3000); // three times RestartSec=
        Assert.Equal("failed", machine.Property(Unit, "ActiveState"));
        Assert.Equal("78", machine.Property(Unit, "ExecMainStatus"));
        Assert.Equal("0", machine.Property(Unit, "NRestarts"));
    }

    /// <summary>Adds a route that the hooks act on and returns whether each one's command succeeded, in order.</summary>
    private static string[] Trigger(SystemdMachine machine, string route)
    {
        machine.Sh("rm -f /var/lib/nbtest/record");
        machine.Run("ip", "route", "add", route, "dev", "lo");
        machine.WaitFor(() => machine.Sh("cat /var/lib/nbtest/record 2>/dev/null || true").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 5, "the five hooks");
        return machine.Run("cat", "/var/lib/nbtest/record").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).Select(f => $"{f[0]} {(f[1] == "0" ? "ok" : "failed")}").ToArray();
    }
}
