using System.Net;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Kernel;

/// <summary>Run alone: the count is of the whole process's live heap, which other tests' objects would move.</summary>
[CollectionDefinition(nameof(LiveHeapCount), DisableParallelization = true)]
public sealed class LiveHeapCount;

/// <summary>
/// What the kernel model keeps alive per link, counted in bytes (a full collection before and after), not timed: the
/// model is most of the daemon's live heap beside many links, and that heap is most of its RSS there. The links are
/// those of bench/e2e/memory.py's 1,000: veth links, each with its IPv6 link-local address and routes, one in four
/// with an IPv4 and an IPv6 address and their routes.
/// </summary>
[Collection(nameof(LiveHeapCount))]
public class KernelModelMemoryTests
{
    /// <summary>
    /// Per link, with its share of 1.5 addresses and 4.25 routes. Measured 2,890 bytes before the model was made
    /// smaller (a RouteKey and a slot tuple beside every route, an IPAddress of its own in every route), 1,816 after
    /// (routes keyed by themselves, addresses by link, routes sharing the model's address objects, a link's few
    /// routes in an array). The bound leaves room for a field or two per message, not for an index entry of a
    /// hundred bytes per route or a second copy of the addresses.
    /// </summary>
    public const int MaxBytesPerLink = 2000;

    private const int Links = 1000;

    [Fact]
    public void A_link_with_its_addresses_and_routes_keeps_at_most_the_stated_bytes_alive()
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var model = Build();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(Links, model.Links.Count);
        Assert.Equal(Links + Links / 2, model.AddressCount);
        Assert.Equal(3 * Links + 5 * Links / 4, model.RouteCount);

        var perLink = (after - before) / Links;
        GC.KeepAlive(model);
        Console.WriteLine($"bytes kept alive by the kernel model per link: {perLink}");
        Assert.True(perLink <= MaxBytesPerLink, $"the kernel model keeps {perLink} bytes alive per link; the bound is {MaxBytesPerLink}");
    }

    /// <summary>The notifications arrive one by one, each decoded into new objects, as from the kernel.</summary>
    private static KernelModel Build()
    {
        var model = new KernelModel();
        for (var i = 0; i < Links; i++)
        {
            var index = 10 + i;
            model.Apply(new LinkNotification(false, NetlinkFlags.None, new LinkMessage
            {
                Index = index, Name = $"nbq{i}", Type = 1, Flags = LinkFlags.Up | LinkFlags.Broadcast | LinkFlags.Multicast | LinkFlags.LowerUp,
                Mtu = 1500, TxQueueLength = 1000, HardwareAddress = [0x02, 0, 0, 0, (byte)(i >> 8), (byte)i],
                Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], OperState = OperState.Up, Kind = "veth", Qdisc = "noqueue",
                Statistics = new LinkStatistics(1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                TxQueues = 1, RxQueues = 1, GsoMaxSize = 65536, GsoMaxSegments = 65535, MinMtu = 68, MaxMtu = 65535, Carrier = true,
            }));
            var linkLocal = $"fe80::{i:x}:ff:fe00:1";
            model.Apply(Address(index, linkLocal, 64, RouteScope.Link));
            model.Apply(Route(AddressFamily.IPv6, index, "fe80::", 64, RouteTable.Main, RouteType.Unicast));
            model.Apply(Route(AddressFamily.IPv6, index, linkLocal, 128, RouteTable.Local, RouteType.Local));
            model.Apply(Route(AddressFamily.IPv6, index, "ff00::", 8, RouteTable.Local, RouteType.Multicast));
            if (i % 4 != 0)
                continue;
            var ipv4 = $"10.{100 + i / 250}.{i % 250}.1";
            model.Apply(Address(index, ipv4, 24, RouteScope.Universe, $"10.{100 + i / 250}.{i % 250}.255"));
            model.Apply(Address(index, $"fd00:{i:x}::1", 64, RouteScope.Universe));
            model.Apply(Route(AddressFamily.IPv4, index, $"10.{100 + i / 250}.{i % 250}.0", 24, RouteTable.Main, RouteType.Unicast, ipv4));
            model.Apply(Route(AddressFamily.IPv4, index, ipv4, 32, RouteTable.Local, RouteType.Local, ipv4));
            model.Apply(Route(AddressFamily.IPv4, index, $"10.{100 + i / 250}.{i % 250}.255", 32, RouteTable.Local, RouteType.Broadcast, ipv4));
            model.Apply(Route(AddressFamily.IPv6, index, $"fd00:{i:x}::", 64, RouteTable.Main, RouteType.Unicast));
            model.Apply(Route(AddressFamily.IPv6, index, $"fd00:{i:x}::1", 128, RouteTable.Local, RouteType.Local));
        }
        return model;
    }

    private static AddressNotification Address(int index, string address, byte prefix, byte scope, string? broadcast = null) =>
        new(false, NetlinkFlags.None, new AddressMessage
        {
            Index = index, Family = IPAddress.Parse(address).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? AddressFamily.IPv4 : AddressFamily.IPv6,
            Address = IPAddress.Parse(address), PrefixLength = prefix, Scope = scope, Flags = AddressMessage.FlagPermanent,
            Broadcast = broadcast is null ? null : IPAddress.Parse(broadcast), Label = broadcast is null ? null : $"nbq{index - 10}",
        });

    private static RouteNotification Route(byte family, int index, string destination, byte length, uint table, byte type, string? source = null) =>
        new(false, NetlinkFlags.None, new RouteMessage
        {
            Family = family, Table = table, Destination = IPAddress.Parse(destination), DestinationLength = length, Type = type,
            Protocol = 2, Scope = type == RouteType.Unicast ? RouteScope.Link : RouteScope.Host, OutputIndex = index,
            PreferredSource = source is null ? null : IPAddress.Parse(source), Priority = family == AddressFamily.IPv6 ? 256u : 0,
        });
}
