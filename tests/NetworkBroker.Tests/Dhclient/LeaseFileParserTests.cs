using System.Net;
using NetworkBroker.Dhclient;

namespace NetworkBroker.Tests.Dhclient;

public class LeaseFileParserTests
{
    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "dhclient", name));

    [Fact]
    public void A_lease_written_by_dhclient_from_dnsmasq_is_read_whole()
    {
        var lease = Assert.Single(LeaseFileParser.Parse(Fixture("dnsmasq-v4.leases")));
        Assert.Equal("eth0", lease.Interface);
        Assert.Equal(4, lease.Family);
        Assert.Equal(IPAddress.Parse("10.233.0.80"), lease.Address);
        Assert.Equal(24, lease.PrefixLength);
        Assert.Equal<IPAddress>([IPAddress.Parse("10.233.0.1")], lease.Routers);
        Assert.Equal<IPAddress>([IPAddress.Parse("10.233.0.53"), IPAddress.Parse("10.233.0.54")], lease.DnsServers);
        Assert.Equal("example.test", lease.DomainName);
        Assert.Equal<string>(["example.test", "corp.test"], lease.DomainSearch);
        Assert.Equal("node7", lease.HostName);
        Assert.Equal(IPAddress.Parse("10.233.0.1"), lease.ServerIdentifier);
        Assert.Equal(120u, lease.LeaseTime);
        Assert.Equal(new DateTime(2026, 11, 24, 17, 15, 18, DateTimeKind.Utc), lease.Expire);
        Assert.Equal(DateTimeKind.Utc, lease.Expire!.Value.Kind);
        Assert.Equal(new DateTime(2026, 11, 24, 17, 14, 5, DateTimeKind.Utc), lease.Renew);
    }

    [Fact]
    public void After_a_release_the_last_lease_has_expired_and_there_is_no_current_lease()
    {
        var leases = LeaseFileParser.Parse(Fixture("dnsmasq-v4-released.leases"));
        Assert.Equal(2, leases.Count);
        var releasedAt = leases[1].Expire!.Value;
        Assert.Empty(LeaseFileParser.Current(leases, releasedAt.AddSeconds(1)));
        // Just before the release the first one would still have been current: the last lease of an interface wins.
        Assert.Single(LeaseFileParser.Current([leases[0]], releasedAt));
    }

    [Fact]
    public void A_DHCPv6_lease_gives_the_address_name_servers_search_list_and_expiry()
    {
        var lease = Assert.Single(LeaseFileParser.Parse(Fixture("v6.leases")));
        Assert.Equal(6, lease.Family);
        Assert.Equal("eth1", lease.Interface);
        Assert.Equal(IPAddress.Parse("2001:db8:33::105"), lease.Address);
        Assert.Equal(128, lease.PrefixLength);
        Assert.Equal<IPAddress>([IPAddress.Parse("2001:db8:33::53"), IPAddress.Parse("2001:db8:33::54")], lease.DnsServers);
        Assert.Equal<string>(["example.test", "v6.test"], lease.DomainSearch);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1764000900).UtcDateTime, lease.Expire);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1764000300).UtcDateTime, lease.Renew);
    }

    [Fact]
    public void Several_leases_per_interface_the_last_is_current_and_interfaces_are_separate()
    {
        var leases = LeaseFileParser.Parse("""
            lease { interface "eth0"; fixed-address 10.0.0.5; expire 2 2099/01/01 00:00:00; }
            lease { interface "eth1"; fixed-address 10.1.0.5; expire never; }
            lease { interface "eth0"; fixed-address 10.0.0.6; expire 2 2099/01/01 00:00:00; }
            """);
        var current = LeaseFileParser.Current(leases, DateTime.UtcNow);
        Assert.Equal(IPAddress.Parse("10.0.0.6"), current.Single(l => l.Interface == "eth0").Address);
        Assert.Null(current.Single(l => l.Interface == "eth1").Expire);
    }

    [Fact]
    public void Comments_escapes_epoch_times_and_unknown_statements_are_understood()
    {
        var lease = Assert.Single(LeaseFileParser.Parse("""
            # a comment
            lease { # another
              interface "eth0";
              fixed-address 10.0.0.5;
              option host-name "a\"b\\c\101";
              medium "media";
              bootp;
              expire epoch 4102444800; # 2100-01-01
            }
            """));
        Assert.Equal("a\"b\\cA", lease.HostName);
        Assert.Equal(new DateTime(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc), lease.Expire);
    }

    [Theory]
    [InlineData("}\nlease { interface \"eth0\"; }", 1, false)]
    [InlineData("lease { interface \"eth0\"; fixed-address 10.0.0.300; }", 1, false)]
    [InlineData("lease {\n interface \"eth0\";\n expire 2 2026-11-24 17:00:00;\n}", 3, false)]
    [InlineData("lease {\n interface \"eth0\";\n fixed-address 10.0.0.5;", 3, true)]
    [InlineData("lease {\n interface \"eth0", 2, true)]
    [InlineData("lease { interface \"eth0\" }", 1, false)]
    public void Malformed_files_give_an_error_with_the_line(string text, int line, bool incomplete)
    {
        var e = Assert.Throws<LeaseParseException>(() => LeaseFileParser.Parse(text, "/var/lib/dhcp/x.leases"));
        Assert.Equal(line, e.Line);
        Assert.Equal(incomplete, e.Incomplete);
        Assert.StartsWith($"/var/lib/dhcp/x.leases:{line}: ", e.Message);
    }

    [Fact]
    public void An_option_value_a_server_got_wrong_leaves_out_that_option_and_the_rest_of_the_file_stands()
    {
        // What dhclient 4.4 writes for a server's mask of 255.0.255.0, an empty DNS option and a router option of 2 bytes.
        const string text = """
            lease {
              interface "eth1";
              fixed-address 10.0.0.50;
              option subnet-mask 255.0.255.0;
              option domain-name-servers <error>;
              option routers <error>;
              option domain-name "rogue.test";
              option dhcp-lease-time never;
              expire never;
            }
            lease {
              interface "eth1";
              fixed-address 10.0.0.77;
              option subnet-mask 255.255.255.0;
              option routers 10.0.0.1;
              option domain-name-servers 10.0.0.200;
              expire never;
            }
            """;
        var skipped = new List<LeaseParseException>();
        var leases = LeaseFileParser.Parse(text, "/var/lib/dhcp/x.leases", skipped);

        Assert.Equal(2, leases.Count);
        var rogue = leases[0];
        Assert.Equal(IPAddress.Parse("10.0.0.50"), rogue.Address);
        Assert.Null(rogue.SubnetMask);
        Assert.Null(rogue.PrefixLength);
        Assert.Empty(rogue.DnsServers);
        Assert.Empty(rogue.Routers);
        Assert.Equal("rogue.test", rogue.DomainName);
        Assert.Equal(24, leases[1].PrefixLength);
        Assert.Equal(IPAddress.Parse("10.0.0.200"), Assert.Single(leases[1].DnsServers));
        Assert.Equal(
            [
                "/var/lib/dhcp/x.leases:5: \"<error>\" is not an address",
                "/var/lib/dhcp/x.leases:6: \"<error>\" is not an address",
                "/var/lib/dhcp/x.leases:8: \"option\" needs a number",
                "/var/lib/dhcp/x.leases:4: subnet mask 255.0.255.0 is not contiguous",
            ],
            skipped.Select(e => e.Message));
        // Without a list to report to, the same file parses the same way.
        Assert.Equal(leases.Select(l => l.Identity), LeaseFileParser.Parse(text).Select(l => l.Identity));
    }

    [Fact]
    public void Blocks_nested_a_hundred_thousand_deep_are_an_error_at_the_line_of_the_block_too_many_not_a_stack_overflow()
    {
        var text = "# garbage\nlease {\n" + new string('{', 100_000) + "\n";
        var e = Assert.Throws<LeaseParseException>(() => LeaseFileParser.Parse(text, "/var/lib/dhcp/x.leases"));
        Assert.Equal("/var/lib/dhcp/x.leases:3: blocks nest deeper than 8 levels", e.Message);
        // Not the error of a file dhclient is still writing: read again later, it would fail the same way.
        Assert.False(e.Incomplete);
    }

    [Fact]
    public void Blocks_nest_as_deep_as_the_limit_and_one_level_more_is_refused()
    {
        // lease { and 7 unknown blocks: 8 levels, read; the lease is still found beside them.
        static string Nested(int levels) =>
            "lease {\n interface \"eth0\";\n fixed-address 10.0.0.5;\n" +
            string.Concat(Enumerable.Range(1, levels - 1).Select(i => $" block{i} {{\n")) +
            new string('}', levels - 1) + "\n}\n";
        var lease = Assert.Single(LeaseFileParser.Parse(Nested(LeaseFileParser.MaxNesting)));
        Assert.Equal(IPAddress.Parse("10.0.0.5"), lease.Address);

        var e = Assert.Throws<LeaseParseException>(() => LeaseFileParser.Parse(Nested(LeaseFileParser.MaxNesting + 1), "x.leases"));
        Assert.Equal(3 + LeaseFileParser.MaxNesting, e.Line);
        Assert.EndsWith("blocks nest deeper than 8 levels", e.Message);
    }

    [Fact]
    public void An_empty_file_has_no_leases()
    {
        Assert.Empty(LeaseFileParser.Parse(""));
        Assert.Empty(LeaseFileParser.Parse("# nothing\n"));
    }

    [Fact]
    public void Mutated_lease_files_fail_only_with_a_parse_error()
    {
        var random = new Random(61);
        var seeds = new[] { Fixture("dnsmasq-v4.leases"), Fixture("dnsmasq-v4-released.leases"), Fixture("v6.leases") };
        const string alphabet = "{};,\"\\#\n 0123456789.:abcdef/-";
        for (var round = 0; round < 6000; round++)
        {
            var text = seeds[round % seeds.Length].ToCharArray().ToList();
            for (var m = random.Next(1, 6); m > 0; m--)
            {
                var at = random.Next(text.Count + 1);
                switch (random.Next(3))
                {
                    case 0 when at < text.Count: text.RemoveAt(at); break;
                    case 1: text.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                    default: if (at < text.Count) text[at] = alphabet[random.Next(alphabet.Length)]; break;
                }
            }
            if (random.Next(4) == 0)
                text = text.Take(random.Next(text.Count)).ToList();
            try
            {
                LeaseFileParser.Current(LeaseFileParser.Parse(new string([.. text])), DateTime.UtcNow);
            }
            catch (LeaseParseException)
            {
            }
        }
    }
}
