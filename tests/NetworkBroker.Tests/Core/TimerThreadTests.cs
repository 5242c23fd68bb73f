using System.Collections.Concurrent;
using NetworkBroker.Core;

namespace NetworkBroker.Tests.Core;

public class TimerThreadTests
{
    [Fact]
    public async Task Steps_run_on_the_timer_thread_in_the_order_they_are_due_and_those_due_together_in_the_order_posted()
    {
        var timer = new TimerThread("timer-test");
        var ran = new ConcurrentQueue<string>();
        var threads = new ConcurrentBag<bool>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Posted first, due last. Seconds apart, so that a pause of the test's thread between the posts cannot reorder them.
        timer.After(TimeSpan.FromSeconds(2), () =>
        {
            ran.Enqueue("late");
            done.SetResult();
        });
        timer.After(TimeSpan.FromSeconds(1), () => ran.Enqueue("soon"));
        for (var i = 0; i < 5; i++)
        {
            var n = i;
            timer.Post(() =>
            {
                threads.Add(timer.IsCurrent);
                ran.Enqueue($"now{n}");
            });
        }
        await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["now0", "now1", "now2", "now3", "now4", "soon", "late"], ran);
        Assert.All(threads, Assert.True);
        Assert.False(timer.IsCurrent);
    }

    [Fact]
    public async Task A_step_posted_earlier_than_the_one_waited_for_is_not_held_up_by_it()
    {
        var timer = new TimerThread("timer-test");
        var far = false;
        timer.After(TimeSpan.FromHours(1), () => far = true);
        // Not taken for "at once" by an overflow.
        timer.After(TimeSpan.MaxValue, () => far = true);
        var near = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        timer.After(TimeSpan.FromMilliseconds(10), near.SetResult);
        // Fails (times out) if the thread stays in its wait for the step an hour away.
        await near.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(far);
    }

    [Fact]
    public async Task A_step_that_throws_is_reported_and_the_thread_goes_on()
    {
        var reported = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        var timer = new TimerThread("timer-test", e => reported.TrySetResult(e));
        timer.Post(() => throw new InvalidOperationException("broken step"));
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        timer.Post(next.SetResult);
        Assert.Equal("broken step", (await reported.Task.WaitAsync(TimeSpan.FromSeconds(30))).Message);
        await next.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_step_due_earlier_than_the_one_waited_for_wakes_the_thread_only_when_it_is_due()
    {
        var timer = new TimerThread("timer-test");
        timer.After(TimeSpan.FromHours(1), () => { });
        // The thread is waiting for the hour once the first empty wait set nothing and it stays put.
        await WaitUntilSettled(timer);
        var before = timer.Wakes;

        var near = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        timer.After(TimeSpan.FromMilliseconds(200), near.SetResult);
        for (var i = 0; i < 50; i++)
            timer.After(TimeSpan.FromMinutes(30 + i), () => { });
        await near.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // One wake-up, at the step's time: not one more to wait again when it was posted (a condition variable's pulse).
        Assert.Equal(before + 1, timer.Wakes);
    }

    [Fact]
    public async Task A_step_with_slack_runs_in_the_wake_up_of_another_once_due_and_alone_by_its_latest_time()
    {
        var timer = new TimerThread("timer-test");
        var ran = new ConcurrentQueue<string>();
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var alone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await WaitUntilSettled(timer);
        var before = timer.Wakes;

        // Due at 100 ms, may wait until 10 s: it goes with the step at 300 ms, in the same wake-up, and first (due first).
        timer.After(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), () => ran.Enqueue("slack"));
        timer.After(TimeSpan.FromMilliseconds(300), () =>
        {
            ran.Enqueue("exact");
            second.SetResult();
        });
        await second.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["slack", "exact"], ran);
        Assert.Equal(before + 1, timer.Wakes);

        // Alone, it runs by its latest time.
        var posted = System.Diagnostics.Stopwatch.StartNew();
        timer.After(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400), alone.SetResult);
        await alone.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // Not before its time.
        Assert.True(posted.ElapsedMilliseconds >= 100, $"ran after {posted.ElapsedMilliseconds} ms");
        Assert.Equal(before + 2, timer.Wakes);
    }

    private static async Task WaitUntilSettled(TimerThread timer)
    {
        var last = -1L;
        while (timer.Wakes != last)
        {
            last = timer.Wakes;
            await Task.Delay(100);
        }
    }
}
