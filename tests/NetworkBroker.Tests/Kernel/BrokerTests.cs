using System.Net;
using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Kernel;

public class BrokerTests : IAsyncDisposable
{
    private sealed class FakeKernel(params LinkMessage[] links) : IKernel
    {
        public int Asked;
        public int Resyncs;
        public LinkMessage? GetLink(int index) { Asked++; return links.FirstOrDefault(l => l.Index == index); }
        public void RequestResync() => Resyncs++;
    }

    private readonly TempDirectory _dir = new();
    private readonly MemoryLog _log = new();
    private readonly ScriptDispatcher _scripts;
    private readonly Broker _broker;
    private readonly CancellationTokenSource _cancel = new();
    private readonly Task _loop;

    public BrokerTests()
    {
        _scripts = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = _dir.Path }, _log.Logger), _log.Logger);
        _broker = new Broker(new BrokerConfiguration { Path = _dir.Combine("network-broker.toml") }, _log.Logger, _scripts);
        _loop = _broker.RunAsync(_cancel.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        await _loop;
        await _scripts.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<List<BrokerEvent>> Feed(params BrokerEvent[] events)
    {
        var observed = new List<BrokerEvent>();
        _broker.Observed += observed.Add;
        foreach (var e in events)
            await _broker.Events.WriteAsync(e);
        await _broker.QueryAsync(_ => 0);
        _broker.Observed -= observed.Add;
        return observed;
    }

    [Fact]
    public async Task An_address_of_an_unknown_ifindex_is_named_by_asking_the_kernel()
    {
        var kernel = new FakeKernel(new LinkMessage { Index = 7, Name = "eth7" });
        _broker.Attach(kernel);

        var observed = await Feed(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 7, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.7"), PrefixLength = 24 })));

        Assert.Equal(1, kernel.Asked);
        Assert.Equal("eth7", Assert.Single(observed.OfType<AddressAdded>()).Link);
        Assert.Contains(observed, e => e is LinkAdded { Link: "eth7" });
    }

    [Fact]
    public async Task An_address_of_a_link_that_vanished_is_kept_without_a_name_and_nothing_fails()
    {
        _broker.Attach(new FakeKernel());
        var observed = await Feed(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 9, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.9"), PrefixLength = 24 })));
        Assert.Equal("", Assert.Single(observed.OfType<AddressAdded>()).Link);
        Assert.DoesNotContain(_log.Lines, l => l.Contains(" error "));
    }

    [Fact]
    public async Task A_link_going_down_asks_for_a_re_read_of_the_routes_the_kernel_dropped_silently()
    {
        var kernel = new FakeKernel();
        _broker.Attach(kernel);
        await Feed(
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Up })),
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Broadcast })));
        Assert.Equal(1, kernel.Resyncs);
    }

    [Fact]
    public async Task A_failing_event_is_logged_and_the_next_one_is_still_handled()
    {
        var observed = await Feed(
            new BrokerQuery(() => throw new InvalidOperationException("boom")),
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1" })));
        Assert.Contains(_log.Lines, l => l.Contains("error Handling BrokerQuery failed") && l.Contains("boom"));
        Assert.Contains(observed, e => e is LinkAdded);
    }
}
