using NetworkBroker.Native;
using NetworkBroker.Scripts;

namespace NetworkBroker.Tests.Scripts;

public class ChildExitsTests
{
    [Fact]
    public async Task What_waits_for_a_stream_s_end_resumes_on_the_watching_thread_not_on_a_pool_worker()
    {
        var (near, far) = SocketPair();
        var done = ChildExits.Read(near, _ => { });
        Assert.NotNull(done);
        // A continuation that asks to run where the task completes: on the watcher, unless the runtime finds that
        // thread's stack too short to run it there (a 128 KiB stack did), and queues it to the thread pool instead.
        var where = done!.ContinueWith(_ => (Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Libc.close(far);
        var (pool, name) = await where.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(pool, $"resumed on a pool worker, not on the watcher ({name})");
    }

    private static unsafe (int Near, int Far) SocketPair()
    {
        int* pair = stackalloc int[2];
        Assert.Equal(0, Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, pair));
        return (pair[0], pair[1]);
    }
}
