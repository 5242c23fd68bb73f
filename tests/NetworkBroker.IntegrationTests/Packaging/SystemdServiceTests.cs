using System.Text.Json;
using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// The Debian package's unit under the real systemd (PID 1 of a throw-away machine): the daemon runs as
/// network-broker with exactly CAP_NET_ADMIN and CAP_SYS_ADMIN, tells systemd it is ready and what it
/// watches, logs to the journal with fields, reloads, feeds the watchdog and is restarted when it stops
/// answering or crashes, and on stop lets the running script finish.
/// </summary>
public class SystemdServiceTests
{
    private const string Unit = "network-broker.service";


    // The package as shipped, plus what the test needs: its own scripts, a quiet source (no networkd here),
    // a directory the scripts may write to under ProtectSystem=strict (a drop-in, as an admin would add), and a
    // watchdog short enough to see it work.
    private const string Prepare = """
        set -e
        ! getent passwd network-broker >/dev/null || userdel network-broker
        dpkg -i /tmp/@DEB@ >/dev/null
        cat > /etc/network-broker/network-broker.toml <<'EOF'
        [System]
        Generator = "dhclient"
        DHClientLeaseFile = "/var/lib/dhcp/dhclient.leases"
        EOF
        mkdir -p /var/lib/nbtest && chown network-broker: /var/lib/nbtest
        cat > /etc/network-broker/routes.d/10-record <<'EOF'
        #!/bin/sh
        echo "$LINK $ROUTE_DST uid=$(id -u) $(grep CapEff /proc/self/status | cut -f2)" >> /var/lib/nbtest/record
        EOF
        cat > /etc/network-broker/routes.d/20-slow <<'EOF'
        #!/bin/sh
        [ "$ROUTE_DST" = 198.51.102.0/24 ] || exit 0
        echo started >> /var/lib/nbtest/slow
        while [ ! -e /var/lib/nbtest/release ]; do sleep 0.05; done
        echo finished >> /var/lib/nbtest/slow
        EOF
        chmod 755 /etc/network-broker/routes.d/10-record /etc/network-broker/routes.d/20-slow
        mkdir -p /etc/systemd/system/network-broker.service.d
        printf '[Service]\nReadWritePaths=/var/lib/nbtest\nWatchdogSec=2s\n' > /etc/systemd/system/network-broker.service.d/test.conf
        printf '[Unit]\nDescription=network-broker test machine\nWants=systemd-journald.service network-broker.service\n' > /etc/systemd/system/nbtest.target
        """;

