namespace NetworkBroker.Configuration;

/// <summary>The event generators the broker listens to (<c>Generator=</c>); both may be on.</summary>
[Flags]
public enum EventSources
{
    None = 0,
    SystemdNetworkd = 1,
    DHClient = 2,
}

public static class EventSourceNames
{
    public const string SystemdNetworkd = "systemd-networkd";
    public const string DHClient = "dhclient";

    public static string Format(EventSources sources)
    {
        var names = new List<string>(2);
        if (sources.HasFlag(EventSources.SystemdNetworkd))
            names.Add(SystemdNetworkd);
        if (sources.HasFlag(EventSources.DHClient))
            names.Add(DHClient);
        return string.Join(' ', names);
    }
}
