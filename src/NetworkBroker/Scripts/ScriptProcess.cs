using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>How a script ended.</summary>
public readonly record struct ScriptExit(int ExitCode, int Signal)
{
    public bool Succeeded => Signal == 0 && ExitCode == 0;

    public override string ToString() => Signal != 0 ? $"killed by signal {Signal}" : $"exit status {ExitCode}";

    public static ScriptExit FromWaitStatus(int status) =>
        (status & 0x7f) == 0 ? new ScriptExit((status >> 8) & 0xff, 0) : new ScriptExit(-1, status & 0x7f);
}

/// <summary>
/// A running script, started with posix_spawn rather than System.Diagnostics.Process because a script
/// must be the leader of its own session and process group (so that a timeout kills whatever it
/// spawned too), must not inherit the runtime's ignored SIGPIPE or blocked signals, and must start in
/// "/" with stdin on /dev/null. Its stdout and stderr are the far ends of two socket pairs, whose near ends
/// the thread that watches its exit reads (<see cref="ChildExits"/>), without a thread per stream.
/// </summary>
internal sealed unsafe class ScriptProcess
{
    // Continuations run on the thread that saw the exit: the runner's awaits are on the script thread, to which they
    // post; a timeout's (WaitAsync) only completes its own task. Run asynchronously, each exit woke a pool worker,
    // which woke another, before the script thread: three thread switches per script.
    private readonly TaskCompletionSource<ScriptExit> _exit = new();
    private int _reaped;

    private int _stdout;
    private int _stderr;

    private ScriptProcess(int pid, int stdout, int stderr)
    {
        Pid = pid;
        _stdout = stdout;
        _stderr = stderr;
        // The runtime has no child-exit notification we can use without System.Diagnostics.Process: the script thread
        // (or one thread elsewhere) watches every script's pidfd (ChildExits); without pidfds, a blocking waitpid on
        // a small thread of its own.
        if (!ChildExits.Watch(pid, Exit))
            new Thread(WaitForExit, maxStackSize: 128 * 1024) { IsBackground = true, Name = "script-wait" }.Start();
    }

    /// <summary>Also the id of the script's session and process group.</summary>
    public int Pid { get; }

    /// <summary>
    /// Reads the script's stdout (or stderr) to its end, each complete line to <paramref name="line"/>; the task
    /// gives the bytes not logged. Once per stream: the stream is closed at its end, never when the script exits.
    /// </summary>
    public Task<long> ReadOutput(bool standardError, Action<string> line)
    {
        var fd = standardError ? Interlocked.Exchange(ref _stderr, -1) : Interlocked.Exchange(ref _stdout, -1);
        if (fd < 0)
            throw new InvalidOperationException("the stream is being read already");
        // On the thread that watches the scripts' exits; without it (no epoll), through the runtime's socket engine.
        return ChildExits.Read(fd, line)
            ?? ScriptOutputPump.RunAsync(new Socket(new SafeSocketHandle(fd, ownsHandle: true)), line);
    }

    public Task<ScriptExit> Exited => _exit.Task;

    /// <summary>
    /// The script exited, whether or not its exit was served yet: asked of the kernel (waitid with WNOWAIT, which
    /// leaves the child to its watch to reap). For a timeout that fires while the exit waits for its thread, one
    /// blocked in a log write.
    /// </summary>
    public bool HasExited
    {
        get
        {
            if (Volatile.Read(ref _reaped) != 0)
                return true;
            byte* info = stackalloc byte[Libc.SigInfoSize];
            new Span<byte>(info, Libc.SigInfoSize).Clear();
            if (Libc.waitid(Libc.P_PID, Pid, info, Libc.WEXITED | Libc.WNOHANG | Libc.WNOWAIT) == 0 && *(int*)(info + Libc.SigInfoPidOffset) == Pid)
                return true;
            // Reaped by its watch on another thread between the first look and waitid (ECHILD then).
            return Volatile.Read(ref _reaped) != 0;
        }
    }

