using NetworkBroker.Events;
using NetworkBroker.Scripts;

namespace NetworkBroker.Hosting;

/// <summary>
/// What the daemon saw and did, as it happens: every event and model change the broker handled (on its loop),
/// every script event that ran (on the dispatcher's thread), every DHCP push made (on the pusher's). The monitor and
/// systemd's STATUS= line each observe this one stream, not the three sources; the counters in `status` are kept
/// by their owners (the script dispatcher, the kernel watcher, the networkd source, the DHCP pusher).
/// </summary>
public interface IActivityObserver
{
    /// <summary>An event or model change the broker handled (on the loop: read the model, never wait).</summary>
    void Observed(BrokerEvent brokerEvent)
    {
    }

    /// <summary>A script event ran to its end (every script's result, in order).</summary>
    void ScriptsRan(ScriptEvent scriptEvent, IReadOnlyList<ScriptResult> results)
    {
    }

    /// <summary>A push to systemd-resolved or hostnamed was made; <paramref name="error"/> is null when it was accepted.</summary>
    void Pushed(string link, string what, string? error)
    {
    }
}

/// <summary>
/// Fans the daemon's activity out to its observers. Subscribed before the host starts; no allocation per event
/// (interface calls on an array, not a record per event: the per-signal allocation bound is a test).
/// </summary>
public sealed class ActivityStream
{
    private IActivityObserver[] _observers = [];

    public void Subscribe(IActivityObserver observer) => _observers = [.. _observers, observer];

    public void Observed(BrokerEvent brokerEvent)
    {
        foreach (var observer in _observers)
            observer.Observed(brokerEvent);
    }

    public void ScriptsRan(ScriptEvent scriptEvent, IReadOnlyList<ScriptResult> results)
    {
        foreach (var observer in _observers)
            observer.ScriptsRan(scriptEvent, results);
    }

    public void Pushed(string link, string what, string? error)
    {
        foreach (var observer in _observers)
            observer.Pushed(link, what, error);
    }
}
