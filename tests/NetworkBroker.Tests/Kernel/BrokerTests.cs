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

public class BrokerTests : IAsyncLifetime
{
    private sealed class FakeKernel(params LinkMessage[] links) : IKernel
    {
        public int Asked;
        /// <summary>Set: GetLink waits for it, as a kernel that takes its time would (the loop must not).</summary>
        public ManualResetEventSlim? Answer;
        public LinkMessage? GetLink(int index)
        {
            Interlocked.Increment(ref Asked);
            Answer?.Wait(TimeSpan.FromSeconds(60));
            return links.FirstOrDefault(l => l.Index == index);
        }
        public bool Barrier(uint token) => false;
    }

    /// <summary>A kernel whose barriers are answered when the test says (the real one: when its socket's queue is read up to them).</summary>
    private sealed class BarrierKernel : IKernel
    {
        public readonly List<uint> Tokens = [];
        public LinkMessage? GetLink(int index) => null;
        public bool Barrier(uint token) { lock (Tokens) Tokens.Add(token); return true; }
    }

    /// <summary>A kernel that takes as long as the test wants to answer a change: the loop must not care.</summary>
    private sealed class StuckTables : global::NetworkBroker.Routing.IRoutingTables
    {
        public readonly ManualResetEventSlim Release = new();
        public int Changes;
        private void Wait() { Interlocked.Increment(ref Changes); Release.Wait(TimeSpan.FromSeconds(60)); }
        public void AddRule(RuleMessage rule) => Wait();
        public void DeleteRule(RuleMessage rule) => Wait();
        public void AddRoute(RouteMessage route) => Wait();
        public void DeleteRoute(RouteMessage route) => Wait();
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
        // A barrier waits for the test's KernelBarrier, however late a busy run feeds it; the timeout has its own test.
        _broker = new Broker(new BrokerConfiguration { Path = _dir.Combine("network-broker.toml") }, _log.Logger, _scripts)
        {
            BarrierTimeout = TimeSpan.FromMinutes(5),
        };
        _loop = _broker.RunAsync(_cancel.Token);
    }

    // xUnit 2 calls IAsyncLifetime's DisposeAsync, not IAsyncDisposable's: the loop, the dispatcher and the directory went unreleased.
    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
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

        kernel.Answer = new ManualResetEventSlim();
        var observed = new List<BrokerEvent>();
        _broker.Observed += e => { lock (observed) observed.Add(e); };
        await _broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 7, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.7"), PrefixLength = 24 })));
        await _broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 7, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.8"), PrefixLength = 24 })));

        // The kernel has not answered yet: the loop does not wait for it (a blocking look-up on the loop would hang here).
        Assert.Equal(0, await _broker.QueryAsync(_ => 0).WaitAsync(TimeSpan.FromSeconds(30)));
        await BrokerHarnessWait(() => Volatile.Read(ref kernel.Asked) == 1);
        lock (observed)
            Assert.Empty(observed.OfType<AddressAdded>());

