using System.Runtime.InteropServices;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>
/// A network namespace made for one test (unique name, deleted on Dispose). Code that must live in it
/// (a netlink socket belongs to the namespace of the thread that created it) runs through <see cref="Enter{T}"/>.
/// </summary>
public sealed partial class NetworkNamespace : IDisposable
{
    private const int CLONE_NEWNET = 0x40000000;

    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <param name="prefix">Begins the namespace's name (a test's own word makes a left-over one easy to trace).</param>
    public static NetworkNamespace Create(string prefix = "nbt")
    {
        if (Environment.UserName != "root" && geteuid() != 0)
            throw new InvalidOperationException("integration tests need root (network namespaces): run them with `make test`");
        var ns = new NetworkNamespace($"{prefix}-{Guid.NewGuid().ToString("N")[..8]}");
        Shell.Run("ip", "netns", "add", ns.Name);
        ns.Ip("link set lo up");
        return ns;
    }

    /// <summary><c>ip -n NAME ARGS</c> (arguments split on spaces).</summary>
    public string Ip(string args) => Shell.Run("ip", ["-n", Name, .. args.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

    /// <summary><c>ip -n NAME -batch FILE</c>: many commands, one line each, in one process (as fast as the kernel takes them).</summary>
    public void IpBatch(string commands)
    {
        var file = Path.Combine(Path.GetTempPath(), $"{Name}-{Guid.NewGuid():N}.batch");
        File.WriteAllText(file, commands);
        try
        {
            Shell.Run("ip", "-n", Name, "-batch", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A shell command inside the namespace.</summary>
    public string Exec(string script) => Shell.Run("ip", "netns", "exec", Name, "/bin/sh", "-c", script);

    public int IfIndex(string link) => int.Parse(Exec($"cat /sys/class/net/{link}/ifindex").Trim());

    /// <summary>Runs <paramref name="create"/> on a fresh thread that has joined the namespace.</summary>
    public T Enter<T>(Func<T> create)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/run/netns/{Name}");
                if (setns((int)handle.DangerousGetHandle(), CLONE_NEWNET) != 0)
                    throw new InvalidOperationException($"setns({Name}): errno {Marshal.GetLastPInvokeError()}");
                result = create();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null)
            throw new InvalidOperationException($"in namespace {Name}: {error.Message}", error);
        return result;
    }

    public void Dispose()
    {
        try
        {
            Shell.Run("ip", "netns", "del", Name);
        }
        catch (InvalidOperationException)
        {
        }
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int setns(int fd, int type);

    [LibraryImport("libc.so.6")]
    private static partial uint geteuid();
}
