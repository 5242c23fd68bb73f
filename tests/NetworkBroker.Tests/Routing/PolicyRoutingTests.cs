using System.Net;
using NetworkBroker.Configuration;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Routing;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Routing;

public class PolicyRoutingTests
{
    private static readonly BrokerConfiguration Config = new() { RoutingPolicyRules = ["eth1"] };

    private static KernelModel Model(params KernelNotification[] notifications)
    {
        var model = new KernelModel();
        foreach (var n in notifications)
            model.Apply(n);
        return model;
    }

    private static KernelNotification Link(int index, string name, bool up = true) =>
        new LinkNotification(false, NetlinkFlags.None, new LinkMessage { Index = index, Name = name, Flags = up ? LinkFlags.Up : 0 });

    private static KernelNotification Address(int index, string address, byte prefix) =>
        new AddressNotification(false, NetlinkFlags.None, new AddressMessage
        {
            Index = index, Address = IPAddress.Parse(address), PrefixLength = prefix,
            Family = address.Contains(':') ? AddressFamily.IPv6 : AddressFamily.IPv4,
            Scope = address.StartsWith("fe80", StringComparison.Ordinal) ? RouteScope.Link : RouteScope.Universe,
        });

    private static KernelNotification Default(int index, string gateway, uint priority = 0) =>
        new RouteNotification(false, NetlinkFlags.None, new RouteMessage
        {
            Family = gateway.Contains(':') ? AddressFamily.IPv6 : AddressFamily.IPv4, Table = RouteTable.Main,
            Gateway = IPAddress.Parse(gateway), OutputIndex = index, Priority = priority, Protocol = RouteProtocol.Boot,
        });

    [Fact]
    public void The_links_own_gateway_is_used_and_link_local_addresses_get_no_rules()
    {
        var desired = PolicyRoutingDesired.Compute(Config, Model(Link(3, "eth1"), Address(3, "10.0.2.5", 24), Address(3, "fe80::1", 64),
            Default(2, "10.0.1.1"), Default(3, "10.0.2.1", 500)));

        Assert.Equal(2, desired.Rules.Count);
        Assert.All(desired.Rules, r => Assert.Equal(10002u, r.Table));
        Assert.Contains(new PolicyRoute(AddressFamily.IPv4, 10002, null, 0, IPAddress.Parse("10.0.2.1"), 3, null), desired.Routes);
        Assert.Contains(new PolicyRoute(AddressFamily.IPv4, 10002, IPAddress.Parse("10.0.2.0"), 24, null, 3, IPAddress.Parse("10.0.2.5")), desired.Routes);
    }

    [Fact]
    public void Another_links_gateway_is_used_only_when_it_is_on_link_for_this_link()
    {
        var onLink = PolicyRoutingDesired.Compute(Config, Model(Link(3, "eth1"), Address(3, "10.0.1.7", 24), Default(2, "10.0.1.1")));
        Assert.Contains(onLink.Routes, r => r.Gateway?.Equals(IPAddress.Parse("10.0.1.1")) == true);

        var notes = new List<string>();
        var offLink = PolicyRoutingDesired.Compute(Config, Model(Link(3, "eth1"), Address(3, "10.0.2.7", 24), Default(2, "10.0.1.1")), notes);
        Assert.DoesNotContain(offLink.Routes, r => r.Gateway is not null);
        Assert.Single(offLink.Routes); // the subnet route only
        Assert.Equal("eth1: no IPv4 gateway on the link, table 10002 gets its subnet routes only", Assert.Single(notes));
    }

    [Fact]
    public void A_link_that_is_down_or_not_listed_or_only_similarly_named_gets_nothing()
    {
        Assert.Empty(PolicyRoutingDesired.Compute(Config, Model(Link(3, "eth1", up: false), Address(3, "10.0.2.5", 24))).Rules);
        Assert.Empty(PolicyRoutingDesired.Compute(Config, Model(Link(4, "eth10"), Address(4, "10.0.2.5", 24))).Rules);
    }

    /// <summary>The kernel's tables at the level of meaning: typed changes, and what is there for the model to see.</summary>
    private sealed class FakeTables : IRoutingTables
    {
        public List<RuleMessage> Rules = [];
        public List<RouteMessage> RoutesInKernel = [];
        public int Changes;

        public PolicyRoutingPresent Present => new([.. Rules], [.. RoutesInKernel], new Dictionary<int, string> { [3] = "eth1" }, 9999);

        public void AddRule(RuleMessage rule)
        {
            Changes++;
            if (Rules.Contains(rule))
                throw new NetlinkException(17, "add rule");
            Rules.Add(rule);
        }

        public void DeleteRule(RuleMessage rule)
        {
            Changes++;
            if (Rules.RemoveAll(r => r == rule) == 0)
                throw new NetlinkException(2, "delete rule");
        }

        public void AddRoute(RouteMessage route)
        {
            Changes++;
            RoutesInKernel.RemoveAll(r => PolicyRoute.Of(r) == PolicyRoute.Of(route));
            RoutesInKernel.Add(route);
        }

