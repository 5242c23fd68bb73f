using System.Collections.Concurrent;
using System.Net;
using NetworkBroker.Dhclient;
using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Dhclient;

/// <summary>Real dhclient against a real dnsmasq; the broker watches dhclient's lease file.</summary>
public class DhclientSourceTests : IDisposable
{
    private sealed class RecordingResolver : IResolverPusher
    {
        public readonly ConcurrentQueue<string> Calls = new();
        public void SetLinkDns(string link, int ifindex, IReadOnlyList<IPAddress> servers) => Calls.Enqueue($"dns {link} {ifindex} {string.Join(' ', servers)}");
        public void SetLinkDomains(string link, int ifindex, IReadOnlyList<string> domains) => Calls.Enqueue($"domains {link} {ifindex} {string.Join(' ', domains)}");
        public void RevertLink(string link, int ifindex) => Calls.Enqueue($"revert {link} {ifindex}");
        public void SetHostname(string link, string hostname) => Calls.Enqueue($"hostname {link} {hostname}");
        public void ResetHostname(string link, string ours) => Calls.Enqueue($"reset-hostname {link} {ours}");
    }

    private readonly DhcpSandbox _dhcp = new();
    private readonly RecordingResolver _resolver = new();

    public void Dispose() => _dhcp.Dispose();

    private Task<BrokerHarness> Start(Func<Configuration.BrokerConfiguration, Configuration.BrokerConfiguration>? configure = null) =>
        BrokerHarness.StartAsync(_dhcp.Client, c => (configure ?? (x => x))(c with
        {
            Generator = Configuration.EventSources.DHClient, UseDNS = true, UseDomain = true, UseHostname = true,
        }), dhclientLeaseFile: _dhcp.LeaseFile, resolver: _resolver, beforeStart: RecordingScript);

    private static void RecordingScript(BrokerHarness broker) =>
        broker.Directory.Script("routable", "10-record",
            $"#!/bin/sh\necho \"$LINK|$LINKINDEX|$STATE|$DHCP_LEASE|$DNS|$DOMAIN|${{JSON:+json}}\" >> {broker.Directory.Path}/record\n" +
            $"printf '%s' \"$JSON\" > {broker.Directory.Path}/json\n");

    private static string[] Runs(BrokerHarness broker) =>
        File.Exists(broker.Directory.Combine("record")) ? File.ReadAllLines(broker.Directory.Combine("record")) : [];

    private static async Task Idle(BrokerHarness broker)
    {
        await Task.Delay(DhclientSource.Coalesce * 3);
        await broker.IdleAsync();
    }

    [Fact]
    public async Task A_lease_runs_routable_d_once_with_the_seeds_variables_and_pushes_dns_domains_and_host_name()
    {
        _dhcp.Serve();
        await using var broker = await Start();
        var ifindex = _dhcp.Client.IfIndex("eth0");

        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length > 0);
        await Idle(broker);

        var run = Assert.Single(Runs(broker)).Split('|');
        Assert.Equal("eth0", run[0]);
        Assert.Equal(ifindex.ToString(), run[1]);
        Assert.Equal("routable", run[2]);
        Assert.Matches(@"^ADDRESS=10\.233\.0\.\d+,ROUTER=10\.233\.0\.1,SUBNETMASK=255\.255\.255\.0,DNS=10\.233\.0\.53 10\.233\.0\.54,DOMAIN=example\.test corp\.test$", run[3]);
        Assert.Equal("10.233.0.53,10.233.0.54", run[4]);
        Assert.Equal("example.test,corp.test", run[5]);
        Assert.Equal("json", run[6]);
        var json = File.ReadAllText(broker.Directory.Combine("json"));
        Assert.Contains("\"DNS\":[\"10.233.0.53\",\"10.233.0.54\"]", json);
        Assert.Contains("\"Name\":\"eth0\"", json);

