using System.Net;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Kernel;

/// <summary>What makes an address the same address to the kernel: link, family, address, prefix.</summary>
public readonly record struct AddressKey(int Index, byte Family, IPAddress Address, byte PrefixLength)
{
    public static AddressKey Of(AddressMessage a) => new(a.Index, a.Family, a.Address, a.PrefixLength);
}

/// <summary>What makes a route the same route: where to, in which table, at which metric, and by which path.</summary>
public readonly record struct RouteKey(byte Family, uint Table, IPAddress? Destination, byte DestinationLength,
    IPAddress? Source, byte SourceLength, byte Tos, uint Priority, byte Type, int OutputIndex, IPAddress? Gateway, string Paths)
{
    public static RouteKey Of(RouteMessage r) => new(r.Family, r.Table, r.Destination, r.DestinationLength, r.Source,
        r.SourceLength, r.Tos, r.Priority, r.Type, r.OutputIndex, r.Gateway,
        r.MultiPath.IsEmpty ? "" : string.Join(',', r.MultiPath.Select(h => $"{h.Index}/{h.Gateway}")));

    /// <summary>The part NLM_F_REPLACE matches on: a replaced route keeps it and changes its path.</summary>
    public (byte, uint, IPAddress?, byte, IPAddress?, byte, byte, uint) Slot =>
        (Family, Table, Destination, DestinationLength, Source, SourceLength, Tos, Priority);
}
