namespace NetworkBroker.Netlink;

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
