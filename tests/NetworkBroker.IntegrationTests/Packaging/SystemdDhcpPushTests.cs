using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// The package's DHCP pushes against the real systemd-resolved, systemd-hostnamed and polkitd, under the real
/// systemd as PID 1 (a throw-away machine): dhclient gets a lease from dnsmasq over a veth, the daemon (as
/// network-broker, with the shipped unit and polkit rule) pushes it, and resolvectl and hostnamectl show it.
/// </summary>
public class SystemdDhcpPushTests
{
    private const string Unit = "network-broker.service";
    private const string Journal = "journalctl -u network-broker.service -o cat --no-pager";

    // The package and resolved installed in the machine; /etc/hostname gone so that a transient name can apply;
    // dhclient's own script replaced by one that only sets the address, so that what resolved and hostnamed show
    // comes from the daemon.
    private const string Prepare = """
        set -e
        ! getent passwd network-broker >/dev/null || userdel network-broker
        dpkg -i /tmp/@DEB@ >/dev/null
        dpkg -i /tmp/@RESOLVED@ >/dev/null 2>&1
        rm -f /etc/hostname
        cat > /etc/network-broker/network-broker.toml <<'EOF'
        [System]
        Generator = "dhclient"
        DHClientLeaseFile = "/var/lib/dhcp/dhclient.*.leases"
        [Network]
        UseDNS = true
        UseDomain = true
        UseHostname = true
        EOF
        cat > /usr/local/sbin/nbtest-dhclient-script <<'EOF'
        #!/bin/sh
        case "$reason" in
        BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
        RELEASE|EXPIRE|STOP) ip -4 addr flush dev "$interface" ;;
        esac
        exit 0
        EOF
        chmod 755 /usr/local/sbin/nbtest-dhclient-script
        printf '[Unit]\nDescription=network-broker test machine\nWants=systemd-journald.service dbus.service systemd-resolved.service network-broker.service\n' > /etc/systemd/system/nbtest.target
        """;

    [Fact]
    public void Lease_dns_domains_and_host_name_reach_the_real_resolved_and_hostnamed_through_polkit_and_a_release_reverts()
    {
        var resolved = DownloadedPackage.SystemdResolved;
        using var machine = SystemdMachine.WithPackage(Prepare.Replace("@RESOLVED@", Path.GetFileName(resolved)), resolved);
        try
        {
            Run(machine);
        }
        catch (Exception e) when (e is TimeoutException or Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{e.Message}\njournal:\n{machine.Run("journalctl", "-o", "short", "--no-pager", "-n", "300")}", e);
        }
    }