    public static ScriptProcess Start(string path, IReadOnlyList<string> environment)
    {
        int* stdout = stackalloc int[2];
        int* stderr = stackalloc int[2];
        CreatePair(stdout);
        try
        {
            CreatePair(stderr);
        }
        catch
        {
            Libc.close(stdout[0]);
            Libc.close(stdout[1]);
            throw;
        }

        int pid;
        int error;
        try
        {
            error = Spawn(path, environment, stdout[1], stderr[1], out pid);
        }
        finally
        {
            // The script holds its ends now; ours must go, or reads would never see end-of-file.
            Libc.close(stdout[1]);
            Libc.close(stderr[1]);
        }

        if (error != 0)
        {
            Libc.close(stdout[0]);
            Libc.close(stderr[0]);
            throw new ScriptStartException(path, error);
        }
        return new ScriptProcess(pid, stdout[0], stderr[0]);
    }

    private static void CreatePair(int* pair)
    {
        if (Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, pair) != 0)
            throw new IOException($"socketpair: {Libc.Describe(Marshal.GetLastPInvokeError())}");
    }

    private static int Spawn(string path, IReadOnlyList<string> environment, int stdout, int stderr, out int pid)
    {
        byte* actions = stackalloc byte[Libc.FileActionsSize];
        byte* attributes = stackalloc byte[Libc.SpawnAttrSize];
        byte* signals = stackalloc byte[Libc.SigSetSize];
        using var argv = new NativeStringArray([path]);
        using var envp = new NativeStringArray(environment);
        var pathBytes = Encoding.UTF8.GetBytes(path + "\0");
        var devNull = "/dev/null\0"u8;
        var root = "/\0"u8;

        Libc.posix_spawn_file_actions_init(actions);
        Libc.posix_spawnattr_init(attributes);
        try
        {
            fixed (byte* devNullPath = devNull)
            fixed (byte* rootPath = root)
            fixed (byte* file = pathBytes)
            {
                Libc.posix_spawn_file_actions_addopen(actions, 0, devNullPath, Libc.O_RDONLY, 0);
                Libc.posix_spawn_file_actions_adddup2(actions, stdout, 1);
                Libc.posix_spawn_file_actions_adddup2(actions, stderr, 2);
                Libc.posix_spawn_file_actions_addchdir_np(actions, rootPath);

                Libc.posix_spawnattr_setflags(attributes,
                    Libc.POSIX_SPAWN_SETSID | Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF);
                Libc.sigemptyset(signals);
                Libc.posix_spawnattr_setsigmask(attributes, signals);
                // The runtime ignores SIGPIPE; an ignored signal survives exec, and a script piping into `head` would loop on EPIPE.
                Libc.sigfillset(signals);
                Libc.posix_spawnattr_setsigdefault(attributes, signals);

                int child;
                var error = Libc.posix_spawn(&child, file, actions, attributes, argv.Pointer, envp.Pointer);
                pid = child;
                return error;
            }
        }
        finally
        {
            Libc.posix_spawnattr_destroy(attributes);
            Libc.posix_spawn_file_actions_destroy(actions);
        }
    }

    private void Exit(ScriptExit exit)
    {
        Volatile.Write(ref _reaped, 1);
        _exit.TrySetResult(exit);
    }

    /// <summary>Without pidfds: waits on a thread of its own until the script can be reaped.</summary>
    private void WaitForExit() => Exit(ChildExits.Reap(Pid, wait: true)!.Value);

    /// <summary>Signals the script's whole process group (the script and everything it started that stayed in it).</summary>
    public void SignalGroup(int signal)
    {
        if (Libc.kill(-Pid, signal) != 0 && Volatile.Read(ref _reaped) == 0)
        {
            // ESRCH with the leader not yet reaped cannot happen; anything else is worth knowing.
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.ESRCH)
                throw new IOException($"kill(-{Pid}, {signal}): {Libc.Describe(errno)}");
        }
    }

}

/// <summary>posix_spawn failed: the script could not even start.</summary>
public sealed class ScriptStartException(string path, int errno)
    : Exception($"cannot start {path}: {Libc.Describe(errno)}")
{
    public int Errno { get; } = errno;
}
