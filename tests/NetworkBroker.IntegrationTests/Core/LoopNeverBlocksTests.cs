using System.Collections.Immutable;
using System.Text;
using NetworkBroker.Core;
using NetworkBroker.Events;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Netlink;
using Xunit.Abstractions;

namespace NetworkBroker.IntegrationTests.Core;

/// <summary>
/// The broker's loop asks the kernel nothing and reads no file itself, against the real kernel under load:
/// policy routing on several links, a main table of thousands of routes, addresses churning, networkd-style
/// events whose scripts want networkd's files, udev's database and sysfs, and addresses of links the model
/// does not know. Every blocking edge says so to <see cref="LoopGuard"/>; one reached on the loop fails the test.
/// </summary>
public class LoopNeverBlocksTests(ITestOutputHelper output) : IDisposable
{
    private const int PolicyLinks = 6;
    private const int MainTableRoutes = 3000;
    private static readonly TimeSpan Churn = TimeSpan.FromSeconds(4);

    private readonly NetworkNamespace _ns = NetworkNamespace.Create("nbt-loopguard");
    private readonly string[] _links = [.. Enumerable.Range(0, PolicyLinks).Select(i => $"pr{i}")];
    private readonly int[] _tables = new int[PolicyLinks];

    private void Setup()
    {
        for (var i = 0; i < PolicyLinks; i++)
        {
            _ns.Ip($"link add pr{i} type veth peer name prp{i}");
            _ns.Ip($"link set pr{i} up");
            _ns.Ip($"link set prp{i} up");
            _ns.Ip($"addr add 10.250.{i}.2/24 dev pr{i}");
            _ns.Ip($"addr add 2001:db8:{0x250 + i:x}::2/64 dev pr{i} nodad");
            _ns.Ip($"route add default via 10.250.{i}.1 dev pr{i} metric {100 + i}");
            _tables[i] = 9999 + _ns.IfIndex($"pr{i}");
        }
        // A link outside RoutingPolicyRules=, carrying the big main table.
        _ns.Ip("link add side0 type veth peer name sidep0");
        _ns.Ip("link set side0 up");
        _ns.Ip("link set sidep0 up");
        _ns.Ip("addr add 10.251.0.2/16 dev side0");
        // Links the test makes the model lose (no routes of their own, so the model keeps the big table).
        foreach (var lost in new[] { "lost0", "lost1" })
        {
            _ns.Ip($"link add {lost} type veth peer name {lost}p");
            _ns.Ip($"addr add 10.252.{lost[^1]}.2/24 dev {lost}");
        }
        var routes = new StringBuilder();
        for (var k = 0; k < MainTableRoutes; k++)
            routes.Append($"route add 172.{16 + k / 60000}.{k / 250 % 240}.{k % 250}/32 via 10.251.0.1 dev side0 proto static\n");
        _ns.IpBatch(routes.ToString());
    }

    public void Dispose() => _ns.Dispose();

    private List<string> ExpectedRules(IEnumerable<(int Link, string Address)> addresses) =>
    [
        .. addresses.SelectMany(a => new[]
        {
            $"from {a.Address} table {_tables[a.Link]} pref 32000 proto 250", $"to {a.Address} table {_tables[a.Link]} pref 32000 proto 250",
        }).Order(),
    ];

    private static void RecordingScripts(BrokerHarness broker)
    {
        // ${#JSON}: the description was built, so networkd's files, udev's database and sysfs were read for it.
        foreach (var state in new[] { "routable", "degraded" })
            broker.Directory.Script(state, "10-record",
                $"#!/bin/sh\necho \"$LINK $STATE ${{#JSON}} ${{#json}}\" >> {broker.Directory.Path}/record\n");
        broker.Directory.Script("routes", "10-record", $"#!/bin/sh\necho \"routes $LINK\" >> {broker.Directory.Path}/record\n");
    }

