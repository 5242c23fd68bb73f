using NetworkBroker.Netlink;

namespace NetworkBroker.Tests.Netlink;

/// <summary>The captured kernel bytes (see Fixtures/netlink/README.md).</summary>
public static class Fixtures
{
    public static byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "netlink", name));

    public static List<(NetlinkHeader Header, byte[] Payload)> Messages(string name)
    {
        var list = new List<(NetlinkHeader, byte[])>();
        var reader = new NetlinkMessageReader(Bytes(name));
        while (reader.Next(out var message))
            list.Add((message.Header, message.Payload.ToArray()));
        return list;
    }

    public static List<KernelNotification> Notifications(string name)
    {
        var list = new List<KernelNotification>();
        var reader = new NetlinkMessageReader(Bytes(name));
        while (reader.Next(out var message))
            if (KernelNotification.Decode(message) is { } notification)
                list.Add(notification);
        return list;
    }
}
