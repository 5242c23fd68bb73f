using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using NetworkBroker.DBus;
using NetworkBroker.Dhclient;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Dhclient;

/// <summary>
/// The calls as they go over the bus. systemd-hostnamed is the real one (in its own UTS and mount
/// namespaces, /etc/hostname hidden so that the transient name applies). systemd-resolved cannot run
/// here: it needs its system user "systemd-resolve", which only its package's installation creates; a
/// recording service owning org.freedesktop.resolve1 checks method, signature and arguments instead.
/// </summary>
public class ResolverPusherTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly PrivateBus _bus;
    private readonly ConcurrentQueue<string> _resolved = new();
    private readonly SemaphoreSlim _received = new(0);
    private Process? _hostnamed;

    public ResolverPusherTests() => _bus = new PrivateBus(_dir.Combine("bus"));

    public void Dispose()
    {
        if (_hostnamed is { HasExited: false })
            _hostnamed.Kill();
        _hostnamed?.Dispose();
        _bus.Dispose();
        _dir.Dispose();
    }

    /// <param name="answer">Closed: each call waits for it before it is recorded and answered (a resolved that hangs).</param>
    private async Task<DBusConnection> RecordingResolved(ManualResetEventSlim? answer = null)
    {
        var connection = await DBusPeer.ServeAsync(_bus.Address, call =>
        {
            if (call.Interface != "org.freedesktop.resolve1.Manager")
                return null;
            _received.Release();
            answer?.Wait(TimeSpan.FromSeconds(60));
            var reader = call.BodyReader();
            var ifindex = reader.ReadInt32();
            var arguments = call.Member switch
            {
                "SetLinkDNS" => string.Join(' ', ((object[])reader.ReadValue("a(iay)")).Cast<object[]>()
                    .Select(s => $"{s[0]}:{new IPAddress((byte[])s[1])}")),
                "SetLinkDomains" => string.Join(' ', ((object[])reader.ReadValue("a(sb)")).Cast<object[]>().Select(d => $"{d[0]}:{d[1]}")),
                _ => "",
            };
            _resolved.Enqueue($"{call.Member}({call.Signature}) {ifindex} {arguments}".TrimEnd());
            return DBusReply.Empty;
        });
        await connection.RequestNameAsync("org.freedesktop.resolve1");
        return connection;
    }

    private void StartHostnamed()
    {
        var empty = _dir.Write("empty-hostname", "");
        var info = new ProcessStartInfo("unshare", ["-u", "-m", "--propagation", "private", "sh", "-c",
            $"mount --bind {empty} /etc/hostname; exec /lib/systemd/systemd-hostnamed"]) { RedirectStandardError = true };
        info.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = _bus.Address;
        _hostnamed = Process.Start(info)!;
        _hostnamed.BeginErrorReadLine();
    }

    [Fact]
    public async Task Dns_domains_revert_and_the_transient_host_name_reach_resolved_and_hostnamed_as_specified()
    {
        await using var resolved = await RecordingResolved();
        StartHostnamed();
        await BrokerHarness.WaitForAsync(() => _bus.Run("busctl", "--system", "list", "--no-pager").Contains("org.freedesktop.hostname1"));
        var log = new MemoryLog();
        await using (var pusher = new ResolverPusher(_bus.Address, log.Logger))
        {
            pusher.SetLinkDns("eth0", 3, [IPAddress.Parse("10.233.0.53"), IPAddress.Parse("2001:db8::53")]);
            pusher.SetLinkDomains("eth0", 3, ["example.test", "corp.test"]);
            pusher.SetHostname("eth0", "node7");
            pusher.RevertLink("eth0", 3);
        }

        Assert.Equal([
            "SetLinkDNS(ia(iay)) 3 2:10.233.0.53 10:2001:db8::53",
            "SetLinkDomains(ia(sb)) 3 example.test:False corp.test:False",
            "RevertLink(i) 3",
        ], _resolved);
        Assert.Equal("node7", Shell.Run("nsenter", "-t", _hostnamed!.Id.ToString(), "-u", "hostname").Trim());
        Assert.DoesNotContain(log.Lines, l => l.Contains(" error "));
    }

    [Fact]
    public async Task While_resolved_hangs_only_the_latest_call_of_each_kind_and_link_waits_and_resolved_ends_as_if_all_went()
    {
        using var answer = new ManualResetEventSlim(false);
        await using var resolved = await RecordingResolved(answer);
        var log = new MemoryLog();
        await using (var pusher = new ResolverPusher(_bus.Address, log.Logger))
        {
            // The first call reaches resolved, which does not answer; a rogue server changes the lease a thousand times meanwhile.
            pusher.SetLinkDns("eth0", 3, [IPAddress.Parse("10.233.0.1")]);
            Assert.True(await _received.WaitAsync(TimeSpan.FromSeconds(30)));
            for (var i = 0; i < 1000; i++)
            {
                pusher.SetLinkDns("eth0", 3, [IPAddress.Parse($"10.233.{i / 250}.{i % 250 + 2}")]);
                pusher.SetLinkDomains("eth0", 3, [$"d{i}.test"]);
                pusher.SetLinkDns("eth1", 4, [IPAddress.Parse($"10.234.{i / 250}.{i % 250 + 2}")]);
                if (i == 500)
                    pusher.RevertLink("eth0", 3);
            }
            Assert.Equal(4, pusher.Waiting);
            answer.Set();
        }

        // The revert came before the last domains and servers of eth0, and stays before them.
        Assert.Equal([
            "SetLinkDNS(ia(iay)) 3 2:10.233.0.1",
            "RevertLink(i) 3",
            "SetLinkDNS(ia(iay)) 3 2:10.233.3.251",
            "SetLinkDomains(ia(sb)) 3 d999.test:False",
            "SetLinkDNS(ia(iay)) 4 2:10.234.3.251",
        ], _resolved);
    }

    [Fact]
    public async Task A_stop_while_resolved_hangs_gives_up_on_the_waiting_calls_after_its_deadline_and_says_so()
    {
        using var answer = new ManualResetEventSlim(false);
        await using var resolved = await RecordingResolved(answer);
        var log = new MemoryLog();
        var pusher = new ResolverPusher(_bus.Address, log.Logger);
        pusher.SetLinkDns("eth0", 3, [IPAddress.Parse("10.233.0.1")]);
        Assert.True(await _received.WaitAsync(TimeSpan.FromSeconds(30)));
        pusher.SetLinkDomains("eth0", 3, ["example.test"]);
        pusher.RevertLink("eth1", 4);

        // Each call may take 60 s (30 to find the service, 30 for the answer): three would hold the stop past systemd's 90 s.
        var stop = pusher.DisposeAsync().AsTask();
        Assert.Same(stop, await Task.WhenAny(stop, Task.Delay(ResolverPusher.StopDeadline + TimeSpan.FromSeconds(20))));
        await stop;
        Assert.Contains(log.Lines, l => l.Contains("did not answer within 10 s of the stop: 3 call(s) not made"));
        answer.Set();
        await BrokerHarness.WaitForAsync(() => !_resolved.IsEmpty);
        await Task.Delay(500);
        Assert.Equal(["SetLinkDNS(ia(iay)) 3 2:10.233.0.1"], _resolved);
    }

    [Fact]
    public async Task A_reset_gives_the_real_hostnamed_its_own_name_back_unless_someone_else_set_another_since()
    {
        StartHostnamed();
        await BrokerHarness.WaitForAsync(() => _bus.Run("busctl", "--system", "list", "--no-pager").Contains("org.freedesktop.hostname1"));
        string Hostname() => Shell.Run("nsenter", "-t", _hostnamed!.Id.ToString(), "-u", "hostname").Trim();
        var log = new MemoryLog();
        await using (var pusher = new ResolverPusher(_bus.Address, log.Logger))
        {
            pusher.SetHostname("eth0", "rogue7");
            await BrokerHarness.WaitForAsync(() => Hostname() == "rogue7");
            pusher.ResetHostname("eth0", "rogue7");
            await BrokerHarness.WaitForAsync(() => Hostname() != "rogue7");

            // An admin's name, set after ours: a reset of ours leaves it.
            pusher.SetHostname("eth0", "lease8");
            await BrokerHarness.WaitForAsync(() => Hostname() == "lease8");
            _bus.Run("busctl", "--system", "call", "org.freedesktop.hostname1", "/org/freedesktop/hostname1", "org.freedesktop.hostname1",
                "SetHostname", "sb", "admin9", "false");
            await BrokerHarness.WaitForAsync(() => Hostname() == "admin9");
            pusher.ResetHostname("eth0", "lease8");
        }
        Assert.Equal("admin9", Hostname());
        Assert.Contains(log.Lines, l => l.Contains("eth0: dhclient: pushed reset of the transient host name rogue7"));
        Assert.Contains(log.Lines, l => l.Contains("eth0: dhclient: the host name is \"admin9\" now, not the lease's lease8: left as it is"));
        Assert.DoesNotContain(log.Lines, l => l.Contains(" warn ") || l.Contains(" error "));
    }

    [Fact]
    public async Task A_failed_call_is_logged_with_the_link_and_the_next_one_still_goes()
    {
        await using var resolved = await RecordingResolved();
        var log = new MemoryLog();
        var pushed = new List<string>();
        await using (var pusher = new ResolverPusher(_bus.Address, log.Logger))
        {
            pusher.Pushed += (link, what, error) => pushed.Add($"{link} {what} {(error is null ? "ok" : "failed")}");
            pusher.SetHostname("eth0", "node7"); // no hostnamed on this bus
            pusher.RevertLink("eth0", 3);
        }
        Assert.Contains(log.Lines, l => l.Contains("error eth0: dhclient: pushing transient host name node7 failed"));
        Assert.Equal(["RevertLink(i) 3"], _resolved);
        Assert.Equal(["eth0 transient host name node7 failed", "eth0 revert ok"], pushed);
    }

    [Fact]
    public async Task The_daemon_pushes_a_real_dhclient_lease_and_its_monitor_shows_the_lease_and_the_push()
    {
        await using var resolved = await RecordingResolved();
        using var dhcp = new DhcpSandbox();
        Directory.CreateDirectory(Path.GetDirectoryName(dhcp.LeaseFile)!);
        var config = _dir.Write("network-broker.toml",
            $"[System]\nUser = \"root\"\nGenerator = \"dhclient\"\nDHClientLeaseFile = \"{dhcp.LeaseFile}\"\n[Network]\nUseDNS = true\n");
        using var notify = new NotifySocket(_dir.Combine("notify.sock"));
        using var broker = BrokerBinary.Start(["--config", config],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path, ["DBUS_SYSTEM_BUS_ADDRESS"] = _bus.Address },
            prefix: ["ip", "netns", "exec", dhcp.Client.Name]);
        Assert.StartsWith("READY=1", await notify.NextAsync(60));
        using var monitor = BrokerBinary.Start(["monitor", "--json"], broker.ClientEnvironment());
        await BrokerHarness.WaitForAsync(() => monitor.StandardOutput.Contains("\"event\":\"monitor\""));

        dhcp.Serve();
        dhcp.Acquire();

        await BrokerHarness.WaitForAsync(() => monitor.StandardOutput.Contains("\"event\":\"dhcp-push\""));
        var lines = monitor.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var leases = Array.FindIndex(lines, l => l.Contains("\"event\":\"dhcp-leases\"") && l.Contains("\"eth0 10.233.0."));
        var push = Array.FindIndex(lines, l => l.Contains("\"event\":\"dhcp-push\",\"link\":\"eth0\",\"pushed\":\"DNS servers 10.233.0.53, 10.233.0.54\",\"succeeded\":true"));
        Assert.True(leases >= 0 && leases < push, string.Join('\n', lines));
        await BrokerHarness.WaitForAsync(() => _resolved.Any(r => r.StartsWith("SetLinkDNS(ia(iay)) ", StringComparison.Ordinal)));
        Assert.Contains(_resolved, r => r.EndsWith(" 2:10.233.0.53 2:10.233.0.54", StringComparison.Ordinal));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
