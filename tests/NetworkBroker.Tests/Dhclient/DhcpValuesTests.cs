using System.Net;
using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Dhclient;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Dhclient;

public class DhcpValuesTests
{
    [Theory]
    [InlineData("example.com", true)]
    [InlineData("corp.example.com.", true)]
    [InlineData("a-b.c1", true)]
    [InlineData("", false)]
    [InlineData("-bad.com", false)]
    [InlineData("bad-.com", false)]
    [InlineData("a..b", false)]
    [InlineData("has space.com", false)]
    [InlineData("semi;colon.com", false)]
    public void Domains_are_RFC_1123_names(string domain, bool valid) => Assert.Equal(valid, DhcpValues.IsValidDomain(domain));

    [Theory]
    [InlineData("node7", true)]
    [InlineData("node7.example.test", true)]
    [InlineData("node7.", false)]
    [InlineData("under_score", false)]
    [InlineData("$(reboot)", false)]
    public void Host_names_are_RFC_1123_names_of_at_most_64_characters(string name, bool valid)
    {
        Assert.Equal(valid, DhcpValues.IsValidHostName(name));
        Assert.False(DhcpValues.IsValidHostName(new string('a', 65)));
    }

    [Theory]
    [InlineData("10.0.0.53", true)]
    [InlineData("2001:db8::53", true)]
    [InlineData("0.0.0.0", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("ff02::1", false)]
    [InlineData("127.0.0.53", false)]
    [InlineData("127.255.0.1", false)]
    [InlineData("0.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("::", false)]
    [InlineData("::ffff:127.0.0.53", false)]
    [InlineData("::ffff:0.0.0.0", false)]
    [InlineData("::ffff:10.0.0.53", true)]
    [InlineData("fe80::1", true)]
    [InlineData("169.254.1.1", true)]
    [InlineData("1.0.0.1", true)]
    [InlineData("223.255.255.254", true)]
    public void Dns_servers_are_unicast(string address, bool usable) => Assert.Equal(usable, DhcpValues.IsUsableDnsServer(IPAddress.Parse(address)));

    internal sealed class Recorder : IResolverPusher
    {
        public readonly List<string> Calls = [];
        public void SetLinkDns(string link, int ifindex, IReadOnlyList<IPAddress> servers) => Calls.Add($"dns {string.Join(' ', servers)}");
        public void SetLinkDomains(string link, int ifindex, IReadOnlyList<string> domains) => Calls.Add($"domains {string.Join(' ', domains)}");
        public void RevertLink(string link, int ifindex) => Calls.Add("revert");
        public void SetHostname(string link, string hostname) => Calls.Add($"hostname {hostname}");
        public void ResetHostname(string link, string ours) => Calls.Add($"reset {ours}");
    }

    [Fact]
    public async Task Invalid_values_from_a_lease_are_logged_and_never_passed_on()
    {
        using var dir = new TempDirectory();
        var log = new MemoryLog();
        var recorder = new Recorder();
        await using var scripts = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = dir.Path }, log.Logger), log.Logger);
        var actions = new DhcpLeaseActions(() => new BrokerConfiguration { UseDNS = true, UseDomain = true, UseHostname = true }, scripts, recorder, log.Logger);
        var kernel = new KernelModel();
        kernel.Apply(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth0" }));
        var lease = LeaseFileParser.Parse("""
            lease {
              interface "eth0";
              fixed-address 10.0.0.5;
              option domain-name-servers 10.0.0.53,0.0.0.0,224.0.0.5;
              option domain-name "bad domain";
              option domain-search "good.test.", "-bad.test.";
              option host-name "evil;name";
              expire never;
            }
            """).Single();

        actions.Handle(new LeasesRead("/x.leases", [lease], Initial: false), kernel);

        Assert.Equal(["dns 10.0.0.53", "domains good.test"], recorder.Calls);
        Assert.Contains(log.Lines, l => l.Contains("2 DNS servers from the lease are not a unicast address (loopback, 0.0.0.0/8, multicast or broadcast): skipped (0.0.0.0, 224.0.0.5)"));
        Assert.Contains(log.Lines, l => l.Contains("2 domains from the lease are not a valid domain name: skipped (\"bad domain\", \"-bad.test\")"));
        Assert.Contains(log.Lines, l => l.Contains("host name \"evil;name\" from the lease is not a valid RFC 1123 name: skipped"));
    }

    private sealed class Harness : IAsyncDisposable
    {
        public readonly TempDirectory Dir = new();
        public readonly MemoryLog Log = new();
        public readonly Recorder Resolver = new();
        public readonly KernelModel Kernel = new();
        public readonly ScriptDispatcher Scripts;
        public readonly DhcpLeaseActions Actions;
        public BrokerConfiguration Config = new() { UseDNS = true, UseDomain = true, UseHostname = true };

        public Harness()
        {
            Scripts = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = Dir.Path }, Log.Logger), Log.Logger);
            Actions = new DhcpLeaseActions(() => Config, Scripts, Resolver, Log.Logger);
            Kernel.Apply(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth0" }));
            Kernel.Apply(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 4, Name = "eth1" }));
        }

        public void Read(string options, string link = "eth0", string address = "10.0.0.5") =>
            Actions.Handle(new LeasesRead($"/{link}.leases", [.. LeaseFileParser.Parse(
                $"lease {{ interface \"{link}\"; fixed-address {address}; {options} expire never; }}")], Initial: false), Kernel);

        public async ValueTask DisposeAsync()
        {
            await Scripts.DisposeAsync();
            Dir.Dispose();
        }
    }

    [Fact]
    public async Task A_lease_without_the_servers_or_domains_of_the_one_before_clears_them_in_resolved()
    {
        await using var h = new Harness();
        h.Read("option domain-name-servers 10.0.0.66; option domain-name \"rogue.test\"; option host-name \"rogue7\";");
        h.Read("option routers 10.0.0.1;");
        // The rogue server's values are not left behind, its host name neither; an empty list goes again at each change
        // (a clear that failed is made good), a host name reset only once.
        h.Read("option routers 10.0.0.2;");
        h.Read("option domain-name-servers 10.0.0.53, 127.0.0.1;", address: "10.0.0.6");
        h.Read("option domain-name-servers 127.0.0.1;", address: "10.0.0.7");
        Assert.Equal(["dns 10.0.0.66", "domains rogue.test", "hostname rogue7", "dns ", "domains ", "reset rogue7", "dns ", "domains ",
            "dns 10.0.0.53", "domains ", "dns ", "domains "], h.Resolver.Calls);
    }

    [Fact]
    public async Task A_link_first_seen_without_servers_is_cleared_for_what_a_daemon_before_a_restart_may_have_pushed()
    {
        await using var h = new Harness();
        h.Read("option routers 10.0.0.1;", link: "eth1");
        Assert.Equal(["dns ", "domains "], h.Resolver.Calls);
    }

    [Fact]
    public async Task A_lease_remembered_before_a_restart_and_gone_at_start_reverts_its_link()
    {
        await using var h = new Harness();
        var remembered = RememberedStates.Parse(
            "boot b\nlease /eth0.leases eth0 4 x@never\nlease /eth1.leases eth1 4 y@never\n");
        var eth1 = LeaseFileParser.Parse("lease { interface \"eth1\"; fixed-address 10.0.0.9; option domain-name-servers 10.0.0.53; expire never; }");
        h.Actions.Handle(new LeasesRead("/eth0.leases", [], Initial: true), h.Kernel, since: remembered);
        h.Actions.Handle(new LeasesRead("/eth1.leases", eth1, Initial: true), h.Kernel, since: remembered);
        Assert.Equal(["revert", "dns 10.0.0.53", "domains "], h.Resolver.Calls);
        Assert.Contains(h.Log.Lines, l => l.Contains("dhclient: lease of eth0 ended while the daemon was stopped"));
    }

    [Fact]
    public async Task The_first_link_to_give_a_host_name_keeps_it_and_hands_it_over_when_its_lease_stops_giving_one()
    {
        await using var h = new Harness();
        h.Read("option host-name \"node-a\";");
        h.Read("option host-name \"node-b\";", link: "eth1");
        h.Read("option host-name \"node-b\";", link: "eth1", address: "10.0.0.8");
        h.Read("option routers 10.0.0.1;");
        h.Actions.Handle(new LeasesRead("/eth1.leases", [], Initial: false), h.Kernel);
        Assert.Equal(["hostname node-a", "hostname node-b", "reset node-b"], h.Resolver.Calls.Where(c => c.StartsWith("hostname") || c.StartsWith("reset")));
    }

    [Fact]
    public async Task A_host_name_is_reset_when_its_link_is_gone_from_the_kernel_before_its_lease_ends()
    {
        await using var h = new Harness();
        h.Read("option host-name \"usb7\";", link: "eth1");
        h.Kernel.Apply(new LinkNotification(true, NetlinkFlags.None, new LinkMessage { Index = 4, Name = "eth1" }));
        h.Actions.Handle(new LeasesRead("/eth1.leases", [], Initial: false), h.Kernel);
        Assert.Equal(["dns ", "domains ", "hostname usb7", "reset usb7"], h.Resolver.Calls);
    }

    [Fact]
    public async Task The_lease_of_one_family_ending_leaves_the_link_with_the_other_familys_values_only()
    {
        await using var h = new Harness();
        var v4 = LeaseFileParser.Parse("lease { interface \"eth0\"; fixed-address 10.0.0.5; option domain-name-servers 10.0.0.53; expire never; }").Single();
        var v6 = LeaseFileParser.Parse("lease6 { interface \"eth0\"; option dhcp6.name-servers 2001:db8::66; }").Single();
        h.Actions.Handle(new LeasesRead("/dhclient.eth0.leases", [v4], Initial: false), h.Kernel);
        h.Actions.Handle(new LeasesRead("/dhclient6.eth0.leases", [v6], Initial: false), h.Kernel);
        h.Actions.Handle(new LeasesRead("/dhclient6.eth0.leases", [], Initial: false), h.Kernel);
        Assert.Equal(["dns 10.0.0.53", "domains ", "dns 10.0.0.53 2001:db8::66", "domains ", "dns 10.0.0.53", "domains "], h.Resolver.Calls);
        h.Actions.Handle(new LeasesRead("/dhclient.eth0.leases", [], Initial: false), h.Kernel);
        Assert.Equal("revert", h.Resolver.Calls[^1]);
    }

    [Fact]
    public async Task What_was_pushed_is_cleared_at_the_next_lease_change_once_the_option_is_off_or_the_link_leaves_Links()
    {
        await using var h = new Harness();
        h.Read("option domain-name-servers 10.0.0.53; option domain-name \"lan.test\";");
        h.Config = h.Config with { UseDNS = false };
        h.Read("option domain-name-servers 10.0.0.54; option domain-name \"lan.test\";");
        h.Config = h.Config with { UseDNS = true, Links = new LinkFilter(["eth1"]) };
        h.Read("option domain-name-servers 10.0.0.55; option domain-name \"lan.test\";");
        h.Read("option domain-name-servers 10.0.0.56; option domain-name \"lan.test\";");
        Assert.Equal(["dns 10.0.0.53", "domains lan.test", "dns ", "domains lan.test", "domains "], h.Resolver.Calls);
    }

    [Fact]
    public async Task A_reload_applies_to_the_leases_held_now_and_with_every_push_off_calls_nothing()
    {
        await using var h = new Harness();
        h.Config = new BrokerConfiguration();
        h.Read("option domain-name-servers 10.0.0.53; option host-name \"node1\";");
        h.Actions.Reconfigured(h.Kernel);
        Assert.Empty(h.Resolver.Calls);
        h.Config = h.Config with { UseDNS = true, UseHostname = true };
        h.Actions.Reconfigured(h.Kernel);
        h.Config = h.Config with { UseDNS = false, UseHostname = false };
        h.Actions.Reconfigured(h.Kernel);
        h.Actions.Reconfigured(h.Kernel);
        Assert.Equal(["dns 10.0.0.53", "hostname node1", "dns ", "reset node1"], h.Resolver.Calls);
    }

    [Fact]
    public async Task A_daemon_with_every_push_off_never_calls_resolved_or_hostnamed()
    {
        await using var h = new Harness();
        h.Config = new BrokerConfiguration();
        h.Read("option domain-name-servers 10.0.0.53; option domain-name \"lan.test\"; option host-name \"node1\";");
        h.Read("option routers 10.0.0.1;");
        h.Actions.Handle(new LeasesRead("/eth0.leases", [], Initial: false), h.Kernel);
        Assert.Empty(h.Resolver.Calls);
    }

    [Fact]
    public async Task Nothing_is_pushed_or_reverted_for_a_link_outside_Links()
    {
        await using var h = new Harness();
        h.Config = h.Config with { Links = new LinkFilter(["eth1"]) };
        h.Read("option domain-name-servers 10.0.0.53; option domain-name \"lan.test\"; option host-name \"node1\";");
        h.Actions.Handle(new LeasesRead("/eth0.leases", [], Initial: false), h.Kernel);
        Assert.Empty(h.Resolver.Calls);

        h.Read("option domain-name-servers 10.0.0.53; option host-name \"node1\";", link: "eth1");
        h.Actions.Handle(new LeasesRead("/eth1.leases", [], Initial: false), h.Kernel);
        Assert.Equal(["dns 10.0.0.53", "domains ", "hostname node1", "revert", "reset node1"], h.Resolver.Calls);
    }

    [Fact]
    public async Task Hundreds_of_servers_and_domains_are_cut_to_what_resolved_keeps_and_logged_in_one_short_line()
    {
        await using var h = new Harness();
        var servers = string.Join(", ", Enumerable.Range(0, 290).Select(i => $"10.1.{i / 250}.{i % 250 + 1}"));
        var domains = string.Join(", ", Enumerable.Range(0, 300).Select(i => $"\"d{i}.example.test\""));
        var bad = string.Join(", ", Enumerable.Range(0, 50).Select(i => $"\"bad_{i}\""));
        h.Read($"option domain-name-servers {servers}; option domain-search {domains}, {bad};");
        Assert.Equal(2, h.Resolver.Calls.Count);
        Assert.Equal(DhcpValues.MaxPerLink, h.Resolver.Calls[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length - 1);
        Assert.Equal(DhcpValues.MaxPerLink, h.Resolver.Calls[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length - 1);
        Assert.Contains(h.Log.Lines, l => l.Contains("the lease has 290 DNS servers; the first 128 are pushed, the rest skipped"));
        Assert.Contains(h.Log.Lines, l => l.Contains("the lease has 300 domains; the first 128 are pushed"));
        Assert.Contains(h.Log.Lines, l => l.Contains("50 domains from the lease are not a valid domain name: skipped (\"bad_0\", \"bad_1\", \"bad_2\", \"bad_3\" and 46 more)"));
        Assert.All(h.Log.Lines, l => Assert.True(l.Length < 400, l));
    }
}
