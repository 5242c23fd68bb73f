using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Netlink;

/// <summary>What an rtnetlink multicast message says, decoded. <see cref="Removed"/> for RTM_DEL*.</summary>
public abstract record KernelNotification(bool Removed, NetlinkFlags Flags)
{
    /// <summary>Decodes one message; null for types that are not link, address, route or rule changes.</summary>
    public static KernelNotification? Decode(in NetlinkMessage message)
    {
        var flags = message.Header.Flags;
        return message.Header.Type switch
        {
            NetlinkMessageType.NewLink => new LinkNotification(false, flags, LinkMessage.Decode(message.Payload)),
            NetlinkMessageType.DelLink => new LinkNotification(true, flags, LinkMessage.Decode(message.Payload)),
            NetlinkMessageType.NewAddress => new AddressNotification(false, flags, AddressMessage.Decode(message.Payload)),
            NetlinkMessageType.DelAddress => new AddressNotification(true, flags, AddressMessage.Decode(message.Payload)),
            NetlinkMessageType.NewRoute => new RouteNotification(false, flags, RouteMessage.Decode(message.Payload)),
            NetlinkMessageType.DelRoute => new RouteNotification(true, flags, RouteMessage.Decode(message.Payload)),
            NetlinkMessageType.NewRule => new RuleNotification(false, flags, RuleMessage.Decode(message.Payload)),
            NetlinkMessageType.DelRule => new RuleNotification(true, flags, RuleMessage.Decode(message.Payload)),
            _ => null,
        };
    }
}

public sealed record LinkNotification(bool Removed, NetlinkFlags Flags, LinkMessage Link) : KernelNotification(Removed, Flags);

public sealed record AddressNotification(bool Removed, NetlinkFlags Flags, AddressMessage Address) : KernelNotification(Removed, Flags);

public sealed record RouteNotification(bool Removed, NetlinkFlags Flags, RouteMessage Route) : KernelNotification(Removed, Flags);

public sealed record RuleNotification(bool Removed, NetlinkFlags Flags, RuleMessage Rule) : KernelNotification(Removed, Flags);
