using NetworkBroker.Events;
using NetworkBroker.Hosting;
using NetworkBroker.Scripts;

namespace NetworkBroker.Control;

/// <summary>The activity stream as `monitor` lines; nothing is formatted while nobody watches.</summary>
/// <param name="nameOf">The link name for an ifindex (the broker's model: called on its loop, with the event).</param>
public sealed class MonitorFeed(MonitorHub monitors, Func<int, string?> nameOf) : IActivityObserver
{
    public void Observed(BrokerEvent brokerEvent)
    {
        if (monitors.HasSubscribers)
            monitors.Publish(MonitorEvents.Format(brokerEvent, nameOf, DateTime.UtcNow));
    }

    public void ScriptsRan(ScriptEvent scriptEvent, IReadOnlyList<ScriptResult> results)
    {
        if (monitors.HasSubscribers)
            monitors.Publish(MonitorEvents.FormatScripts(scriptEvent, results, DateTime.UtcNow));
    }

    public void Pushed(string link, string what, string? error)
    {
        if (monitors.HasSubscribers)
            monitors.Publish(MonitorEvents.FormatPush(link, what, error, DateTime.UtcNow));
    }
}
