namespace NetworkBroker.Netlink;

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
