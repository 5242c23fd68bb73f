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
        // Posted first, due last.
        timer.After(TimeSpan.FromMilliseconds(300), () =>
        {
            ran.Enqueue("late");
            done.SetResult();
        });
        timer.After(TimeSpan.FromMilliseconds(100), () => ran.Enqueue("soon"));
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
}
