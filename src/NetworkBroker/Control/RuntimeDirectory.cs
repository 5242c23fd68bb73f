using System.Runtime.InteropServices;
using NetworkBroker.Logging;
using NetworkBroker.Native;

namespace NetworkBroker.Control;

/// <summary>
/// The daemon's runtime directory: systemd's <c>RuntimeDirectory=</c> (passed as $RUNTIME_DIRECTORY),
/// else <c>/run/network-broker</c>. It holds the control socket and over-long variables spilled to files.
/// </summary>
public static class RuntimeDirectory
{
    public const string Default = "/run/network-broker";
    public const string ControlSocketName = "control";

    public static string Path
    {
        get
        {
            var runtime = Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY");
            return string.IsNullOrEmpty(runtime) ? Default : runtime.Split(':')[0];
        }
    }

    public static string ControlSocket => System.IO.Path.Combine(Path, ControlSocketName);

    /// <summary>
    /// Started as root (by hand; systemd makes it itself), creates the directory 0750 for the user the
    /// daemon is about to become, so that it can bind its socket there and nobody else can reach it.
    /// Failures are logged: the daemon runs without a control socket then.
    /// </summary>
    public static void Prepare(uint uid, uint gid, Logger log)
    {
        if (Libc.geteuid() != 0)
            return;
        var path = Path;
        try
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            if (Libc.chown(path, uid, gid) != 0)
                log.Warn($"Cannot hand {path} to uid {uid}: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warn($"Cannot create the runtime directory {path}: {e.Message}");
        }
    }
}
