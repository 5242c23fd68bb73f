using System.Collections.Immutable;
using NetworkBroker.Core;
using NetworkBroker.Events;

namespace NetworkBroker.Tests.Networkd;

/// <summary>The model of networkd's states: each transition once, and nothing forgotten while networkd cannot be asked.</summary>
public class NetworkdStatesTests
{
    private static ImmutableDictionary<string, string> States(string operational) =>
        ImmutableDictionary<string, string>.Empty.Add("OperationalState", operational).Add("AdministrativeState", "configured");

    private static LinkStatesRead Snapshot(LinkStatesReadReason reason, bool available, params (int IfIndex, string State)[] links) =>
        new(links.ToImmutableDictionary(l => l.IfIndex, l => States(l.State)), ImmutableDictionary<int, string>.Empty,
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"), reason, available);

    [Fact]
    public void A_read_without_networkd_keeps_what_was_known_and_its_return_runs_only_the_differences()
    {
        var model = new NetworkdStates();
        Assert.Empty(model.Apply(Snapshot(LinkStatesReadReason.Initial, true, (1, "carrier"), (3, "routable")), replay: false));

        // The bus came back before networkd: nobody to ask, nothing is news.
        Assert.Empty(model.Apply(Snapshot(LinkStatesReadReason.Reconnected, false), replay: false));
        Assert.Equal("routable", model.Link(3)!["OperationalState"]);

        // networkd is back: only what really changed meanwhile runs, once.
        var transitions = model.Apply(Snapshot(LinkStatesReadReason.Restarted, true, (1, "carrier"), (3, "no-carrier")), replay: false);
        var link = Assert.IsType<LinkTransition>(Assert.Single(transitions));
        Assert.Equal((3, "OperationalState", "no-carrier"), (link.IfIndex, link.Property, link.Value));
    }

    [Fact]
    public void A_manager_signal_keeps_only_what_it_carries()
    {
        var model = new NetworkdStates();
        var transitions = model.Apply(new LinkStatesChanged(0, [new("OperationalState", "degraded")]));
        var manager = Assert.IsType<ManagerTransition>(Assert.Single(transitions));
        Assert.Equal([KeyValuePair.Create("OperationalState", "degraded")], manager.Changed.ToArray());
    }

    [Fact]
    public void With_the_Go_projects_StateProperties_each_directory_runs_once_per_signal()
    {
        var model = new NetworkdStates();
        string[] goSet = ["OperationalState", "AdministrativeState", "CarrierState", "AddressState", "IPv4AddressState", "IPv6AddressState", "OnlineState"];
        var transitions = model.Apply(new LinkStatesChanged(3, [new("CarrierState", "carrier"), new("OperationalState", "routable"),
            new("AddressState", "routable"), new("IPv4AddressState", "routable"), new("OnlineState", "online")]), goSet);
        Assert.Equal(["carrier", "routable", "online"], transitions.OfType<LinkTransition>().Select(t => t.Value));
        Assert.Equal("OperationalState", transitions.OfType<LinkTransition>().Single(t => t.Value == "routable").Property);
        // Each run says which properties this signal changed (CHANGED_PROPERTIES).
        Assert.All(transitions.OfType<LinkTransition>(), t => Assert.Equal(
            "CarrierState OperationalState AddressState IPv4AddressState OnlineState", t.ChangedProperties));
        var again = model.Apply(new LinkStatesChanged(3, [new("OperationalState", "routable"), new("OnlineState", "partial")]), goSet);
        Assert.Equal("OnlineState", Assert.IsType<LinkTransition>(Assert.Single(again)).ChangedProperties);

        // The default pair ignores OnlineState and CarrierState.
        var defaults = new NetworkdStates().Apply(new LinkStatesChanged(3, [new("OnlineState", "offline"), new("OperationalState", "no-carrier")]));
        Assert.Equal(["no-carrier"], defaults.OfType<LinkTransition>().Select(t => t.Value));
    }
}
