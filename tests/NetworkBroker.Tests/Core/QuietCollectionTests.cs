using System.Diagnostics;
using NetworkBroker.Core;

namespace NetworkBroker.Tests.Core;

/// <summary>The collection after a burst, on a clock, an allocation count and a timer the test moves.</summary>
public class QuietCollectionTests
{
    private long _now = 1_000_000;
    private long _allocated;
    private int _collected;
    private readonly List<(TimeSpan Delay, Action Step)> _due = [];

    private QuietCollection Make() =>
        new(TimeSpan.FromSeconds(1), (delay, step) => _due.Add((delay, step)), () => _allocated, () => _collected++, () => _now);

    private void Advance(double seconds) => _now += (long)(seconds * Stopwatch.Frequency);

    /// <summary>Runs the steps the timer holds now (as the timer thread would once their delay passed).</summary>
    private void RunDue()
    {
        var due = _due.ToList();
        _due.Clear();
        foreach (var (_, step) in due)
            step();
    }

    [Fact]
    public void Before_it_is_enabled_activity_arms_nothing()
    {
        var quiet = Make();
        _allocated = 10 << 20;
        quiet.Activity();
        Assert.Empty(_due);
    }

    [Fact]
    public void A_burst_is_collected_once_a_second_after_its_last_event_and_never_during_it()
    {
        var quiet = Make();
        quiet.Enable();
        for (var i = 0; i < 10; i++)
        {
            _allocated += 300 * 1024;
            quiet.Activity();
            Advance(0.2);
        }
        // One check armed for the whole burst.
        Assert.Single(_due);
        Assert.Equal(TimeSpan.FromSeconds(1), _due[0].Delay);

        // Due while the burst went on (0.2 s since its last event): not yet, but again when a second will have passed.
        RunDue();
        Assert.Equal(0, _collected);
        var again = Assert.Single(_due).Delay;
        Assert.InRange(again.TotalSeconds, 0.79, 0.81);

        Advance(0.8);
        RunDue();
        Assert.Equal(1, _collected);
        Assert.Empty(_due);
        Assert.Equal(1, quiet.Collections);
    }

    [Fact]
    public void Quiet_after_less_than_a_megabyte_allocated_collects_nothing()
    {
        var quiet = Make();
        quiet.Enable();
        _allocated += QuietCollection.Worth - 1;
        quiet.Activity();
        Advance(1);
        RunDue();
        Assert.Equal(0, _collected);

        // The next burst brings it over: collected then, counting from the last collection, not from the start.
        _allocated += 2;
        quiet.Activity();
        Advance(1);
        RunDue();
        Assert.Equal(1, _collected);
        _allocated += QuietCollection.Worth / 2;
        quiet.Activity();
        Advance(1);
        RunDue();
        Assert.Equal(1, _collected);
    }
}
