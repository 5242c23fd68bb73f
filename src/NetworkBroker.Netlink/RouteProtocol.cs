namespace NetworkBroker.Netlink;

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
