using System.Diagnostics;
using System.Runtime.InteropServices;
using NetworkBroker.Native;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

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

    [Fact]
    public async Task A_script_a_tracer_holds_after_its_exit_is_waited_for_off_the_script_thread_which_serves_the_next_script_meanwhile()
    {
        using var directory = new TempDirectory();
        // No child of its own: a SIGCHLD would stop a tracee until its tracer let it go on, and this tracer never does.
        // It exits once the test, its tracer attached, tells it to.
        var go = directory.Combine("go");
        var held = directory.Script("carrier", "held", $"#!/usr/bin/perl\nselect(undef, undef, undef, 0.02) until -e '{go}';\nexit 3;\n");
        var next = directory.Script("carrier", "next", "#!/bin/sh\nexit 0\n");
        using var thread = new ScriptThread(e => Assert.Fail(e.ToString()));

        var first = await OnThread(thread, held);
        // A tracer of our own (strace -p and gdb do the same): a zombie it traces is the tracer's to collect first, so
        // the pidfd says "exited" while waitpid has nothing for the parent until the tracer lets go.
        using var tracer = Trace(first.Process.Pid);
        try
        {
            File.WriteAllText(go, "");
            Assert.True(await Processes.EventuallyDead(first.Process.Pid, TimeSpan.FromSeconds(30)), "the held script never exited");
            // The script thread has seen the pidfd by now, in every run but one that is starved for a second or more.
            await Task.Delay(500);
            Assert.False(first.Exited.IsCompleted, "served while the tracer still held it: no tracer in between?");
            Assert.False(first.Process.HasExited, "a traced zombie cannot be reaped by its parent yet");

            // The thread is free: a script started after the held one's exit is served at once, by the thread itself.
            var second = await OnThread(thread, next);
            var (code, servedBy) = await second.Exited.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((0, "scripts"), (code, servedBy));
            Assert.False(first.Exited.IsCompleted);

            // The tracer lets go (ends): the held script is reaped by the thread that waited for it, with its own status
            // (its continuation goes on to a pool worker: that thread's stack is too small for the runtime to run it there).
            tracer.StandardInput.Close();
            var (heldCode, reapedBy) = await first.Exited.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(3, heldCode);
            Assert.NotEqual("scripts", reapedBy);
        }
        finally
        {
            // Else, on a failure, the tracer would hold the script for good, and the thread with it.
            tracer.Kill();
        }
    }

    /// <summary>Starts <paramref name="path"/> on the script thread; its exit code, with the name of the thread that saw it.</summary>
    private static async Task<(ScriptProcess Process, Task<(int Code, string? ServedBy)> Exited)> OnThread(ScriptThread thread, string path)
    {
        var started = new TaskCompletionSource<(ScriptProcess, Task<(int, string?)>)>(TaskCreationOptions.RunContinuationsAsynchronously);
        thread.Post(_ =>
        {
            var process = ScriptProcess.Start(path, []);
            process.ReadOutput(false, _ => { });
            process.ReadOutput(true, _ => { });
            started.SetResult((process, process.Exited.ContinueWith(e => (e.Result.ExitCode, Thread.CurrentThread.Name),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)));
        }, null);
        return await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Attaches a tracer (PTRACE_SEIZE, which does not stop the tracee) to <paramref name="pid"/>; it ends when its stdin closes.</summary>
    private static Process Trace(int pid)
    {
        var ptrace = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 117 : 101;
        var tracer = Process.Start(new ProcessStartInfo("perl", ["-e",
            "$| = 1; syscall($ARGV[0] + 0, 0x4206, $ARGV[1] + 0, 0, 0) == 0 or die \"PTRACE_SEIZE: $!\\n\"; print \"held\\n\"; <STDIN>;",
            ptrace.ToString(), pid.ToString()])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var said = tracer.StandardOutput.ReadLine();
        if (said != "held")
            Assert.Fail($"the tracer did not attach: {tracer.StandardError.ReadToEnd()}");
        return tracer;
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
