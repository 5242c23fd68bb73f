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

[Flags]
public enum NetlinkFlags : ushort
{
    None = 0,
    Request = 0x1,
    Multi = 0x2,
    Ack = 0x4,
    Echo = 0x8,
    /// <summary>The dump was interrupted by a change: its content is inconsistent and must be retried.</summary>
    DumpInterrupted = 0x10,
    DumpFiltered = 0x20,
    // GET requests
    Root = 0x100,
    Match = 0x200,
    Dump = Root | Match,
    // NEW requests
    Replace = 0x100,
    Exclusive = 0x200,
    Create = 0x400,
    Append = 0x800,
}

/// <summary>rtnetlink multicast groups (RTNLGRP_*), as given to NETLINK_ADD_MEMBERSHIP.</summary>
public enum RouteNetlinkGroup
{
    Link = 1,
    IPv4Address = 5,
    IPv4Route = 7,
    IPv4Rule = 8,
    IPv6Address = 9,
    IPv6Route = 11,
    IPv6Rule = 19,
}

public static class AddressFamily
{
    public const byte Unspecified = 0;
    public const byte IPv4 = 2;
    public const byte IPv6 = 10;
}

/// <summary>Well-known routing tables (RT_TABLE_*).</summary>
public static class RouteTable
{
    public const uint Unspecified = 0;
    public const uint Default = 253;
    public const uint Main = 254;
    public const uint Local = 255;
    /// <summary>RT_TABLE_COMPAT: what the 8-bit table field of rtmsg and fib_rule_hdr holds for a table above 255.</summary>
    public const byte Compat = 252;

    /// <summary>The 8-bit header field for a table; the real number goes in RTA_TABLE / FRA_TABLE.</summary>
    public static byte HeaderByte(uint table) => table > 255 ? Compat : (byte)table;
}

/// <summary>Route scopes (RT_SCOPE_*).</summary>
public static class RouteScope
{
    public const byte Universe = 0;
    public const byte Site = 200;
    public const byte Link = 253;
    public const byte Host = 254;
    public const byte Nowhere = 255;
}

/// <summary>Route types (RTN_*).</summary>
public static class RouteType
{
    public const byte Unspecified = 0;
    public const byte Unicast = 1;
    public const byte Local = 2;
    public const byte Broadcast = 3;
    public const byte Anycast = 4;
    public const byte Multicast = 5;
    public const byte Blackhole = 6;
    public const byte Unreachable = 7;
    public const byte Prohibit = 8;
}

/// <summary>Routing protocols (RTPROT_*): who made a route or rule.</summary>
public static class RouteProtocol
{
    public const byte Unspecified = 0;
    public const byte Redirect = 1;
    public const byte Kernel = 2;
    public const byte Boot = 3;
    public const byte Static = 4;
    public const byte Ra = 9;
    public const byte Dhcp = 16;

    public static string Name(byte protocol) => protocol switch
    {
        Unspecified => "unspec",
        Redirect => "redirect",
        Kernel => "kernel",
        Boot => "boot",
        Static => "static",
        Ra => "ra",
        Dhcp => "dhcp",
        _ => protocol.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>fib rule actions (FR_ACT_*).</summary>
public static class RuleAction
{
    public const byte ToTable = 1;
}
