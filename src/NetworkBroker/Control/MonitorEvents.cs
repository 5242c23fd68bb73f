using System.Buffers;
using System.Text;
using System.Text.Json;
using NetworkBroker.Core;
using NetworkBroker.Events;
using NetworkBroker.Scripts;

namespace NetworkBroker.Control;

/// <summary>
/// What <c>network-broker monitor</c> shows, one JSON object per line: the changes the broker sees
/// (links, addresses, routes, networkd states, DHCP leases, re-reads) and the actions it takes (scripts
/// run, policy routing changed, DHCP results pushed to resolved and hostnamed). Every line has "time" and
/// "event"; a link's lines have "link" and (but for dhcp-push) "ifindex".
/// Raw notifications are left out: the changes derived from them say the same, once.
/// </summary>
public static class MonitorEvents
{
    /// <summary>The line for an event the broker observed, or null when the monitor does not show it.</summary>
    /// <param name="nameOf">The link name for an ifindex (the broker's model; called on its loop).</param>
    public static string? Format(BrokerEvent brokerEvent, Func<int, string?> nameOf, DateTime utcNow)
    {
        switch (brokerEvent)
        {
            case KernelChange change:
                return Write(utcNow, EventName(change), change.Link, change.IfIndex, json =>
                {
                    switch (change)
                    {
                        case LinkRenamed renamed:
                            json.WriteString("old_name", Netlink.KernelText.Display(renamed.OldName));
                            break;
                        case LinkAdded or LinkChanged:
                            var link = change is LinkAdded added ? added.Message : ((LinkChanged)change).Message;
                            json.WriteString("flags", link.Flags.ToString());
                            json.WriteString("operstate", link.OperState.ToString());
                            break;
                        case AddressAdded a:
                            json.WriteString("address", $"{a.Address.Address}/{a.Address.PrefixLength}");
                            break;
                        case AddressRemoved a:
                            json.WriteString("address", $"{a.Address.Address}/{a.Address.PrefixLength}");
                            break;
                        case RouteAdded r:
                            WriteRoute(json, r.Route);
                            break;
                        case RouteRemoved r:
                            WriteRoute(json, r.Route);
                            break;
                    }
                });
            case LinkTransition transition:
                return Write(utcNow, "state", nameOf(transition.IfIndex), transition.IfIndex, json =>
                {
                    json.WriteString("property", transition.Property);
                    json.WriteString("value", transition.Value);
                });
            case ManagerTransition manager:
                return Write(utcNow, "manager-state", null, 0, json =>
                {
                    foreach (var (property, value) in manager.Changed)
                        json.WriteString(property, value);
                });
            case LinkStatesRead snapshot:
                return Write(utcNow, "networkd-read", null, 0, json =>
                {
                    json.WriteString("reason", snapshot.Reason.ToString().ToLowerInvariant());
                    json.WriteNumber("links", snapshot.Links.Count);
                });
            case KernelResynced resynced:
                return Write(utcNow, "kernel-read", null, 0, json =>
                {
                    json.WriteString("reason", resynced.Reason.ToString().ToLowerInvariant());
                    json.WriteNumber("links", resynced.Snapshot.Links.Count);
                });
            case LeasesRead leases:
                return Write(utcNow, "dhcp-leases", null, 0, json =>
                {
                    json.WriteString("file", leases.Path);
                    json.WriteStartArray("leases");
                    foreach (var lease in leases.Current)
                        json.WriteStringValue($"{lease.Interface} {lease.Address}");
                    json.WriteEndArray();
                });
            case PolicyRoutingReconciled { Added: 0, Removed: 0, Failed: 0 }:
                return null;
            case PolicyRoutingReconciled reconciled:
                return Write(utcNow, "policy-routing", null, 0, json =>
                {
                    json.WriteNumber("rules", reconciled.Desired.Rules.Count);
                    json.WriteNumber("routes", reconciled.Desired.Routes.Count);
                    json.WriteNumber("added", reconciled.Added);
                    json.WriteNumber("removed", reconciled.Removed);
                    json.WriteNumber("failed", reconciled.Failed);
                });
            default:
                return null;
        }
    }

    /// <summary>The line for one event's scripts, after they ran; null when the directory had none to run.</summary>
    public static string? FormatScripts(ScriptEvent scriptEvent, IReadOnlyList<ScriptResult> results, DateTime utcNow)
    {
        if (results.Count == 0)
            return null;
        return Write(utcNow, "scripts", scriptEvent.Link, scriptEvent.IfIndex, json =>
        {
            json.WriteString("state", scriptEvent.State);
            json.WriteStartArray("scripts");
            foreach (var result in results)
            {
                json.WriteStartObject();
                json.WriteString("script", result.Path);
                json.WriteString("result", Describe(result));
                json.WriteBoolean("succeeded", result.Succeeded);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        });
    }

    /// <summary>The line for one call to systemd-resolved or systemd-hostnamed made for a DHCP lease.</summary>
    public static string FormatPush(string link, string what, string? error, DateTime utcNow) =>
        Write(utcNow, "dhcp-push", link, 0, json =>
        {
            json.WriteString("pushed", what);
            json.WriteBoolean("succeeded", error is null);
            if (error is not null)
                json.WriteString("error", error);
        });

    public static string Describe(ScriptResult result) =>
        result.Error ?? (result.TimedOut ? "timed out, " : "") + (result.Exit?.ToString() ?? "not run");

    private static string EventName(KernelChange change) => change switch
    {
        LinkAdded => "link-added",
        LinkRemoved => "link-removed",
        LinkRenamed => "link-renamed",
        LinkChanged => "link-changed",
        AddressAdded => "address-added",
        AddressRemoved => "address-removed",
        RouteAdded => "route-added",
        RouteRemoved => "route-removed",
        _ => "kernel",
    };

    private static void WriteRoute(Utf8JsonWriter json, Netlink.Messages.RouteMessage route)
    {
        json.WriteString("destination", RouteDescription.Destination(route));
        var gateway = RouteDescription.Gateway(route);
        if (gateway.Length > 0)
            json.WriteString("gateway", gateway);
        json.WriteNumber("table", route.Table);
        json.WriteString("protocol", Netlink.RouteProtocol.Name(route.Protocol));
    }

    private static string Write(DateTime utcNow, string name, string? link, int ifindex, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", utcNow);
            json.WriteString("event", name);
            if (!string.IsNullOrEmpty(link))
                json.WriteString("link", Netlink.KernelText.Display(link));
            if (ifindex > 0)
                json.WriteNumber("ifindex", ifindex);
            body(json);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
