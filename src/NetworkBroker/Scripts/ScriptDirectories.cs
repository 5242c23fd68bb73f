using NetworkBroker.Logging;
using NetworkBroker.Native;

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

    /// <summary>rwxr-xr-x: what the state directories, and a missing root above them, are made with.</summary>
    internal const UnixFileMode Mode0755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// Creates the standard directories that are missing in <paramref name="root"/>, as the daemon's user
    /// <paramref name="daemonUid"/> will judge them. Called as root, before any script is looked at: a root that another
    /// user could redirect (their link in a sticky directory such as /tmp, a directory of theirs on the way) would have
    /// root make directories where that user chose. So the root must first pass the walk its scripts will get
    /// (<see cref="ScriptFileSystem.ResolveHolder"/>), and the directories are made through the descriptor of the
    /// directory the walk trusted, never through a name that could be followed elsewhere meanwhile.
    /// A missing root is made, with its missing parents, in the nearest directory above it that exists, when that one
    /// passes the same check (<see cref="ScriptFileSystem.MakeHolder"/>): the daemon started without its package
    /// (/etc/network-broker missing) still gets its directories, and nobody's directory on the way still gets nothing.
    /// Failures are logged, not fatal: the daemon still runs what exists.
    /// </summary>
    public static void EnsureCreated(string root, uint daemonUid, Logger log)
    {
        var trusted = ScriptFileSystem.ResolveHolder(root, daemonUid);
        var problem = trusted.Problem;
        var fd = problem is not null ? -1
            : trusted.Target is null ? ScriptFileSystem.MakeHolder(root, daemonUid, out problem)
            : ScriptFileSystem.OpenHolder(trusted, daemonUid, out problem);
        if (fd < 0)
        {
            log.Warn($"Not creating the script directories in {root}: {problem}");
            return;
        }
        try
        {
            foreach (var state in Standard)
            {
                var name = state + ".d";
                var path = PathOf(root, state);
                var errno = ScriptFileSystem.MakeDirectoryIn(fd, name, Mode0755);
                if (errno == 0)
                    log.Debug($"Created script directory {path}");
                else if (errno != Libc.EEXIST)
                    log.Warn($"Cannot create script directory {path}: {Libc.Describe(errno)}");
                // A link in its place is left to the walk of each run, which follows only a trusted one.
                else if (ScriptFileSystem.TypeIn(fd, name) is { } type and not (Libc.S_IFDIR or Libc.S_IFLNK))
                    log.Warn($"Cannot create script directory {path}: {Libc.KindOf((ushort)type)} is in its place");
            }
        }
        finally
        {
            Libc.close(fd);
        }
    }
}
