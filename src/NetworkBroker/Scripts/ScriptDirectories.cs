using NetworkBroker.Logging;

namespace NetworkBroker.Scripts;

/// <summary>The <c>&lt;state&gt;.d</c> directories beside the configuration file.</summary>
public static class ScriptDirectories
{
    /// <summary>Created at start; any other networkd state (off.d, configuring.d, failed.d, ...) works when it exists.</summary>
    public static readonly IReadOnlyList<string> Standard =
        ["carrier", "configured", "degraded", "no-carrier", "routable", "manager", "routes"];

    public static string PathOf(string root, string state) => Path.Combine(root, state + ".d");

    /// <summary>Directories that are not a link state's: a networkd value naming one must not run it.</summary>
    public static readonly IReadOnlyList<string> NotLinkStates = ["manager", "routes"];

    /// <summary>Creates the standard directories that are missing. Failures are logged, not fatal: the daemon still runs what exists.</summary>
    public static void EnsureCreated(string root, Logger log)
    {
        foreach (var state in Standard)
        {
            var path = PathOf(root, state);
            if (Directory.Exists(path))
                continue;
            try
            {
                Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                log.Debug($"Created script directory {path}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Warn($"Cannot create script directory {path}: {Native.ErrorText.Of(e)}");
            }
        }
    }
}