    private static void Run(SystemdMachine machine)
    {
        machine.WaitFor(() => machine.Property(Unit, "ActiveState") == "active", "the unit to be active");
        machine.WaitFor(() => machine.Property("systemd-resolved.service", "ActiveState") == "active", "resolved to be active");
        Assert.Contains("Scripts run as network-broker", machine.Sh(Journal));

        // dnsmasq in a namespace of the machine, eth3 in the machine's own.
        machine.Sh("ip netns add nbsrv && ip link add eth3 type veth peer name srv0 netns nbsrv && ip -n nbsrv addr add 10.233.0.1/24 dev srv0 " +
                   "&& ip -n nbsrv link set srv0 up && ip link set eth3 up");
        machine.Run("systemd-run", "--unit=nbtest-dnsmasq", "ip", "netns", "exec", "nbsrv", "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
            "--interface=srv0", "--bind-interfaces", "--dhcp-range=10.233.0.50,10.233.0.90,255.255.255.0,2m", "--dhcp-leasefile=/run/nbtest-dnsmasq.leases",
            "--dhcp-option=option:router,10.233.0.1", "--dhcp-option=option:dns-server,10.233.0.53,10.233.0.54",
            "--dhcp-option=option:domain-name,example.test", "--dhcp-option=option:domain-search,example.test,corp.test", "--dhcp-option=12,node7");
        machine.WaitFor(() => machine.Property("nbtest-dnsmasq.service", "ActiveState") == "active", "dnsmasq");
        const string Dhclient = "dhclient -sf /usr/local/sbin/nbtest-dhclient-script -lf /var/lib/dhcp/dhclient.eth3.leases -pf /run/dhclient.eth3.pid";
        // dhclient writes a lease's expiry to the second, and the daemon rightly sees a lease acquired again within the
        // second of the last one as the same lease (nothing changed, nothing pushed): each acquisition waits for the
        // next second. (Within one second the test's steps had waited for a push that came only with the renewal.)
        var lastAcquired = 0L;
        void Acquire()
        {
            while (DateTime.UtcNow.Ticks / TimeSpan.TicksPerSecond <= lastAcquired)
                Thread.Sleep(50);
            machine.Sh($"{Dhclient} -1 eth3");
            lastAcquired = DateTime.UtcNow.Ticks / TimeSpan.TicksPerSecond;
        }
        Acquire();

        // The lease, through polkit and the package's rule, in resolved and hostnamed.
        machine.WaitFor(() => machine.Run("resolvectl", "dns", "eth3").Contains("10.233.0.53 10.233.0.54"), "resolved to have the lease's DNS servers");
        machine.WaitFor(() => machine.Run("resolvectl", "domain", "eth3").Contains("example.test corp.test"), "resolved to have the lease's domains");
        machine.WaitFor(() => machine.Run("hostnamectl").Contains("Transient hostname: node7"), "hostnamed to have the lease's name as transient");
        Assert.Equal("node7", machine.Run("hostname").Trim());
        Assert.Equal("s \"transient\"", machine.Run("busctl", "get-property", "org.freedesktop.hostname1", "/org/freedesktop/hostname1",
            "org.freedesktop.hostname1", "HostnameSource").Trim());
        machine.WaitFor(() => machine.Run("network-broker", "status").Contains("dhcp pushes: 3 to systemd-resolved and systemd-hostnamed, 0 failed"), "status to count the pushes");
        Assert.DoesNotContain("DHCP pushes failed", machine.Property(Unit, "StatusText"));

        // A release reverts the link in resolved, and hostnamed goes back to its own name.
        machine.Sh($"{Dhclient} -r eth3");
        machine.WaitFor(() => !machine.Run("resolvectl", "dns", "eth3").Contains("10.233.0.53"), "resolved to forget the DNS servers");
        Assert.DoesNotContain("example.test", machine.Run("resolvectl", "domain", "eth3"));
        Assert.Contains("eth3: dhclient: pushed revert", machine.Sh(Journal));
        machine.WaitFor(() => machine.Run("hostname").Trim() != "node7", "hostnamed to drop the lease's name");
        Assert.Contains("eth3: dhclient: pushed reset of the transient host name", machine.Sh(Journal));

        // A static name wins over the transient one: the push goes through, the daemon says it does not apply.
        machine.Sh("echo nbstatic > /etc/hostname");
        Acquire();
        machine.WaitFor(() => machine.Sh(Journal).Contains("the transient host name node7 does not apply: systemd-hostnamed keeps the static name \"nbstatic\""),
            "the warning about the static name");
        Assert.Equal("nbstatic", machine.Run("hostname").Trim());

        // Without the rule, polkit refuses: one error per call naming the action and the fix, counted in STATUS= and status.
        // (polkitd reads its rules at start: restarted, it no longer has the package's.)
        machine.Sh("mv /usr/share/polkit-1/rules.d/50-network-broker.rules /root/ && systemctl restart polkit.service");
        Acquire();
        machine.WaitFor(() => machine.Property(Unit, "StatusText").EndsWith("; 3 DHCP pushes failed", StringComparison.Ordinal), "STATUS= to count the refusals");
        var refusals = machine.Sh(Journal).Split('\n').Where(l => l.Contains(" refused ", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, refusals.Count);
        Assert.Contains(refusals, l => l.Contains("systemd-resolved refused DNS servers 10.233.0.53, 10.233.0.54 (org.freedesktop.DBus.Error.InteractiveAuthorizationRequired): " +
                                                  "polkit does not grant org.freedesktop.resolve1.set-dns-servers to user network-broker; install polkitd"));
        Assert.Contains(refusals, l => l.Contains("org.freedesktop.resolve1.set-domains"));
        Assert.Contains(refusals, l => l.Contains("systemd-hostnamed refused transient host name node7") && l.Contains("org.freedesktop.hostname1.set-hostname"));
        // 3 for the first lease, a revert and the host name's reset at its release, 3 for each lease after.
        Assert.Contains("dhcp pushes: 11 to systemd-resolved and systemd-hostnamed, 3 failed (see the log)", machine.Run("network-broker", "status"));

        // No polkitd at all (not installed, so not activatable): the services answer AccessDenied, and the same line says what to install.
        machine.Sh("systemctl stop polkit.service && rm /usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service && systemctl reload dbus.service");
        Acquire();
        machine.WaitFor(() => machine.Property(Unit, "StatusText").EndsWith("; 6 DHCP pushes failed", StringComparison.Ordinal), "STATUS= to count the refusals without polkitd");
        Assert.Contains("systemd-resolved refused DNS servers 10.233.0.53, 10.233.0.54 (org.freedesktop.DBus.Error.AccessDenied): " +
                        "polkit does not grant org.freedesktop.resolve1.set-dns-servers to user network-broker; install polkitd", machine.Sh(Journal));
    }
}
