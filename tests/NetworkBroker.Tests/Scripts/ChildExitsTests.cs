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

    [Fact]
    public async Task On_the_script_thread_a_stream_s_end_is_served_by_that_thread_itself()
    {
        using var thread = new ScriptThread(e => Assert.Fail(e.ToString()));
        var (near, far) = SocketPair();
        var lines = new List<(string Line, string? Thread)>();
        var started = new TaskCompletionSource<(Task<long>? Done, string? Thread)>();
        thread.Post(_ => started.SetResult((ChildExits.Read(near, l => lines.Add((l, Thread.CurrentThread.Name))), Thread.CurrentThread.Name)), null);
        var (done, scripts) = await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("scripts", scripts);
        Assert.NotNull(done);
        var where = done!.ContinueWith(_ => Thread.CurrentThread.Name,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Write(far, "one\ntwo\n");
        Libc.close(far);
        // Not the output thread's: the script thread's epoll set holds the stream beside its posted steps.
        Assert.Equal("scripts", await where.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal([("one", "scripts"), ("two", "scripts")], lines);
    }

    private static unsafe void Write(int fd, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        fixed (byte* buffer = bytes)
            Assert.Equal(bytes.Length, (int)Libc.write(fd, buffer, bytes.Length));
    }

    private static unsafe (int Near, int Far) SocketPair()
    {
        int* pair = stackalloc int[2];
        Assert.Equal(0, Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, pair));
        return (pair[0], pair[1]);
    }
}
