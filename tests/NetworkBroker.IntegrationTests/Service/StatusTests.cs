using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Service;

public class StatusTests
{
    [Fact]
    public async Task Status_shows_links_with_networkd_states_the_scripts_that_would_run_the_owned_rules_and_the_configuration()
    {
        using var sandbox = new NetworkdSandbox(StaticNetwork);
        using var dir = new TempDirectory();
        dir.Script("routable", "10-announce", "#!/bin/sh\n");
        dir.Script("routable", "20-unsafe", "#!/bin/sh\n", (UnixFileMode)0b111_111_111);
        var config = dir.Write("network-broker.toml", "[Network]\nLinks = \"eth1\"\n");
        sandbox.Node.Ip("rule add from 10.9.9.9 lookup 12345 pref 32000 protocol 250");
        var eth1 = sandbox.Node.IfIndex("eth1");
        await BrokerHarness.WaitForAsync(() => File.Exists(Path.Combine(sandbox.NetifDirectory, "links", eth1.ToString()))
            && File.ReadAllText(Path.Combine(sandbox.NetifDirectory, "links", eth1.ToString())).Contains("OPER_STATE=routable"));

        using var status = BrokerBinary.Start(["status", "--config", config, "--verbose"],
            new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address }, prefix: ["ip", "netns", "exec", sandbox.Node.Name]);
        // No daemon runs here: exit 3, as systemctl status says it.
        Assert.Equal(3, await status.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var output = status.StandardOutput;

        Assert.Matches($@"\n\s+{eth1} eth1\s+operational routable\s+administrative \w+", output);
        Assert.Contains("addresses 10.231.0.2/24", output);
        Assert.Contains("routable.d: 1 script(s) would run (10-announce), 1 skipped", output);
        Assert.Matches(@"lo\s+operational \S+\s+administrative \S+\s+\(not in Links=\)", output);
        Assert.Contains("rule from 10.9.9.9/32 lookup 12345 priority 32000", output);
        Assert.Contains("Links = \"eth1\"", output);

        // The same as one JSON object with stable keys; without --verbose, no configuration in the text.
        using var json = BrokerBinary.Start(["status", "--config", config, "--json"],
            new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address }, prefix: ["ip", "netns", "exec", sandbox.Node.Name]);
        Assert.Equal(3, await json.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        using var document = System.Text.Json.JsonDocument.Parse(json.StandardOutput);
        var root = document.RootElement;
        Assert.False(root.GetProperty("running").GetBoolean());
        Assert.StartsWith("the daemon is not running", root.GetProperty("daemon_error").GetString());
        var link = root.GetProperty("links").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "eth1");
        Assert.Equal(eth1, link.GetProperty("ifindex").GetInt32());
        Assert.Equal("routable", link.GetProperty("operational_state").GetString());
        Assert.True(link.GetProperty("selected").GetBoolean());
        Assert.Equal(["10.231.0.2/24"], link.GetProperty("addresses").EnumerateArray().Select(a => a.GetString()));
        var routable = link.GetProperty("directories").EnumerateArray().Single(d => d.GetProperty("state").GetString() == "routable");
        Assert.Equal(["10-announce"], routable.GetProperty("scripts").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(1, routable.GetProperty("skipped").GetInt32());
        Assert.Equal(["from 10.9.9.9/32 lookup 12345 priority 32000"], root.GetProperty("policy_routing").GetProperty("rules").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(config, root.GetProperty("config").GetString());

        using var plain = BrokerBinary.Start(["status", "--config", config],
            new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address }, prefix: ["ip", "netns", "exec", sandbox.Node.Name]);
        Assert.Equal(3, await plain.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.DoesNotContain("Links = ", plain.StandardOutput);
    }
}
