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

/// <summary>
/// Routes compared as <see cref="RouteKey"/> compares them, read from the messages themselves: a set of routes keyed
/// so holds 16 bytes per route where a dictionary from the key held 128 (the key's twelve fields, beside the route).
/// </summary>
internal sealed class RouteIdentity : IEqualityComparer<RouteMessage>
{
    public static readonly RouteIdentity Instance = new();

    public bool Equals(RouteMessage? a, RouteMessage? b) =>
        ReferenceEquals(a, b) || a is not null && b is not null && RouteSlot.Same(a, b) &&
        a.Type == b.Type && a.OutputIndex == b.OutputIndex && Equals(a.Gateway, b.Gateway) && SamePaths(a, b);

    public int GetHashCode(RouteMessage r) => HashCode.Combine(RouteSlot.Hash(r), r.Type, r.OutputIndex, r.Gateway, r.MultiPath.Length);

    private static bool SamePaths(RouteMessage a, RouteMessage b)
    {
        if (a.MultiPath.Length != b.MultiPath.Length)
            return false;
        for (var i = 0; i < a.MultiPath.Length; i++)
            if (a.MultiPath[i].Index != b.MultiPath[i].Index || !Equals(a.MultiPath[i].Gateway, b.MultiPath[i].Gateway))
                return false;
        return true;
    }
}

/// <summary>Routes compared by <see cref="RouteKey.Slot"/>, what NLM_F_REPLACE matches on.</summary>
internal sealed class RouteSlot : IEqualityComparer<RouteMessage>
{
    public static readonly RouteSlot Instance = new();

    public bool Equals(RouteMessage? a, RouteMessage? b) => ReferenceEquals(a, b) || a is not null && b is not null && Same(a, b);

    public int GetHashCode(RouteMessage r) => Hash(r);

    internal static bool Same(RouteMessage a, RouteMessage b) =>
        a.Family == b.Family && a.Table == b.Table && Equals(a.Destination, b.Destination) && a.DestinationLength == b.DestinationLength &&
        Equals(a.Source, b.Source) && a.SourceLength == b.SourceLength && a.Tos == b.Tos && a.Priority == b.Priority;

    internal static int Hash(RouteMessage r) =>
        HashCode.Combine(r.Family, r.Table, r.Destination, r.DestinationLength, r.Source, r.SourceLength, r.Tos, r.Priority);
}