        Assert.Equal([$"dns eth0 {ifindex} 10.233.0.53 10.233.0.54", $"domains eth0 {ifindex} example.test corp.test", "hostname eth0 node7"], _resolver.Calls);
    }

    [Fact]
    public async Task A_renewal_with_new_dns_fires_once_more_and_a_release_reverts()
    {
        _dhcp.Serve();
        await using var broker = await Start();
        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length == 1);
        await Idle(broker);

        _dhcp.Serve(dns: "10.233.0.99");
        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length == 2);
        await Idle(broker);
        Assert.Equal("10.233.0.99", Runs(broker)[1].Split('|')[4]);
        Assert.Contains(_resolver.Calls, c => c.EndsWith(" 10.233.0.99"));

        _dhcp.Release();
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Any(c => c.StartsWith("revert eth0")));
        await Idle(broker);
        Assert.Equal(2, Runs(broker).Length); // a release runs no script
    }

    [Fact]
    public async Task A_rogue_servers_bad_mask_and_empty_dns_option_neither_blind_the_daemon_nor_leave_its_dns_in_resolved()
    {
        // A rogue server: its DNS server and domain, and a mask of 255.0.255.0, which dhclient writes into the file as it came.
        _dhcp.Serve(dns: "10.233.0.66", domain: "rogue.test", search: "rogue.test", options: "--dhcp-option=option:netmask,255.0.255.0");
        await using var broker = await Start();
        var ifindex = _dhcp.Client.IfIndex("eth0");
        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length == 1);
        await Idle(broker);
        // (dhclient rewrites the file after its script ran: read it once that is done.)
        await BrokerHarness.WaitForAsync(() => File.ReadAllText(_dhcp.LeaseFile).Contains("option subnet-mask 255.0.255.0;"));
        Assert.Contains(broker.Log.Lines, l => l.Contains("subnet mask 255.0.255.0 is not contiguous: the option is left out of its lease"));
        Assert.Equal([$"dns eth0 {ifindex} 10.233.0.66", $"domains eth0 {ifindex} rogue.test", "hostname eth0 node7"], _resolver.Calls);

        // Then an empty DNS option (dhclient leaves it out of the lease): the rogue server's DNS server must not stay.
        _dhcp.Serve(dns: null, domain: "rogue.test", search: "rogue.test", options: "--dhcp-option=option:netmask,255.0.255.0");
        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Count > 3);
        await Idle(broker);
        Assert.Equal($"dns eth0 {ifindex} ", _resolver.Calls.ElementAt(3));

        // The legitimate server takes over: its lease is pushed and runs, though the rogue ones are still in the file.
        _dhcp.Serve();
        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Contains($"dns eth0 {ifindex} 10.233.0.53 10.233.0.54"));
        await Idle(broker);
        Assert.Contains($"domains eth0 {ifindex} example.test corp.test", _resolver.Calls);
        Assert.Equal("10.233.0.53,10.233.0.54", Runs(broker)[^1].Split('|')[4]);
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains("ignoring"));
    }

    [Fact]
    public async Task A_reload_that_turns_the_pushes_off_or_on_applies_to_the_lease_held_now()
    {
        _dhcp.Serve();
        await using var broker = await Start(c => c with { UseDNS = false, UseDomain = false, UseHostname = false });
        var ifindex = _dhcp.Client.IfIndex("eth0");
        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length == 1);
        await Idle(broker);
        Assert.Empty(_resolver.Calls);

        await broker.Daemon.ReloadAsync(broker.Config with { UseDNS = true });
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Contains($"dns eth0 {ifindex} 10.233.0.53 10.233.0.54"));
        await broker.Daemon.ReloadAsync(broker.Config with { UseDNS = true, Links = new Configuration.LinkFilter(["eth9"]) });
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Contains($"dns eth0 {ifindex} "));
        await Idle(broker);
        Assert.Equal([$"dns eth0 {ifindex} 10.233.0.53 10.233.0.54", $"dns eth0 {ifindex} "], _resolver.Calls);
        Assert.Single(Runs(broker));
    }

    [Fact]
    public async Task A_deleted_then_recreated_or_renamed_into_place_lease_file_keeps_working()
    {
        _dhcp.Serve();
        await using var broker = await Start();
        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length == 1);
        var lease = await File.ReadAllTextAsync(_dhcp.LeaseFile);

        File.Delete(_dhcp.LeaseFile);
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Any(c => c.StartsWith("revert eth0")));
        await File.WriteAllTextAsync(_dhcp.LeaseFile, lease);
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length == 2);

        File.Delete(_dhcp.LeaseFile);
        await Idle(broker);
        var temporary = _dhcp.LeaseFile + ".tmp";
        await File.WriteAllTextAsync(temporary, lease.Replace("10.233.0.54", "10.233.0.55"));
        File.Move(temporary, _dhcp.LeaseFile);
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length == 3);
        Assert.Contains("10.233.0.55", Runs(broker)[2]);
    }

    [Fact]
    public async Task A_garbage_lease_file_logs_an_error_and_nothing_else_happens()
    {
        await using var broker = await Start();
        Directory.CreateDirectory(Path.GetDirectoryName(_dhcp.LeaseFile)!);
        await File.WriteAllTextAsync(_dhcp.LeaseFile, "} lease { interface \"eth0\"; fixed-address 10.0.0.1; }\n");
        await BrokerHarness.WaitForAsync(() => broker.Log.Text.Contains($"dhclient: ignoring {_dhcp.LeaseFile}: {_dhcp.LeaseFile}:1: '}}' without a block to close"));
        await Idle(broker);
        Assert.Empty(Runs(broker));
        Assert.Empty(_resolver.Calls);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_lease_file_that_stops_parsing_or_is_refused_keeps_its_leases_as_last_read_until_they_expire_then_reverts(bool refused)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_dhcp.LeaseFile)!);
        await using var broker = await Start();
        var ifindex = _dhcp.Client.IfIndex("eth0");
        var expire = DateTime.UtcNow.AddSeconds(20).ToString("yyyy/MM/dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        await File.WriteAllTextAsync(_dhcp.LeaseFile,
            $"lease {{ interface \"eth0\"; fixed-address 10.233.0.60; option domain-name-servers 10.233.0.66; expire 4 {expire}; }}\n");
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Contains($"dns eth0 {ifindex} 10.233.0.66"));

        if (refused)
        {
            // Not dhclient's any more: another user owns it. Its last leases stand until they expire, as a broken file's.
            Shell.Run("chown", "nobody", _dhcp.LeaseFile);
            File.AppendAllText(_dhcp.LeaseFile, "\n");
            await BrokerHarness.WaitForAsync(() => broker.Log.Text.Contains("; its leases as last read stay until they expire"));
        }
        else
        {
            await File.WriteAllTextAsync(_dhcp.LeaseFile, "} garbage\n");
            await BrokerHarness.WaitForAsync(() => broker.Log.Text.Contains("'}' without a block to close; its leases as last read stay until they expire"));
        }
        Assert.DoesNotContain(_resolver.Calls, c => c.StartsWith("revert"));
        await BrokerHarness.WaitForAsync(() => _resolver.Calls.Contains($"revert eth0 {ifindex}"), seconds: 60);
        Assert.Contains(broker.Log.Lines, l => l.Contains("dhclient: lease of eth0 expired or released"));
        Assert.Single(Runs(broker));
    }

    [Fact]
    public async Task A_lease_for_an_interface_the_kernel_does_not_have_is_logged_and_skipped()
    {
        await using var broker = await Start();
        Directory.CreateDirectory(Path.GetDirectoryName(_dhcp.LeaseFile)!);
        await File.WriteAllTextAsync(_dhcp.LeaseFile, "lease { interface \"eth9\"; fixed-address 10.0.0.1; expire never; }\n");
        await BrokerHarness.WaitForAsync(() => broker.Log.Text.Contains("has a lease for eth9, which the kernel does not have: skipped"));
        await Idle(broker);
        Assert.Empty(Runs(broker));
    }

    [Fact]
    public async Task Files_a_local_user_plants_beside_the_lease_are_refused_and_the_real_lease_still_runs_once()
    {
        // The lease directory is one a local user can write: everything it puts there must come to nothing.
        var leases = Path.GetDirectoryName(_dhcp.LeaseFile)!;
        Directory.CreateDirectory(leases);
        File.SetUnixFileMode(leases, (UnixFileMode)0b111_111_111 | UnixFileMode.StickyBit);
        var secret = _dhcp.Directory.Write("shadow", "lease { interface \"eth0\"; fixed-address 10.66.6.6; option domain-name-servers 10.66.6.53; expire never; }\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead);
        Attacker.Run(null, "sh", "-c",
            $"cd {leases} && mkfifo a.leases && ln -s {secret} b.leases && " +
            "printf 'lease { interface \"eth0\"; fixed-address 10.77.7.7; option domain-name-servers 10.77.7.53; expire never; }\\n' > d.leases && " +
            "printf '\\001\\002 SECRET-GARBAGE-THAT-GOES-ON-AND-ON-AND-ON-AND-ON-AND-ON-AND-ON-AND-ON {\\n' > e.leases");
        // Root's own files: a giant (a dhclient gone wrong) and garbage that quotes a long token.
        using (var giant = File.Create(Path.Combine(leases, "c.leases")))
            giant.SetLength(5 * 1024 * 1024);
        File.WriteAllText(Path.Combine(leases, "f.leases"), "lease { interface \"eth0\"; fixed-address \u0001SECRET-IN-A-TOKEN-THAT-IS-LONG-LONG-LONG-LONG; }\n");

        _dhcp.Serve();
        await using var broker = await BrokerHarness.StartAsync(_dhcp.Client, c => c with
        {
            Generator = Configuration.EventSources.DHClient, UseDNS = true, UseDomain = true, UseHostname = true,
        }, dhclientLeaseFile: Path.Combine(leases, "*.leases"), resolver: _resolver, beforeStart: RecordingScript);
        await broker.Broker.QueryAsync(b => b.EventsHandled).WaitAsync(TimeSpan.FromSeconds(5));

        _dhcp.Acquire();
        await BrokerHarness.WaitForAsync(() => Runs(broker).Length > 0);
        await Idle(broker);

        var run = Assert.Single(Runs(broker)).Split('|');
        Assert.Matches(@"^ADDRESS=10\.233\.0\.\d+,", run[3]);
        Assert.DoesNotContain(_resolver.Calls, c => c.Contains("10.66.") || c.Contains("10.77."));
        var log = broker.Log.Text;
        Assert.Contains($"dhclient: not reading {leases}/a.leases: a FIFO, not a regular file", log);
        Assert.Contains($"dhclient: not reading {leases}/b.leases: a symbolic link, not followed here", log);
        Assert.Contains($"dhclient: not reading {leases}/c.leases: 5242880 bytes, over the limit of 1048576", log);
        Assert.Contains($"dhclient: not reading {leases}/d.leases: owned by uid 65534, not by root or the daemon's user", log);
        Assert.Contains($"dhclient: ignoring {leases}/f.leases: {leases}/f.leases:1: \"fixed-address\" needs an address, got \"?SECRET-IN-A-TOKEN-THAT-IS-LO...\"", log);
        Assert.DoesNotContain("10.66.6.6", log);
        Assert.DoesNotContain("SECRET-IN-A-TOKEN-THAT-IS-LONG-LONG", log);
    }
}