        public void DeleteRoute(RouteMessage route)
        {
            Changes++;
            if (RoutesInKernel.RemoveAll(r => PolicyRoute.Of(r) == PolicyRoute.Of(route)) == 0)
                throw new NetlinkException(2, "delete route");
        }
    }

    private static PolicyRoutingState Desired() => PolicyRoutingDesired.Compute(Config,
        Model(Link(3, "eth1"), Address(3, "10.0.2.5", 24), Default(3, "10.0.2.1")));

    [Fact]
    public void Reconciling_twice_changes_nothing_the_second_time_and_foreign_rules_are_never_touched()
    {
        var tables = new FakeTables();
        var foreign = new RuleMessage { Family = AddressFamily.IPv4, Source = IPAddress.Parse("10.9.9.9"), SourceLength = 32, Table = 100, Priority = 32000 };
        tables.Rules.Add(foreign);
        var reconciler = new PolicyRoutingReconciler(tables, new MemoryLog().Logger);

        var first = reconciler.Reconcile(Desired(), tables.Present);
        var changes = tables.Changes;
        var second = reconciler.Reconcile(Desired(), tables.Present);

        Assert.Equal(4, first.Added);
        Assert.Equal(changes, tables.Changes);
        Assert.Equal(0, second.Added + second.Removed);
        Assert.Contains(foreign, tables.Rules);
    }

    [Fact]
    public void A_rule_removed_again_and_again_is_restored_five_times_then_left_alone_for_a_while()
    {
        var tables = new FakeTables();
        var now = new DateTime(2026, 1, 1);
        var log = new MemoryLog();
        var reconciler = new PolicyRoutingReconciler(tables, log.Logger, () => now);
        reconciler.Reconcile(Desired(), tables.Present);

        var restored = 0;
        for (var i = 0; i < 8; i++)
        {
            tables.Rules.RemoveAll(r => r.Source is not null); // someone deletes the same rule of ours each time
            now = now.AddSeconds(1);
            restored += reconciler.Reconcile(Desired(), tables.Present).Added;
        }

        Assert.Equal(5, restored);
        Assert.Single(log.Lines, l => l.Contains("not restoring it for 5 s"));
        now = now.AddSeconds(6);
        Assert.Equal(1, reconciler.Reconcile(Desired(), tables.Present).Added);
    }

    [Fact]
    public void A_model_that_lags_the_kernel_by_a_notification_costs_nothing_but_a_debug_line()
    {
        var tables = new FakeTables();
        var log = new MemoryLog();
        var reconciler = new PolicyRoutingReconciler(tables, log.Logger);
        var before = tables.Present; // what the model knew before the first run's notifications arrived
        reconciler.Reconcile(Desired(), before);

        // The same stale view again: every add is already there (EEXIST); then an empty wish with a stale view of
        // rules that are gone already (ENOENT).
        var again = reconciler.Reconcile(Desired(), before);
        Assert.Equal(0, again.Failed);
        var gone = tables.Present;
        reconciler.Reconcile(PolicyRoutingState.Empty, gone);
        var stale = reconciler.Reconcile(PolicyRoutingState.Empty, gone);
        Assert.Equal(0, stale.Failed);
        Assert.Empty(tables.Rules);
        Assert.Contains(log.Lines, l => l.Contains("already so (EEXIST)"));
        Assert.Contains(log.Lines, l => l.Contains("already so (ENOENT)"));
        Assert.DoesNotContain(log.Lines, l => l.Contains(" warn "));
    }

    [Fact]
    public void Desired_state_reads_the_routes_once_however_many_links_are_listed()
    {
        var config = new BrokerConfiguration { RoutingPolicyRules = [.. Enumerable.Range(0, 50).Select(i => $"eth{i}")] };
        var model = new KernelModel();
        for (var i = 0; i < 50; i++)
        {
            model.Apply(Link(10 + i, $"eth{i}"));
            model.Apply(Address(10 + i, $"10.{i}.0.5", 24));
            model.Apply(Default(10 + i, $"10.{i}.0.1", 100));
        }
        var desired = PolicyRoutingDesired.Compute(config, model);
        Assert.Equal(100, desired.Rules.Count);
        Assert.Equal(50, desired.Routes.Count(r => r.Gateway is not null));
        Assert.All(desired.Routes.Where(r => r.Gateway is not null), r => Assert.Equal($"10.{r.OutputIndex - 10}.0.1", r.Gateway!.ToString()));
    }

    [Fact]
    public void A_glob_in_RoutingPolicyRules_routes_every_link_it_matches_and_no_other()
    {
        var config = new BrokerConfiguration { RoutingPolicyRules = ["eth*"] };
        var desired = PolicyRoutingDesired.Compute(config, Model(Link(3, "eth1"), Address(3, "10.0.2.5", 24), Link(4, "eth10"), Address(4, "10.0.3.5", 24),
            Link(5, "ens3"), Address(5, "10.0.4.5", 24)));
        Assert.Equal([10002u, 10003u], desired.Rules.Select(r => r.Table).Distinct().Order());
    }
}
