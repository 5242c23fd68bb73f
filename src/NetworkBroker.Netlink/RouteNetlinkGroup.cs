namespace NetworkBroker.Netlink;

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
