using NetworkBroker.Core;

namespace NetworkBroker.Tests.Core;

public class LatestPerKeyTests
{
    [Fact]
    public void A_newer_value_replaces_the_waiting_one_of_its_key_and_goes_to_the_end()
    {
        var queue = new LatestPerKey<string, int>();
        queue.Add("dns", 1);
        queue.Add("revert", 2);
        queue.Add("dns", 3);
        queue.Add("domains", 4);
        Assert.Equal(3, queue.Count);
        Assert.Equal([2, 3, 4], Drain(queue));
        Assert.False(queue.TryTake(out _));
        queue.Add("dns", 5);
        Assert.Equal([5], Drain(queue));
    }

    [Fact]
    public void Making_the_kept_values_in_order_ends_where_making_every_value_in_order_ends()
    {
        // The values are requests "set a part of the state": a key sets one part ("dns"), a revert key several at once
        // ("revert" clears dns and domains). Whatever is taken between the adds, the state ends the same.
        var random = new Random(17);
        string[] keys = ["dns", "domains", "revert", "hostname"];
        for (var round = 0; round < 2000; round++)
        {
            var queue = new LatestPerKey<string, (string Key, int Value)>();
            var all = new Dictionary<string, int>();
            var kept = new Dictionary<string, int>();
            for (var step = 0; step < random.Next(1, 40); step++)
            {
                if (random.Next(4) == 0 && queue.TryTake(out var taken))
                    Apply(kept, taken);
                var request = (keys[random.Next(keys.Length)], step);
                queue.Add(request.Item1, request);
                Apply(all, request);
            }
            while (queue.TryTake(out var rest))
                Apply(kept, rest);
            Assert.Equal(all.OrderBy(p => p.Key), kept.OrderBy(p => p.Key));
        }
    }

    private static void Apply(Dictionary<string, int> state, (string Key, int Value) request)
    {
        if (request.Key == "revert")
        {
            state.Remove("dns");
            state.Remove("domains");
        }
        else
            state[request.Key] = request.Value;
    }

    private static List<int> Drain(LatestPerKey<string, int> queue)
    {
        var values = new List<int>();
        while (queue.TryTake(out var value))
            values.Add(value);
        return values;
    }
}
