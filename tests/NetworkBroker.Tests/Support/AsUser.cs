using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NetworkBroker.Tests.Support;

/// <summary>
/// Connects to a Unix socket as another user from inside the test process. Credentials are per thread on
/// Linux and SO_PEERCRED records the connecting thread's effective uid, so one dedicated thread switches its
/// own euid with the raw syscall (glibc's setresuid would switch every thread), connects, and switches back.
/// </summary>
public static partial class AsUser
{
    public const uint Nobody = 65534;

    /// <summary>
    /// The user the tests' daemons drop to: Debian's daemon (uid 1), in every base system. Not nobody, which the daemon
    /// refuses (it would share what it trusts with every process running as nobody), and not the attacker's.
    /// </summary>
    public const uint Daemon = 1;
    public const string DaemonName = "daemon";

    public static Socket Connect(string path, uint uid = Nobody)
    {
        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            var number = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 147 : 117; // SYS_setresuid
            if (syscall(number, -1, (int)uid, -1) != 0)
            {
                failure = new InvalidOperationException($"setresuid: errno {Marshal.GetLastPInvokeError()}");
                return;
            }
            try
            {
                socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                socket.Connect(new UnixDomainSocketEndPoint(path));
            }
            catch (Exception e)
            {
                socket?.Dispose();
                socket = null;
                failure = e;
            }
            finally
            {
                if (syscall(number, -1, 0, -1) != 0)
                    Environment.FailFast("could not return to euid 0");
            }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw failure!;
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int syscall(int number, int ruid, int euid, int suid);
}
