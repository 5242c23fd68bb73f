using System.Net;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Kernel;

/// <summary>The route indexes answer exactly what a pass over every route would, whatever came and went before.</summary>
public class RouteStoreTests
{
    private static RouteMessage Route(Random random) => new()
    {
        Family = AddressFamily.IPv4,
        Table = random.Next(4) switch { 0 => RouteTable.Local, 1 => 10003, _ => RouteTable.Main },
        Destination = IPAddress.Parse($"10.0.{random.Next(4)}.0"),
        DestinationLength = (byte)(random.Next(3) == 0 ? 0 : 24),
        Priority = (uint)random.Next(2),
        Type = RouteType.Unicast,
        OutputIndex = random.Next(1, 5),
        Gateway = random.Next(2) == 0 ? null : IPAddress.Parse($"10.0.0.{random.Next(1, 4)}"),
        PreferredSource = random.Next(2) == 0 ? null : IPAddress.Parse($"10.0.0.{random.Next(10, 13)}"),
    };

    [Fact]
    public void Every_index_agrees_with_a_full_pass_after_random_puts_and_removes()
    {
        var random = new Random(42);
        var store = new RouteStore();
        var truth = new Dictionary<RouteKey, RouteMessage>();
        for (var step = 0; step < 20_000; step++)
        {
            var route = Route(random);
            var key = RouteKey.Of(route);
            if (random.Next(3) == 0)
            {
                Assert.Equal(truth.Remove(key), store.Remove(route, out _));
            }
            else
            {
                truth[key] = route;
                store.Put(route);
            }
            // (Equals, not ==: a tuple's == compares its IPAddress elements by reference.)
            var probe = key.Slot;
            Assert.True(truth.Where(r => r.Key.Slot.Equals(probe)).Select(r => r.Value).ToHashSet(ReferenceEqualityComparer.Instance).SetEquals(store.InSlot(route)));
            if (step % 500 != 0)
                continue;
            Assert.Equal(truth.Count, store.Count);
            for (var link = 1; link < 5; link++)
                Assert.Equal(truth.Values.Where(r => r.Links.Contains(link)).ToHashSet(), store.OfLink(link).ToHashSet());
            for (var last = 10; last < 13; last++)
            {
                var source = IPAddress.Parse($"10.0.0.{last}");
                Assert.Equal(truth.Values.Where(r => source.Equals(r.PreferredSource)).ToHashSet(), store.WithPreferredSource(source).ToHashSet());
            }
            Assert.Equal(truth.Values.Where(r => r.IsDefault).ToHashSet(), store.Defaults.ToHashSet());
            Assert.Equal(truth.Values.Where(r => r.Table is not (RouteTable.Main or RouteTable.Local)).ToHashSet(), store.OutsideMain.ToHashSet());
            foreach (var (stored, storedRoute) in truth)
                Assert.True(truth.Where(r => r.Key.Slot.Equals(stored.Slot)).Select(r => r.Value).ToHashSet(ReferenceEqualityComparer.Instance).SetEquals(store.InSlot(storedRoute)));
        }
        store.Clear();
        Assert.Empty(store.OfLink(1));
        Assert.Empty(store.InSlot(Route(random)));
    }
}
