using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using NetworkBroker.Control;
using NetworkBroker.Core;
using NetworkBroker.Events;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Scripts;

namespace NetworkBroker.Tests.Control;

public class MonitorEventsTests
{
    private static readonly DateTime At = new(2026, 11, 24, 18, 40, 58, 123, DateTimeKind.Utc);

    private static JsonElement Parse(string? line)
    {
        Assert.NotNull(line);
        Assert.DoesNotContain('\n', line);
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    [Fact]
    public void A_networkd_state_change_names_the_link_from_the_model()
    {
        var transition = new LinkTransition(3, "OperationalState", "routable", ImmutableDictionary<string, string>.Empty);
        var json = Parse(MonitorEvents.Format(transition, i => i == 3 ? "eth1" : null, At));

        Assert.Equal("2026-11-24T18:40:58.123Z", json.GetProperty("time").GetString());
        Assert.Equal("state", json.GetProperty("event").GetString());
        Assert.Equal("eth1", json.GetProperty("link").GetString());
        Assert.Equal(3, json.GetProperty("ifindex").GetInt32());
        Assert.Equal("OperationalState", json.GetProperty("property").GetString());
        Assert.Equal("routable", json.GetProperty("value").GetString());
        Assert.Equal("18:40:58.123 eth1 state property=OperationalState value=routable", MonitorText.Render(json.GetRawText()));
    }

    [Fact]
    public void Kernel_changes_carry_what_changed()
    {
        var address = new AddressAdded("eth1", new AddressMessage { Index = 3, Family = 2, Address = IPAddress.Parse("10.0.0.2"), PrefixLength = 24 });
        var json = Parse(MonitorEvents.Format(address, _ => null, At));
        Assert.Equal("address-added", json.GetProperty("event").GetString());
        Assert.Equal("10.0.0.2/24", json.GetProperty("address").GetString());

        var route = new RouteRemoved("eth1", new RouteMessage
        {
            Family = 2, Table = 254, Protocol = 4, Gateway = IPAddress.Parse("10.0.0.1"), OutputIndex = 3,
        });
        json = Parse(MonitorEvents.Format(route, _ => null, At));
        Assert.Equal("route-removed", json.GetProperty("event").GetString());
        Assert.Equal("0.0.0.0/0", json.GetProperty("destination").GetString());
        Assert.Equal("10.0.0.1", json.GetProperty("gateway").GetString());
        Assert.Equal(254, json.GetProperty("table").GetInt32());
        Assert.Equal("static", json.GetProperty("protocol").GetString());
    }

    [Fact]
    public void Scripts_are_shown_with_each_result_and_an_empty_run_not_at_all()
    {
        var scriptEvent = new ScriptEvent("routable", "eth1", 3, []);
        var line = MonitorEvents.FormatScripts(scriptEvent, [
            new ScriptResult("/etc/network-broker/routable.d/10-ok", new ScriptExit(0, 0), false, null),
            new ScriptResult("/etc/network-broker/routable.d/20-slow", new ScriptExit(-1, 15), true, null),
        ], At);
        var json = Parse(line);
        Assert.Equal("scripts", json.GetProperty("event").GetString());
        Assert.Equal("routable", json.GetProperty("state").GetString());
        var scripts = json.GetProperty("scripts").EnumerateArray().ToList();
        Assert.Equal("exit status 0", scripts[0].GetProperty("result").GetString());
        Assert.True(scripts[0].GetProperty("succeeded").GetBoolean());
        Assert.Equal("timed out, killed by signal 15", scripts[1].GetProperty("result").GetString());
        Assert.False(scripts[1].GetProperty("succeeded").GetBoolean());
        Assert.Equal("""
            18:40:58.123 eth1 scripts state=routable
                /etc/network-broker/routable.d/10-ok: exit status 0
                /etc/network-broker/routable.d/20-slow: timed out, killed by signal 15
            """.ReplaceLineEndings("\n"), MonitorText.Render(line!));

        Assert.Null(MonitorEvents.FormatScripts(scriptEvent, [], At));
    }

    [Fact]
    public void Raw_notifications_and_quiet_reconciles_are_left_out()
    {
        var quiet = new PolicyRoutingReconciled(NetworkBroker.Routing.PolicyRoutingState.Empty, 0, 0, 0);
        Assert.Null(MonitorEvents.Format(quiet, _ => null, At));
        var changed = Parse(MonitorEvents.Format(quiet with { Added = 2 }, _ => null, At));
        Assert.Equal("policy-routing", changed.GetProperty("event").GetString());
        Assert.Equal(2, changed.GetProperty("added").GetInt32());
        Assert.Null(MonitorEvents.Format(new LinkStatesChanged(3, []), _ => null, At));
    }

    [Fact]
    public void Leases_networkd_reads_and_manager_changes_have_lines_of_their_own()
    {
        var leases = new LeasesRead("/var/lib/dhcp/dhclient.leases",
            [new NetworkBroker.Dhclient.DhcpLease { Interface = "eth1", Address = IPAddress.Parse("10.0.0.9") }], Initial: false);
        var json = Parse(MonitorEvents.Format(leases, _ => null, At));
        Assert.Equal("dhcp-leases", json.GetProperty("event").GetString());
        Assert.Equal("/var/lib/dhcp/dhclient.leases", json.GetProperty("file").GetString());
        Assert.Equal("eth1 10.0.0.9", Assert.Single(json.GetProperty("leases").EnumerateArray()).GetString());

        var snapshot = new LinkStatesRead(ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(3, ImmutableDictionary<string, string>.Empty),
            ImmutableDictionary<int, string>.Empty, ImmutableDictionary<string, string>.Empty, LinkStatesReadReason.Restarted);
        json = Parse(MonitorEvents.Format(snapshot, _ => null, At));
        Assert.Equal("networkd-read", json.GetProperty("event").GetString());
        Assert.Equal("restarted", json.GetProperty("reason").GetString());
        Assert.Equal(1, json.GetProperty("links").GetInt32());

        var manager = new ManagerTransition([new KeyValuePair<string, string>("OperationalState", "degraded")], ImmutableDictionary<string, string>.Empty);
        Assert.Equal("18:40:58.123 manager-state OperationalState=degraded", MonitorText.Render(MonitorEvents.Format(manager, _ => null, At)!));
    }

    [Fact]
    public void A_push_to_resolved_says_what_and_whether_it_went_through()
    {
        var ok = Parse(MonitorEvents.FormatPush("eth1", "DNS servers 10.0.0.53", null, At));
        Assert.Equal("dhcp-push", ok.GetProperty("event").GetString());
        Assert.Equal("eth1", ok.GetProperty("link").GetString());
        Assert.True(ok.GetProperty("succeeded").GetBoolean());
        Assert.False(ok.TryGetProperty("error", out _));
        var failed = MonitorEvents.FormatPush("eth1", "transient host name node7", "org.freedesktop.DBus.Error.ServiceUnknown: no hostnamed", At);
        Assert.Equal("18:40:58.123 eth1 dhcp-push pushed=\"transient host name node7\" succeeded=false error=\"org.freedesktop.DBus.Error.ServiceUnknown: no hostnamed\"",
            MonitorText.Render(failed));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"event\":")]
    public void Text_rendering_passes_anything_else_through(string line)
    {
        Assert.Equal(line, MonitorText.Render(line));
    }

    [Fact]
    public void The_text_form_shows_control_characters_of_any_field_escaped()
    {
        // JSON carries them escaped; decoded, they must not reach a terminal raw.
        var line = "{\"time\":\"2026-12-01T18:40:58.123Z\",\"link\":\"eth\\u001b1\",\"event\":\"state\",\"value\":\"a\\u001b[2Jb\"," +
                   "\"scripts\":[{\"script\":\"10-x\",\"result\":\"exit\\u009b1\"}]}";

        var text = MonitorText.Render(line);

        Assert.Equal("18:40:58.123 eth\\x1b1 state value=a\\x1b[2Jb\n    10-x: exit\\xc2\\x9b1", text);
        Assert.DoesNotContain('\u001b', text);
        Assert.Equal("not json \\x1b[2J", MonitorText.Render("not json \u001b[2J"));
    }
}
