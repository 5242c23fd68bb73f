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
    public void Dns_servers_are_unicast(string address, bool usable) => Assert.Equal(usable, DhcpValues.IsUsableDnsServer(IPAddress.Parse(address)));

    private sealed class Recorder : IResolverPusher
    {
        public readonly List<string> Calls = [];
        public void SetLinkDns(string link, int ifindex, IReadOnlyList<IPAddress> servers) => Calls.Add($"dns {string.Join(' ', servers)}");
        public void SetLinkDomains(string link, int ifindex, IReadOnlyList<string> domains) => Calls.Add($"domains {string.Join(' ', domains)}");
        public void RevertLink(string link, int ifindex) => Calls.Add("revert");
        public void SetHostname(string link, string hostname) => Calls.Add($"hostname {hostname}");
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
        Assert.Contains(log.Lines, l => l.Contains("DNS server 0.0.0.0 from the lease is not a unicast address: skipped"));
        Assert.Contains(log.Lines, l => l.Contains("domain \"bad domain\" from the lease is not a valid domain name: skipped"));
        Assert.Contains(log.Lines, l => l.Contains("host name \"evil;name\" from the lease is not a valid RFC 1123 name: skipped"));
    }
}
