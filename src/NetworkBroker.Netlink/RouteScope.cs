namespace NetworkBroker.Netlink;

/// <summary>Route scopes (RT_SCOPE_*).</summary>
public static class RouteScope
{
    public const byte Universe = 0;
    public const byte Site = 200;
    public const byte Link = 253;
    public const byte Host = 254;
    public const byte Nowhere = 255;
}
