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
            if (i == 5)
            {
                // The check armed by the first event comes due in the middle of the burst: it waits for a quiet second.
                Assert.Equal(TimeSpan.FromSeconds(1), Assert.Single(_due).Delay);
                RunDue();
                Assert.Equal(0, _collected);
                Assert.InRange(Assert.Single(_due).Delay.TotalSeconds, 0.79, 0.81);
            }
        }
        // One check at a time for the whole burst.
        Assert.Single(_due);

        // Due 0.2 s after the burst's last event: not yet, but again when a second will have passed since it.
        RunDue();
        Assert.Equal(0, _collected);
        Assert.InRange(Assert.Single(_due).Delay.TotalSeconds, 0.79, 0.81);

        Advance(0.8);
        RunDue();
        Assert.Equal(1, _collected);
        Assert.Empty(_due);
        Assert.Equal(1, quiet.Collections);
    }

    [Fact]
    public void An_event_between_the_checks_look_at_the_clock_and_its_disarming_is_waited_for_not_collected_upon()
    {
        QuietCollection? quiet = null;
        var racing = false;
        quiet = new QuietCollection(TimeSpan.FromSeconds(1), (delay, step) => _due.Add((delay, step)), () => _allocated, () => _collected++,
            () =>
            {
                // Inside the check's look at the clock: an event arrives on another thread (it finds a check armed).
                if (racing)
                {
                    racing = false;
                    quiet!.Activity();
                }
                return _now;
            });
        quiet.Enable();
        _allocated += 2 * QuietCollection.Worth;
        quiet.Activity();
        Advance(1);
        racing = true;
        RunDue();
        Assert.Equal(0, _collected);
        Assert.Equal(TimeSpan.FromSeconds(1), Assert.Single(_due).Delay);

        Advance(1);
        RunDue();
        Assert.Equal(1, _collected);
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
