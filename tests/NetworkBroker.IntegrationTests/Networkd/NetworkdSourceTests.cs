using System.Text.Json;
using NetworkBroker.Core;
using NetworkBroker.IntegrationTests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Networkd;

/// <summary>The broker driven by the real systemd-networkd in a namespace, on a private bus.</summary>
public class NetworkdSourceTests : IDisposable
{
    private readonly NetworkdSandbox _sandbox = new(StaticNetwork);

    public void Dispose() => _sandbox.Dispose();

    private async Task<(BrokerHarness Broker, int IfIndex)> StartRoutable()
    {
        var broker = await BrokerHarness.StartAsync(_sandbox.Node, networkd: _sandbox);
        Install(broker);
        var ifindex = _sandbox.Node.IfIndex("eth1");
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "routable");
        await broker.Scripts.WhenIdle();
        return (broker, ifindex);
    }

    /// <summary>Carrier down, wait for networkd to drop the address (a quick return can leave networkd 252 stuck at "carrier"), carrier up, wait for routable.</summary>
    private async Task Flap(BrokerHarness broker, int ifindex)
    {
        _sandbox.Carrier(false);
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "no-carrier");
        await WaitForNetworkdState(broker, ifindex, "IPv4AddressState", "off");
        _sandbox.Carrier(true);
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "routable");
        await broker.IdleAsync();
    }

    [Fact]
    public async Task A_carrier_flap_runs_each_operational_state_once_in_order_with_the_links_states()
    {
        using var monitor = new BusMonitor(_sandbox.Bus);
        await monitor.Listening;
        var (broker, ifindex) = await StartRoutable();
        await using var _ = broker;
        var (runsBefore, signalsBefore) = (Record(broker).Length, monitor.Count);

        await Flap(broker, ifindex);

        var expected = monitor.Transitions(global::NetworkBroker.Networkd.NetworkdBus.LinkPath(ifindex), "OperationalState", signalsBefore, "routable");
        var runs = Record(broker)[runsBefore..].Select(l => l.Split('|')).Where(f => f[0] == f[3]).ToList();
        Assert.Equal(expected, runs.Select(f => f[0]));
        Assert.Equal("no-carrier", expected[0]);
        Assert.Equal("routable", expected[^1]);
        Assert.All(runs, f => Assert.Equal("eth1", f[1]));
        Assert.All(runs, f => Assert.Equal(ifindex.ToString(), f[2]));
        // The states as of each event: no-carrier with the carrier gone, routable with it back and the address routable.
        Assert.Equal("no-carrier", runs[0][5]);
        Assert.Equal("carrier", runs[^1][5]);
        Assert.Equal("routable", runs[^1][6]);
        Assert.Equal("online", runs[^1][7]);
        Assert.All(runs, f => Assert.Equal("", f[8])); // a static link has no lease
        Assert.All(runs, f => Assert.Equal("json", f[9]));
    }

    [Fact]
    public async Task With_the_Go_projects_StateProperties_online_d_and_offline_d_run_once_per_OnlineState_change_and_no_directory_twice_per_signal()
    {
        string[] goSet = ["OperationalState", "AdministrativeState", "CarrierState", "AddressState", "IPv4AddressState", "IPv6AddressState", "OnlineState"];
        using var monitor = new BusMonitor(_sandbox.Bus);
        await monitor.Listening;
        var broker = await BrokerHarness.StartAsync(_sandbox.Node, c => c with { StateProperties = [.. goSet] }, networkd: _sandbox);
        await using var _ = broker;
        Install(broker);
        foreach (var state in new[] { "online", "offline", "partial" })
            broker.Directory.Script(state, "10-record", $"#!/bin/sh\necho \"$STATE|$LINK|$LINKINDEX|$OperationalState|$AdministrativeState|$CarrierState|$AddressState|$OnlineState||\" >> {broker.Directory.Path}/record\n");
        var ifindex = _sandbox.Node.IfIndex("eth1");
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "routable");
        await WaitForNetworkdState(broker, ifindex, "AdministrativeState", "configured");
        await broker.IdleAsync();
        var (runsBefore, signalsBefore) = (Record(broker).Length, monitor.Count);
        var states = await broker.Broker.QueryAsync(b => b.Networkd.Link(ifindex)!);

        const int Flaps = 3;
        for (var flap = 0; flap < Flaps; flap++)
        {
            await Flap(broker, ifindex);
            await WaitForNetworkdState(broker, ifindex, "AdministrativeState", "configured");
        }
        await broker.IdleAsync();

        // What networkd said, read by busctl: each signal runs the distinct new values of the selected properties
        // it changed, in its order; the Go project ran one directory per changed property.
        var path = global::NetworkBroker.Networkd.NetworkdBus.LinkPath(ifindex);
        var (expected, perProperty) = (new List<string>(), 0);
        var last = new Dictionary<string, string>(states);
        foreach (var changed in monitor.Signals(path, signalsBefore))
        {
            var directories = new List<string>();
            foreach (var (property, value) in changed)
            {
                if (!goSet.Contains(property) || last.GetValueOrDefault(property) == value)
                    continue;
                last[property] = value;
                perProperty++;
                if (!directories.Contains(value))
                    directories.Add(value);
            }
            expected.AddRange(directories);
        }
        var runs = Record(broker)[runsBefore..].Select(l => l.Split('|')).Where(f => f[1] == "eth1").Select(f => f[0]).ToList();
        Assert.Equal(expected, runs);
        Assert.True(perProperty > expected.Count, "no signal named one directory by two properties: the test would not see a second run");

        string[] online = ["online", "offline", "partial"];
        var onlineChanges = monitor.Transitions(path, "OnlineState", signalsBefore, states.GetValueOrDefault("OnlineState"));
        Assert.Equal(onlineChanges, runs.Where(online.Contains));
        Assert.Equal(Flaps, runs.Count(r => r == "offline"));
        Assert.Equal(Flaps, runs.Count(r => r == "online"));
    }

    [Fact]
    public async Task The_JSON_describes_the_link_in_the_seeds_schema()
    {
        var (broker, ifindex) = await StartRoutable();
        await using var _ = broker;
        await Flap(broker, ifindex);

        using var json = JsonDocument.Parse(File.ReadAllText(broker.Directory.Combine("json-routable")));
        var root = json.RootElement;
        Assert.Equal("eth1", root.GetProperty("Name").GetString());
        Assert.Equal(ifindex, root.GetProperty("Index").GetInt32());
        Assert.Equal(1500, root.GetProperty("MTU").GetInt32());
        Assert.Equal("routable", root.GetProperty("OperationalState").GetString());
        Assert.Equal("veth", root.GetProperty("Driver").GetString());
        Assert.Equal("ether", root.GetProperty("Type").GetString());
        Assert.Matches("^([0-9a-f]{2}:){5}[0-9a-f]{2}$", root.GetProperty("HardwareAddr").GetString());
        Assert.Equal("/etc/systemd/network/10-eth1.network", root.GetProperty("NetworkFile").GetString());
        Assert.Contains(root.GetProperty("Address").EnumerateArray(), a => a.GetProperty("IP").GetString() == "10.231.0.2" && a.GetProperty("Mask").GetInt32() == 24);
        // The prefix route comes with the address; networkd may add the gateway route just after reporting routable.
        Assert.Contains(root.GetProperty("Routes").EnumerateArray(), r =>
            r.GetProperty("Dst").GetProperty("IP").GetString() == "10.231.0.0" && r.GetProperty("Src").GetString() == "10.231.0.2");
        foreach (var key in new[] { "TxQLen", "AlternativeNames", "Flags", "Statistics", "OperState", "CarrierState", "AddressState", "IPv4AddressState", "IPv6AddressState", "OnlineState", "SetupState", "DNS", "Domains", "NTP" })
            Assert.True(root.TryGetProperty(key, out var _), key);
    }

    [Fact]
    public async Task Manager_d_runs_with_the_managers_changed_properties()
    {
        var (broker, ifindex) = await StartRoutable();
        await using var _ = broker;
        _sandbox.Carrier(false);
        await WaitForNetworkdState(broker, ifindex, "OperationalState", "no-carrier");
        await BrokerHarness.WaitForAsync(() => broker.Observed.OfType<ManagerTransition>().Any(m => m.States.GetValueOrDefault("OperationalState") == "no-carrier"));
        await broker.IdleAsync();

        var runs = Record(broker, "manager-record");
        Assert.Contains(runs, r => r.StartsWith("manager|no-carrier|no-carrier|no-carrier|", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_state_at_start_fires_nothing_without_RunStartupTriggers()
    {
        var (broker, _) = await StartRoutable();
        await using var __ = broker;
        await broker.IdleAsync();
        // Reaching routable after the broker started may fire; what was already true at start may not.
        var snapshot = broker.Observed.OfType<Events.LinkStatesRead>().First();
        var initiallyRoutable = snapshot.Links.Values.Any(s => s.GetValueOrDefault("OperationalState") == "routable");
        if (initiallyRoutable)
            Assert.DoesNotContain(Record(broker), l => l.StartsWith("routable|"));
    }

    [Fact]
    public async Task The_JSON_of_routable_always_has_the_address_networkd_configured_before_saying_so()
    {
        // networkd adds the address over rtnetlink, then signals routable over D-Bus: the kernel's notification
        // is in the broker's socket before the signal, and the JSON built for the signal must include it.
        var (broker, ifindex) = await StartRoutable();
        await using var _ = broker;
        var missing = new List<int>();
        for (var flap = 0; flap < 40; flap++)
        {
            File.Delete(broker.Directory.Combine("json-routable"));
            await Flap(broker, ifindex);
            using var json = JsonDocument.Parse(File.ReadAllText(broker.Directory.Combine("json-routable")));
            if (!json.RootElement.GetProperty("Address").EnumerateArray().Any(a => a.GetProperty("IP").GetString() == "10.231.0.2"))
                missing.Add(flap);
        }
        Assert.True(missing.Count == 0, $"routable without its address in the JSON at flaps {string.Join(", ", missing)}");
        // Most signals find the kernel's notifications handled already and need no barrier round trip; the check
        // above holds for both ways.
        var (sent, skipped) = await broker.Broker.QueryAsync(b => b.Barriers);
        Assert.True(skipped > 0, $"every signal waited for a barrier ({sent}); the monitor never said it had caught up");
    }

    [Fact]
    public async Task A_networkd_dispatcher_hook_runs_unchanged_with_its_variables()
    {
        var (broker, ifindex) = await StartRoutable();
        await using var _ = broker;
        var record = broker.Directory.Combine("dispatcher");
        // Typical of networkd-dispatcher's routable.d hooks: filter on IFACE, use ADDR and the address lists.
        broker.Directory.Script("routable", "50-dispatcher-hook",
            $"#!/bin/sh\n[ \"$IFACE\" = eth1 ] || exit 0\necho \"$IFACE|$STATE|$ADDR|$IP_ADDRS|$IP6_ADDRS|$ESSID|$AdministrativeState|$OperationalState\" >> {record}\n");
        await Flap(broker, ifindex);

        var line = Assert.Single(File.ReadAllLines(record));
        // networkd may still be configuring (setting the gateway) when the link is already routable.
        Assert.Matches(@"^eth1\|routable\|10\.231\.0\.2\|10\.231\.0\.2\|\|\|(configuring|configured)\|routable$", line);
    }
}
