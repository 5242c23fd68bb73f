namespace NetworkBroker.Scripts;

/// <summary>What the file system says about one entry of a script directory (symbolic links followed).</summary>
/// <param name="Resolved">The file that would be executed (every symbolic link replaced by its target).</param>
/// <param name="PathProblem">Why a directory or link on the way to it cannot be trusted (<see cref="Security.TrustedPath"/>).</param>
public readonly record struct ScriptFileFacts(string Name, ScriptFileKind Kind, UnixFileMode Mode, uint Uid,
    string? Resolved = null, string? PathProblem = null);

public enum ScriptFileKind
{
    Regular,
    Directory,
    Other,
    /// <summary>A dangling symbolic link, or an entry that vanished or could not be examined.</summary>
    Missing,
}

/// <summary>
/// Which entries of a script directory may run. Pure: the decision depends only on the facts
/// given, so every rule is unit-tested without touching the disk. Like run-parts(8) and
/// networkd-dispatcher, a script must be a regular executable file that only root (or the
/// daemon's own user) can change: anything another user could write would run with our capabilities.
/// </summary>
public static class ScriptSelection
{
    private const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private const UnixFileMode GroupOrOtherWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    public static string? SkipReason(ScriptFileFacts entry, uint daemonUid)
    {
        if (IsLeftover(entry.Name))
            return "an editor or package manager leftover";
        if (entry.PathProblem is { } path)
            return path;
        return entry.Kind switch
        {
            ScriptFileKind.Missing => "vanished or is a dangling symbolic link",
            ScriptFileKind.Directory => "a directory",
            ScriptFileKind.Other => "not a regular file",
            _ when (entry.Mode & AnyExecute) == 0 => "not executable",
            _ => UnsafeOwnership(entry.Mode, entry.Uid, daemonUid),
        };
    }

    /// <summary>What a link to /dev/null is: a script of a later directory masked (systemd's convention).</summary>
    public const string Masked = "/dev/null";

    public static bool IsMasked(ScriptFileFacts entry) => entry.Resolved == Masked;

    /// <summary>
    /// The entries of one state's directories, earlier directories first (ScriptDirectories=): a name in an
    /// earlier directory overrides the same name in a later one, and the winners come in byte-wise order of
    /// their names (run-parts' order in the C locale). A winner that links to /dev/null masks the name: it and what it overrides never run.
    /// </summary>
    public static IReadOnlyList<(string Directory, ScriptFileFacts Facts)> Merge(IEnumerable<(string Directory, IEnumerable<ScriptFileFacts> Entries)> directories)
    {
        var chosen = new SortedDictionary<string, (string, ScriptFileFacts)>(StringComparer.Ordinal);
        foreach (var (directory, entries) in directories)
            foreach (var entry in entries)
                chosen.TryAdd(entry.Name, (directory, entry));
        return [.. chosen.Values];
    }

    /// <summary>Why a file or directory another user could change must not be trusted, or null: the rule for scripts and their directories alike.</summary>
    public static string? UnsafeOwnership(UnixFileMode mode, uint uid, uint daemonUid) =>
        uid != 0 && uid != daemonUid ? $"owned by uid {uid}, not by root or the daemon's user"
        : (mode & GroupOrOtherWrite) != 0 ? "writable by group or others"
        : null;

    /// <summary>Dotfiles, editor backups and swap files, and the files dpkg and rpm leave beside a changed conffile.</summary>
    public static bool IsLeftover(string name) =>
        name.StartsWith('.') || name.EndsWith('~') || name.EndsWith(".swp", StringComparison.Ordinal) ||
        name.EndsWith(".swo", StringComparison.Ordinal) || name.Contains(".dpkg-", StringComparison.Ordinal) ||
        name.EndsWith(".rpmnew", StringComparison.Ordinal) || name.EndsWith(".rpmsave", StringComparison.Ordinal) ||
        name.EndsWith(".rpmorig", StringComparison.Ordinal) || name.EndsWith(".ucf-old", StringComparison.Ordinal) ||
        name.EndsWith(".ucf-new", StringComparison.Ordinal) || name.EndsWith(".ucf-dist", StringComparison.Ordinal);
}