        // Answered: the link first, then both addresses in their order, named.
        kernel.Answer.Set();
        await BrokerHarnessWait(() => { lock (observed) return observed.OfType<AddressAdded>().Count() == 2; });
        lock (observed)
        {
            var changes = observed.OfType<KernelChange>().ToList();
            Assert.IsType<LinkAdded>(changes[0]);
            Assert.Equal(["192.0.2.7", "192.0.2.8"], changes.OfType<AddressAdded>().Select(a => a.Address.Address.ToString()));
            Assert.All(changes, c => Assert.Equal("eth7", c.Link));
        }
        Assert.Equal(1, kernel.Asked);
    }

    private static async Task BrokerHarnessWait(Func<bool> condition)
    {
        for (var i = 0; i < 3000 && !condition(); i++)
            await Task.Delay(10);
        Assert.True(condition());
    }

    [Fact]
    public async Task A_link_deleted_while_the_kernel_is_asked_about_it_stays_deleted()
    {
        var kernel = new FakeKernel(new LinkMessage { Index = 7, Name = "eth7" }) { Answer = new ManualResetEventSlim() };
        _broker.Attach(kernel);
        await _broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 7, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.7"), PrefixLength = 24 })));
        await _broker.Events.WriteAsync(new KernelNotified(new LinkNotification(true, NetlinkFlags.None, new LinkMessage { Index = 7, Name = "eth7" })));
        kernel.Answer.Set(); // the answer was taken before the deletion
        await BrokerHarnessWait(() => _broker.QueryAsync(b => b.Kernel.Link(7) is null && Volatile.Read(ref kernel.Asked) == 1).Result);
        await Task.Delay(100);
        Assert.Null(await _broker.QueryAsync(b => b.Kernel.Link(7)));
        Assert.Empty(await _broker.QueryAsync(b => b.Kernel.Addresses(7).ToList()));
    }

    [Fact]
    public async Task An_address_of_a_link_that_vanished_is_kept_without_a_name_and_nothing_fails()
    {
        _broker.Attach(new FakeKernel());
        var observed = new List<BrokerEvent>();
        _broker.Observed += e => { lock (observed) observed.Add(e); };
        await _broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 9, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.9"), PrefixLength = 24 })));
        await BrokerHarnessWait(() => { lock (observed) return observed.OfType<AddressAdded>().Any(); });
        lock (observed)
            Assert.Equal("", Assert.Single(observed.OfType<AddressAdded>()).Link);
        Assert.DoesNotContain(_log.Lines, l => l.Contains(" error "));
    }

    [Fact]
    public async Task A_link_going_down_forgets_its_IPv4_routes_as_the_kernel_does_without_a_re_read()
    {
        var observed = new List<BrokerEvent>();
        _broker.Observed += observed.Add;
        _broker.Attach(new FakeKernel());
        RouteMessage Route(byte family, string destination, byte length, byte type = RouteType.Unicast, uint table = 254) => new()
        {
            Family = family, Destination = IPAddress.Parse(destination), DestinationLength = length, OutputIndex = 3, Type = type, Table = table,
        };
        var unicast = Route(AddressFamily.IPv4, "192.0.2.0", 24);
        var inOwnTable = Route(AddressFamily.IPv4, "0.0.0.0", 0, table: 10002);
        var local = Route(AddressFamily.IPv4, "192.0.2.5", 32, RouteType.Local, 255);
        var v6 = Route(AddressFamily.IPv6, "2001:db8::", 64);
        await Feed(
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Up })),
            new KernelNotified(new RouteNotification(false, NetlinkFlags.None, unicast)),
            new KernelNotified(new RouteNotification(false, NetlinkFlags.None, inOwnTable)),
            new KernelNotified(new RouteNotification(false, NetlinkFlags.None, local)),
            new KernelNotified(new RouteNotification(false, NetlinkFlags.None, v6)),
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Broadcast })));

        Assert.Equal([unicast, inOwnTable], observed.OfType<RouteRemoved>().Select(r => r.Route));
        Assert.All(observed.OfType<RouteRemoved>(), r => Assert.Equal("eth1", r.Link));
        Assert.Equal([local, v6], await _broker.QueryAsync(b => b.Kernel.Routes(3).OrderBy(r => r.Family).ToList()));
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

    private static LinkStatesChanged Routable(int ifindex) =>
        new(ifindex, [new KeyValuePair<string, string>("OperationalState", "routable")]);

    private static KernelNotified Address(int ifindex, string address) => new(new AddressNotification(false, NetlinkFlags.None,
        new AddressMessage { Index = ifindex, Family = AddressFamily.IPv4, Address = IPAddress.Parse(address), PrefixLength = 24 }));

    [Fact]
    public async Task A_networkd_signal_waits_for_the_kernels_notifications_queued_before_it_and_keeps_its_order()
    {
        var kernel = new BarrierKernel();
        _broker.Attach(kernel);
        var observed = new List<BrokerEvent>();
        _broker.Observed += e => { lock (observed) observed.Add(e); };

        // The signal is on the channel before the address that networkd had added before sending it.
        await Feed(
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Up })),
            Routable(3),
            new LinkStatesChanged(3, [new KeyValuePair<string, string>("AdministrativeState", "configured")]),
            Address(3, "192.0.2.3"));
        Assert.Equal([1u, 2u], kernel.Tokens);
        Assert.DoesNotContain(observed, e => e is LinkStatesChanged);

        await Feed(new KernelBarrier(1));
        List<BrokerEvent> seen;
        lock (observed)
            seen = [.. observed];
        var address = seen.FindIndex(e => e is AddressAdded);
        var signal = seen.FindIndex(e => e is LinkStatesChanged);
        Assert.True(address >= 0 && address < signal, "the address is in the model before the signal is handled");
        Assert.Single(seen.OfType<LinkStatesChanged>());

        await Feed(new KernelBarrier(2));
        lock (observed)
            Assert.Equal(2, observed.OfType<LinkStatesChanged>().Count());
        Assert.DoesNotContain(_log.Lines, l => l.Contains("did not answer a barrier"));
    }

    [Fact]
    public async Task A_barrier_that_never_comes_back_delays_the_signal_by_the_timeout_or_two_and_says_so()
    {
        await using var scripts = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = _dir.Path }, _log.Logger), _log.Logger);
        var broker = new Broker(new BrokerConfiguration { Path = _dir.Combine("network-broker.toml") }, _log.Logger, scripts)
        {
            BarrierTimeout = TimeSpan.FromMilliseconds(100),
        };
        using var cancel = new CancellationTokenSource();
        var loop = broker.RunAsync(cancel.Token);
        broker.Attach(new BarrierKernel());
        var handled = new TaskCompletionSource();
        broker.Observed += e => { if (e is LinkStatesChanged) handled.TrySetResult(); };

        await broker.Events.WriteAsync(Routable(3));

        await handled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(_log.Lines, l => l.Contains("The kernel socket did not answer a barrier within 100 ms; handling LinkStatesChanged without it"));
        await cancel.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task Without_barriers_networkd_signals_are_handled_at_once()
    {
        _broker.Attach(new FakeKernel());
        var observed = await Feed(Routable(3));
        Assert.Single(observed.OfType<LinkStatesChanged>());
    }

    [Fact]
    public async Task One_signal_changing_both_states_builds_the_link_description_once_for_both_directories()
    {
        _broker.Attach(new FakeKernel());
        var events = new List<ScriptEvent>();
        _scripts.Completed += (e, _) => { lock (events) events.Add(e); };
        await Feed(
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Up })),
            new LinkStatesChanged(3, [new KeyValuePair<string, string>("OperationalState", "routable"), new KeyValuePair<string, string>("AdministrativeState", "configured")]),
            new LinkStatesChanged(3, [new KeyValuePair<string, string>("OperationalState", "degraded")]));
        await _scripts.WhenIdle();

        ScriptEvent Event(string state) { lock (events) return events.Single(e => e.State == state); }
        string Json(string state) => Event(state).Deferred!.Value.Single(v => v.Key == "JSON").Value;
        Assert.Same(Event("routable").Deferred, Event("configured").Deferred);
        Assert.Same(Json("routable"), Json("configured"));
        Assert.NotSame(Json("routable"), Json("degraded"));
        Assert.Contains("\"OperationalState\":\"degraded\"", Json("degraded"));
    }

    [Fact]
    public async Task The_loop_answers_while_the_kernel_has_not_yet_answered_a_policy_routing_change()
    {
        var tables = new StuckTables();
        var broker = new Broker(new BrokerConfiguration { Path = _dir.Combine("x.toml"), RoutingPolicyRules = ["eth1"] }, _log.Logger, _scripts)
        {
            PolicyRoutingDelay = TimeSpan.Zero,
        };
        using var cancel = new CancellationTokenSource();
        var loop = broker.RunAsync(cancel.Token);
        broker.Attach(new FakeKernel(), tables);
        await broker.Events.WriteAsync(new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Up })));
        await broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 3, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.5"), PrefixLength = 24 })));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref tables.Changes) == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(1, Volatile.Read(ref tables.Changes)); // the worker waits on the kernel's first answer

        // Meanwhile the loop goes on: events are handled and queries (status, the watchdog's) answered.
        await broker.Events.WriteAsync(new KernelNotified(new AddressNotification(false, NetlinkFlags.None,
            new AddressMessage { Index = 3, Family = AddressFamily.IPv4, Address = IPAddress.Parse("192.0.2.6"), PrefixLength = 24 })));
        var addresses = await broker.QueryAsync(b => b.Kernel.Addresses(3).Count()).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, addresses);
        // Nothing with eth1's rules is reported as reconciled while the kernel has not answered (a reconcile of the
        // empty state, due at attach before the link was known, may have been reported already).
        var reported = await broker.QueryAsync(b => b.PolicyRouting).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(reported is null || reported.Desired.Rules.Count == 0, $"reported while stuck: {reported?.Desired.Rules.Count} rules");

        tables.Release.Set();
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (await broker.QueryAsync(b => b.PolicyRouting?.Desired.Rules.Count) != 4 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(4, (await broker.QueryAsync(b => b.PolicyRouting))!.Desired.Rules.Count);
        await cancel.CancelAsync();
        await loop;
        await broker.StopPolicyRoutingAsync();
    }

    [Fact]
    public async Task Networkds_files_are_read_when_scripts_run_and_not_at_all_when_none_would()
    {
        var netif = _dir.Combine("netif");
        Directory.CreateDirectory(Path.Combine(netif, "leases"));
        File.WriteAllText(Path.Combine(netif, "leases", "3"), "# comment\nADDRESS=10.0.0.7\n");
        var log = new MemoryLog();
        var broker = new Broker(new BrokerConfiguration { Path = _dir.Combine("x.toml") }, log.Logger, _scripts,
            new NetworkBroker.Networkd.NetworkdFiles(netif, log.Logger));
        using var cancel = new CancellationTokenSource();
        var loop = broker.RunAsync(cancel.Token);
        broker.Attach(new FakeKernel());
        await broker.Events.WriteAsync(new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Up })));

        // No routable.d: nothing is read. A FIFO where the lease is would say so in the log if it were opened.
        File.Move(Path.Combine(netif, "leases", "3"), Path.Combine(netif, "leases", "3.real"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(netif, "leases", "3")))
            mkfifo.WaitForExit();
        await broker.Events.WriteAsync(new LinkStatesChanged(3, [new("OperationalState", "routable")]));
        await broker.QueryAsync(_ => 0);
        await _scripts.WhenIdle();
        Assert.DoesNotContain(log.Lines, l => l.Contains("not reading"));

        // With a script, the lease is read as the script starts.
        File.Delete(Path.Combine(netif, "leases", "3"));
        File.Move(Path.Combine(netif, "leases", "3.real"), Path.Combine(netif, "leases", "3"));
        _dir.Script("degraded", "10-lease", $"#!/bin/sh\nprintf '%s' \"$DHCP_LEASE\" > {_dir.Combine("lease")}\n");
        await broker.Events.WriteAsync(new LinkStatesChanged(3, [new("OperationalState", "degraded")]));
        await broker.QueryAsync(_ => 0);
        await _scripts.WhenIdle();
        Assert.Equal("ADDRESS=10.0.0.7", File.ReadAllText(_dir.Combine("lease")));
        await cancel.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task A_rogue_DHCP_servers_domain_never_reaches_a_scripts_variables_or_a_log_line_whole()
    {
        _broker.Attach(new FakeKernel());
        var events = new List<ScriptEvent>();
        _scripts.Completed += (e, _) => { lock (events) events.Add(e); };
        var lease = new NetworkBroker.Dhclient.DhcpLease
        {
            Interface = "eth0", Address = IPAddress.Parse("10.0.0.5"), SubnetMask = IPAddress.Parse("255.255.255.0"),
            DomainName = "x,ROUTER=6.6.6.6", DomainSearch = ["good.example", "a\u001b[2J$(reboot)"],
        };
        await Feed(
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 2, Name = "eth0", Flags = LinkFlags.Up })),
            new LeasesRead("/var/lib/dhcp/dhclient.eth0.leases", [lease], Initial: false));
        await _scripts.WhenIdle();

        var variables = events.Single().Environment.ToDictionary();
        Assert.Equal("good.example", variables["DOMAIN"]);
        Assert.Equal("ADDRESS=10.0.0.5,ROUTER=,SUBNETMASK=255.255.255.0,DNS=,DOMAIN=good.example", variables["DHCP_LEASE"]);
        Assert.DoesNotContain("6.6.6.6", string.Concat(variables.Values));
        Assert.DoesNotContain("reboot", string.Concat(variables.Values));
    }

    [Fact]
    public async Task A_state_value_naming_a_directory_that_is_not_a_link_states_runs_nothing()
    {
        _broker.Attach(new FakeKernel());
        _dir.Script("routes", "10-record", $"#!/bin/sh\necho ran >> {_dir.Combine("ran")}\n");
        _dir.Script("manager", "10-record", $"#!/bin/sh\necho ran >> {_dir.Combine("ran")}\n");
        await Feed(
            new KernelNotified(new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = 3, Name = "eth1", Flags = LinkFlags.Up })),
            new LinkStatesChanged(3, [new("OperationalState", "routes")]),
            new LinkStatesChanged(3, [new("OperationalState", "manager")]));
        await _scripts.WhenIdle();
        Assert.False(File.Exists(_dir.Combine("ran")));
        Assert.Contains(_log.Lines, l => l.Contains("Ignoring OperationalState=\"routes\": not a state name"));
    }

    [Theory]
    [InlineData("lo\0")]
    [InlineData("a234567890123456")]
    [InlineData("../lo")]
    public async Task Run_scripts_for_a_name_no_link_can_have_is_refused_and_makes_no_event(string link)
    {
        _broker.Attach(new FakeKernel());
        _dir.Script("routable", "10-record", $"#!/bin/sh\necho \"$LINK\" >> {_dir.Combine("ran")}\n");

        var why = await _broker.QueryAsync(b => b.RunOnRequest("routable", link, new ScriptObserver([])));
        await _scripts.WhenIdle();

        Assert.StartsWith($"\"{NetworkBroker.Logging.PeerText.Excerpt(link, 32)}\" is not a link name: 1-15 bytes", why);
        Assert.False(File.Exists(_dir.Combine("ran")));
    }
}