    [Fact]
    public void The_packaged_unit_runs_under_systemd_as_its_user_reloads_feeds_the_watchdog_restarts_and_stops_gracefully()
    {
        using var machine = SystemdMachine.WithPackage(Prepare);

        // Type=notify: active means READY=1 arrived; STATUS= is what `systemctl status` shows.
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active", "the unit to be active");
        Assert.Equal("Watching 1 links (1 selected); 0 rules, 0 routes managed; 0 scripts run, 0 failed", machine.Property(Unit, "StatusText"));
        var uid = machine.Run("id", "-u", "network-broker").Trim();
        var main = machine.Property(Unit, "MainPID");
        var threads = machine.Sh($"grep -h -E '^(Uid|CapEff):' /proc/{main}/task/*/status | sort | uniq -c").Trim().Split('\n');
        Assert.Equal(2, threads.Length);
        Assert.Matches($@"^\s*\d+ CapEff:\s+0000000000201000$", threads[0]);
        Assert.Matches($@"^\s*\d+ Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", threads[1]);

        // A route change runs routes.d as the daemon's user with the two capabilities; the journal has the fields.
        machine.Run("ip", "route", "add", "198.51.100.0/24", "dev", "lo");
        machine.WaitFor(() => machine.Property(Unit, "StatusText").EndsWith("; 2 scripts run, 0 failed", StringComparison.Ordinal), "STATUS= to count the scripts");
        Assert.Equal($"lo 198.51.100.0/24 uid={uid} 0000000000201000", machine.Run("cat", "/var/lib/nbtest/record").Trim());
        var entries = machine.Run("journalctl", "-o", "json", "--no-pager", "LINK=lo", "SCRIPT=/etc/network-broker/routes.d/10-record")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var finished = Assert.Single(entries, e => e.TryGetProperty("EXIT_STATUS", out _));
        Assert.Equal("0", finished.GetProperty("EXIT_STATUS").GetString());
        Assert.Equal(Unit, finished.GetProperty("_SYSTEMD_UNIT").GetString());
        Assert.Equal("routes", finished.GetProperty("STATE").GetString());
        Assert.Equal(uid, finished.GetProperty("_UID").GetString());

        // status and the control socket in the RuntimeDirectory= systemd made.
        var status = machine.Run("network-broker", "status");
        Assert.Contains($"running: pid {main}, network-broker {BuildInfo.Version}, user network-broker (uid {uid})", status);
        Assert.Contains("scripts: 2 run for 1 events, 0 failed", status);

        machine.Run("systemctl", "reload", Unit);
        // journald takes the line in its own time, after the reload's READY=1 reached systemd.
        machine.WaitFor(() => machine.Journal(Unit).Contains("Reloaded /etc/network-broker/network-broker.toml"), "the reload in the journal");
        Assert.Equal(main, machine.Property(Unit, "MainPID"));

        // WatchdogSec=: the pings reach systemd while the loop answers; a daemon that stops answering is restarted.
        var ping = long.Parse(machine.Property(Unit, "WatchdogTimestampMonotonic"));
        machine.WaitFor(() => long.Parse(machine.Property(Unit, "WatchdogTimestampMonotonic")) > ping, "a watchdog ping", 10);
        machine.Run("kill", "-STOP", main);
        machine.WaitFor(() => machine.Property(Unit, "NRestarts") == "1" && machine.Property(Unit, "SubState") == "running", "the watchdog's restart");
        machine.WaitFor(() => machine.Journal(Unit).Contains("Watchdog timeout"), "the watchdog's line in the journal");
        var restarted = machine.Property(Unit, "MainPID");
        Assert.NotEqual(main, restarted);

        // Restart=on-failure: a daemon killed comes back.
        machine.Run("kill", "-KILL", restarted);
        machine.WaitFor(() => machine.Property(Unit, "NRestarts") == "2" && machine.Property(Unit, "SubState") == "running", "the restart");
        Assert.NotEqual(restarted, machine.Property(Unit, "MainPID"));

        // Stop while a script runs: it finishes (KillMode=mixed: SIGTERM to the daemon only), and the stop is clean.
        // The script runs until the test lets it go, once the daemon said it waits for it.
        machine.Run("ip", "route", "add", "198.51.102.0/24", "dev", "lo");
        machine.WaitFor(() => machine.Sh("cat /var/lib/nbtest/slow 2>/dev/null || true").Contains("started"), "the slow script to start");
        machine.Run("systemctl", "stop", "--no-block", Unit);
        machine.WaitFor(() => machine.Journal(Unit).Contains("Waiting for 1 running script event(s) to finish"), "the stop to wait for the script");
        machine.Run("touch", "/var/lib/nbtest/release");
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "inactive", "the unit to stop");
        Assert.Equal("started\nfinished", machine.Run("cat", "/var/lib/nbtest/slow").Trim());
        Assert.Equal("success", machine.Property(Unit, "Result"));
        Assert.Equal("0", machine.Property(Unit, "ExecMainStatus"));
        machine.WaitFor(() => machine.Journal(Unit).Contains("Stopped\n"), "the daemon's last line in the journal");
        var log = machine.Journal(Unit);
        Assert.True(log.IndexOf("routes.d/20-slow succeeded", StringComparison.Ordinal) < log.LastIndexOf("Stopped\n", StringComparison.Ordinal), log);

        // A broken file: `systemctl reload` fails and the running configuration stays; at start, no restart loop.
        machine.Run("systemctl", "start", Unit);
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active", "the unit to be active again");
        var running = machine.Property(Unit, "MainPID");
        // The broken file also narrows Links=: were it applied, lo's routes would run nothing.
        machine.Sh("cp /etc/network-broker/network-broker.toml /tmp/good.toml && printf '[System]\\nLogLevel = \"loud\"\\n[Network]\\nLinks = \"eth9\"\\n' > /etc/network-broker/network-broker.toml");
        Assert.Contains("reload=1", machine.Sh($"systemctl reload {Unit} >/dev/null 2>&1; echo reload=$?"));
        Assert.Equal("active", machine.Property(Unit, "ActiveState"));
        Assert.Equal(running, machine.Property(Unit, "MainPID"));
        machine.Run("ip", "route", "add", "198.51.103.0/24", "dev", "lo");
        machine.WaitFor(() => machine.Run("cat", "/var/lib/nbtest/record").Contains("lo 198.51.103.0/24"), "routes.d to run under the old configuration");
        var restarts = machine.Property(Unit, "NRestarts");
        machine.Sh($"systemctl restart {Unit} || true");
        Thread.Sleep(3000); // three times RestartSec=: long enough for a restart loop to show
        Assert.Equal("failed", machine.Property(Unit, "ActiveState"));
        Assert.Equal("78", machine.Property(Unit, "ExecMainStatus"));
        Assert.Equal(restarts, machine.Property(Unit, "NRestarts"));
    }
}
