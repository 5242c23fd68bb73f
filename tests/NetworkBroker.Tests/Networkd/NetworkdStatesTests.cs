using System.Collections.Immutable;
using NetworkBroker.Core;
using NetworkBroker.Events;

namespace NetworkBroker.Tests.Networkd;

/// <summary>The model of networkd's states: each transition once, and nothing forgotten while networkd cannot be asked.</summary>
public class NetworkdStatesTests
{
    private static ImmutableDictionary<string, string> States(string operational) =>
        ImmutableDictionary<string, string>.Empty.Add("OperationalState", operational).Add("AdministrativeState", "configured");

    private static NetworkdSnapshot Snapshot(NetworkdSnapshotReason reason, bool available, params (int IfIndex, string State)[] links) =>
        new(links.ToImmutableDictionary(l => l.IfIndex, l => States(l.State)), ImmutableDictionary<int, string>.Empty,
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"), reason, available);

    [Fact]
    public void A_read_without_networkd_keeps_what_was_known_and_its_return_runs_only_the_differences()
    {
        var model = new NetworkdStates();
        Assert.Empty(model.Apply(Snapshot(NetworkdSnapshotReason.Initial, true, (1, "carrier"), (3, "routable")), replay: false));

        // The bus came back before networkd: nobody to ask, nothing is news.
        Assert.Empty(model.Apply(Snapshot(NetworkdSnapshotReason.Reconnected, false), replay: false));
        Assert.Equal("routable", model.Link(3)!["OperationalState"]);

        // networkd is back: only what really changed meanwhile runs, once.
        var transitions = model.Apply(Snapshot(NetworkdSnapshotReason.Restarted, true, (1, "carrier"), (3, "no-carrier")), replay: false);
        var link = Assert.IsType<LinkTransition>(Assert.Single(transitions));
        Assert.Equal((3, "OperationalState", "no-carrier"), (link.IfIndex, link.Property, link.Value));
    }

    [Fact]
    public void A_manager_signal_keeps_only_what_it_carries()
    {
        var model = new NetworkdStates();
        var transitions = model.Apply(new NetworkdPropertiesChanged(0, [new("OperationalState", "degraded")]));
        var manager = Assert.IsType<ManagerTransition>(Assert.Single(transitions));
        Assert.Equal([KeyValuePair.Create("OperationalState", "degraded")], manager.Changed.ToArray());
    }
}