    /// <param name="receiveBuffer">The daemon's, and one so small that notifications are lost and the kernel re-read.</param>
    /// <summary>
    /// Makes the model forget a link (a removal the kernel never sent, as when a notification is lost), then hands it
    /// one of the link's addresses: an address of an ifindex the model does not know.
    /// </summary>
    private async Task<Netlink.Messages.AddressMessage> LoseLinkAsync(BrokerHarness broker, string name)
    {
        var index = _ns.IfIndex(name);
        var (link, address) = await broker.Broker.QueryAsync(b => (b.Kernel.Link(index)!, b.Kernel.Addresses(index).First(a => a.Family == AddressFamily.IPv4)));
        await broker.Broker.Events.WriteAsync(new KernelNotified(new LinkNotification(true, NetlinkFlags.None, link)));
        await broker.Broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None, address)));
        return address;
    }

    [Theory]
    [InlineData(NetlinkMonitor.DefaultReceiveBuffer)]
    [InlineData(4096)]
    public async Task Under_churn_with_policy_routing_a_full_table_unknown_links_and_networkd_events_no_blocking_call_reaches_the_loop(int receiveBuffer)
    {
        Setup();
        var before = LoopGuard.Violations;
        await using var broker = await BrokerHarness.StartAsync(_ns, c => c with
        {
            RoutingPolicyRules = [.. _links],
            EmitJSON = true,
            EmitNetworkdDispatcherJSON = true,
        }, policyRouting: true, routesWindow: TimeSpan.FromMilliseconds(50), receiveBuffer: receiveBuffer);
        RecordingScripts(broker);
        var baseAddresses = Enumerable.Range(0, PolicyLinks).SelectMany(i => new[] { (i, $"10.250.{i}.2"), (i, $"2001:db8:{0x250 + i:x}::2") }).ToList();
        await BrokerHarness.WaitForAsync(() => IpJson.OwnRules(_ns).SequenceEqual(ExpectedRules(baseAddresses)), 60);
        Assert.True(await broker.Broker.QueryAsync(b => b.Kernel.RouteCount) >= MainTableRoutes);

        var indexes = _links.Select(_ns.IfIndex).ToArray();
        var kept = new List<(int Link, string Address)>();
        var churn = Task.Run(() =>
        {
            var deadline = DateTime.UtcNow + Churn;
            for (var round = 0; DateTime.UtcNow < deadline || round < 3; round++)
            {
                var batch = new StringBuilder();
                for (var i = 0; i < PolicyLinks; i++)
                    for (var n = 0; n < 20; n++)
                    {
                        var address = $"10.250.{i}.{10 + (round * 20 + n) % 200}";
                        batch.Append($"addr replace {address}/24 dev pr{i}\n");
                        if (n % 10 != 0 || round % 5 != 0)
                            batch.Append($"addr del {address}/24 dev pr{i}\n");
                    }
                // Routes come and go in the main table too (routes.d, and the model's route index).
                for (var k = 0; k < 50; k++)
                    batch.Append($"route {(round % 2 == 0 ? "add" : "del")} 192.168.{k}.0/24 via 10.251.0.1 dev side0 proto static\n");
                _ns.IpBatch(batch.ToString());
            }
        });

        // networkd-style events while the kernel churns: each waits for a barrier, then its scripts read files off the loop.
        for (var round = 0; round < 10; round++)
        {
            foreach (var index in indexes)
                await broker.Broker.Events.WriteAsync(new LinkStatesChanged(index,
                    [new("OperationalState", round % 2 == 0 ? "routable" : "degraded"), new("AdministrativeState", "configured")]));
            await Task.Delay(100);
        }

        // Addresses of links the model does not know, while the kernel churns: one it lost, and some that do not exist
        // at all. Both make the broker ask the kernel (a re-read after an overrun may answer first).
        var lostAddress = await LoseLinkAsync(broker, "lost0");
        for (var ghost = 1; ghost <= 5; ghost++)
            await broker.Broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
                lostAddress with { Index = 100_000 + ghost })));

        await churn;
        // Once more in the quiet, where nothing else can answer: the link is learnt from the kernel's reply. The quiet is
        // waited for: with the small buffer, a re-read after an overrun still queued by the churn's tail would learn the
        // link before the question was asked (seen once in a full run: the on-demand line never came).
        await broker.SettleAsync();
        await LoseLinkAsync(broker, "lost1");
        await BrokerHarness.WaitForAsync(() => broker.Log.Lines.Any(l => l.Contains("lost1") && l.Contains("Link learnt from the kernel on demand")));
        // What the churn leaves: every 10th address of every 5th round.
        for (var i = 0; i < PolicyLinks; i++)
            foreach (var address in _ns.Ip($"-4 -o addr show dev pr{i}").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                         .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3].Split('/')[0]))
                kept.Add((i, address));
        var expected = ExpectedRules([.. kept, .. baseAddresses.Where(a => a.Item2.Contains(':'))]);
        Assert.True(kept.Count > PolicyLinks, "the churn left addresses behind");

        await broker.SettleAsync();
        await BrokerHarness.WaitForAsync(() => IpJson.OwnRules(_ns).SequenceEqual(expected), 60);
        await broker.IdleAsync();

        // The paths were taken: scripts ran with descriptions built off the loop, routes.d for the main table.
        var record = File.ReadAllLines(broker.Directory.Combine("record"));
        Assert.Contains(record, l => l.StartsWith("pr0 routable ", StringComparison.Ordinal) && !l.EndsWith(" 0 0", StringComparison.Ordinal));
        Assert.Contains(record, l => l.StartsWith("pr0 degraded ", StringComparison.Ordinal));
        Assert.Contains(record, l => l == "routes side0");

        if (receiveBuffer < NetlinkMonitor.DefaultReceiveBuffer)
            Assert.True(broker.Watcher.Overruns > 0, "the small buffer must have overrun: the re-reads are part of the test");
        var violations = LoopGuard.Violations - before;
        var (events, routes) = await broker.Broker.QueryAsync(b => (b.EventsHandled, b.Kernel.RouteCount));
        output.WriteLine($"receive buffer {receiveBuffer}: {events} events handled, {broker.Watcher.Overruns} overruns, {routes} routes in the model, " +
            $"{expected.Count} rules, {record.Length} script runs recorded, {violations} blocking calls on the loop");
        Assert.True(violations == 0,
            $"{violations} blocking call(s) on the broker's loop: {string.Join(", ", LoopGuard.Sites)}\n" +
            string.Join('\n', broker.Log.Lines.Where(l => l.Contains("blocking call on the broker's loop"))));
        Assert.Equal(expected, IpJson.OwnRules(_ns));
    }
}
