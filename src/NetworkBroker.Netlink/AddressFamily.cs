namespace NetworkBroker.Netlink;

public static class AddressFamily
{
    public const byte Unspecified = 0;
    public const byte IPv4 = 2;
    public const byte IPv6 = 10;
}
