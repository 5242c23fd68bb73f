namespace NetworkBroker.Core;

/// <summary>
/// Tables that fill with a burst and empty again (a start's first run of every link, each waiting in its lane and in
/// the restart memory's in-flight count) keep the burst's capacity for good: beside 1,000 links some 45-60 KB each,
/// held for nothing once the burst is over. Given back when such a table is empty (or nearly) and much larger than
/// what it holds; a small table is left alone, so the usual event trims nothing and allocates nothing.
/// </summary>
internal static class BurstCapacity
{
    private const int Kept = 64;

    public static void TrimAfterBurst<TKey, TValue>(Dictionary<TKey, TValue> table) where TKey : notnull
    {
        if (table.Count < Kept / 4 && table.EnsureCapacity(0) > Kept)
            table.TrimExcess();
    }

    public static void TrimAfterBurst<T>(HashSet<T> set)
    {
        if (set.Count < Kept / 4 && set.EnsureCapacity(0) > Kept)
            set.TrimExcess();
    }

    public static void TrimAfterBurst<T>(List<T> list)
    {
        if (list.Count < Kept / 4 && list.Capacity > Kept)
            list.Capacity = list.Count;
    }
}
