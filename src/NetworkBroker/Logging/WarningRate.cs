namespace NetworkBroker.Logging;

/// <summary>
/// A warning a peer can cause at will (a forged or oversized D-Bus message), said at most once per interval with the
/// count since the last one said: a flood costs the log one line a minute, and the count is not lost.
/// </summary>
public sealed class WarningRate(TimeSpan interval)
{
    private long _since;
    private long _last = long.MinValue;

    /// <summary>Counts one; true with the count since the last warning said, when one is due now (any thread).</summary>
    public bool Due(out long count)
    {
        Interlocked.Increment(ref _since);
        count = 0;
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _last);
        if (last != long.MinValue && now - last < (long)interval.TotalMilliseconds)
            return false;
        if (Interlocked.CompareExchange(ref _last, now, last) != last)
            return false;
        count = Interlocked.Exchange(ref _since, 0);
        return true;
    }
}
