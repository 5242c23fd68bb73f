namespace NetworkBroker.Core;

/// <summary>
/// A queue in which a value replaces any waiting value of its key and goes to the end: what waits is the latest
/// value of each key, in the order those latest values were added. For requests whose effect is "set this key to
/// this": the outcome of making the kept ones in order is the outcome of making all of them in order, and the queue
/// never holds more than one value per key. Safe from any thread.
/// </summary>
public sealed class LatestPerKey<TKey, TValue> where TKey : notnull
{
    private readonly Lock _lock = new();
    private readonly LinkedList<(TKey Key, TValue Value)> _order = new();
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>> _byKey = [];

    public int Count
    {
        get
        {
            lock (_lock)
                return _order.Count;
        }
    }

    public void Add(TKey key, TValue value)
    {
        lock (_lock)
        {
            if (_byKey.Remove(key, out var older))
                _order.Remove(older);
            _byKey[key] = _order.AddLast((key, value));
        }
    }

    public bool TryTake(out TValue value)
    {
        lock (_lock)
        {
            if (_order.First is not { } first)
            {
                value = default!;
                return false;
            }
            _order.RemoveFirst();
            _byKey.Remove(first.Value.Key);
            value = first.Value.Value;
            return true;
        }
    }
}
