namespace NetworkBroker.Commands;

/// <summary>
/// What a large start allocated (the kernel's dumps, networkd's GetAll of every link, the first run of every link's
/// state, the first policy routing) is mostly garbage in the older generations, which an idle daemon's 1 MiB gen0
/// budget may not reach for hours: collected once, compacting, when the start's work has quieted. Not at READY:
/// beside 1,000 links the replay and the policy routing come after it, and allocate most. Not after a small start:
/// there the collection costs more (the collector's own pages) than the little garbage it frees.
/// </summary>
internal static class StartupGarbage
{
    private const long LargeStart = 16 * 1024 * 1024;
    private const long Quiet = 256 * 1024;

    /// <summary>
    /// Once a second, up to two minutes: the second of two seconds in a row that each allocated less than 256 KiB ends
    /// the start. Two, not one: on a machine just booted, networkd finishes configuring links a second or so after
    /// READY (addresses through duplicate detection, the states that follow), which runs the loop, the scripts and the
    /// timer thread's code once more; released before that, those pages were mapped again at once, and the idle RSS
    /// swung between 5.2 and 6.6 MB from one start to the next (bench/e2e/memory.py). True when it ended so, false
    /// after two minutes or when cancelled.
    /// </summary>
    public static async Task<bool> CollectWhenQuietAsync(CancellationToken cancel)
    {
        try
        {
            var last = GC.GetTotalAllocatedBytes();
            var quiet = 0;
            for (var second = 0; second < 120; second++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancel).ConfigureAwait(false);
                var now = GC.GetTotalAllocatedBytes();
                quiet = now - last < Quiet ? quiet + 1 : 0;
                if (quiet == 2)
                {
                    if (now > LargeStart)
                        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    return true;
                }
                last = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
        return false;
    }
}
