namespace NetworkBroker.Netlink;

/// <summary>Message types of NETLINK_ROUTE (linux/rtnetlink.h) and the generic netlink ones (linux/netlink.h).</summary>
public enum NetlinkMessageType : ushort
{
    Noop = 1,
    Error = 2,
    Done = 3,
    Overrun = 4,
    NewLink = 16,
    DelLink = 17,
    GetLink = 18,
    NewAddress = 20,
    DelAddress = 21,
    GetAddress = 22,
    NewRoute = 24,
    DelRoute = 25,
    GetRoute = 26,
    NewRule = 32,
    DelRule = 33,
    GetRule = 34,
}
