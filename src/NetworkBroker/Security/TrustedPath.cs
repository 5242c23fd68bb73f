namespace NetworkBroker.Security;

/// <summary>What lstat(2) says of one path, and readlink(2) of a symbolic link.</summary>
public readonly record struct PathEntry(PathKind Kind, UnixFileMode Mode, uint Uid, string? LinkTarget = null)
{
    public bool Sticky => (Mode & UnixFileMode.StickyBit) != 0;
}

public enum PathKind
{
    Regular,
    Directory,
    SymbolicLink,
    Other,
}

/// <summary>A path resolved to the file it names, with that file's facts, or why it cannot be trusted.</summary>
/// <param name="Resolved">The path with every symbolic link replaced by its target: what is executed.</param>
/// <param name="Target">The facts of the file at the end (null when it does not exist).</param>
/// <param name="Problem">Why something on the way could be changed by another user, or null.</param>
public readonly record struct ResolvedPath(string Resolved, PathEntry? Target, string? Problem);

/// <summary>
/// Resolves a path one component at a time, as the kernel would, and checks every directory and every
/// symbolic link on the way. A script is trusted only if nobody but root (or the daemon's own user) could
/// change what the path names between the check and exec: every symbolic link followed and every
/// directory passed through is owned by root or the daemon's user; no directory is writable by group or
/// others, except a root-owned sticky one (such as /tmp) on the way, where others cannot rename or remove
/// root's entries; and the directory that holds the file itself is never writable by others, sticky or not
/// (a hard link to any root-owned program could be dropped into it). This closes the race that let
/// networkd-dispatcher run a swapped-in script (CVE-2022-29800). Pure: the file system is a function.
/// </summary>
public static class TrustedPath
{
    /// <summary>Linux's own limit (MAXSYMLINKS): more means a loop.</summary>
    public const int MaxLinks = 40;

    private const UnixFileMode GroupOrOtherWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <param name="look">lstat and readlink of an absolute path; null when nothing is there.</param>
    public static ResolvedPath Resolve(string path, uint daemonUid, Func<string, PathEntry?> look)
    {
        if (!path.StartsWith('/'))
            return new ResolvedPath(path, null, "not an absolute path");
        var pending = new LinkedList<string>(Split(path));
        var current = "/";
        if (look(current) is not { Kind: PathKind.Directory } root)
            return new ResolvedPath(path, null, "the root directory cannot be examined");
        if (DirectoryProblem("/", root, daemonUid, holdsTarget: false) is { } rootProblem)
            return new ResolvedPath(path, null, rootProblem);
        var parent = root;
        var links = 0;

        while (pending.First is { } first)
        {
            var name = first.Value;
            pending.RemoveFirst();
            if (name == ".")
                continue;
            if (name == "..")
            {
                // Every directory above the current one was checked on the way down.
                current = Parent(current);
                parent = look(current) ?? parent;
                continue;
            }
            var candidate = current == "/" ? "/" + name : current + "/" + name;
            if (look(candidate) is not { } entry)
                return new ResolvedPath(candidate, null, null);

            if (entry.Kind == PathKind.SymbolicLink)
            {
                if (++links > MaxLinks)
                    return new ResolvedPath(candidate, null, "too many levels of symbolic links");
                if (OwnerProblem(entry.Uid, daemonUid) is { } owner)
                    return new ResolvedPath(candidate, null, $"symbolic link {candidate} is {owner}");
                var target = entry.LinkTarget ?? "";
                if (target.Length == 0)
                    return new ResolvedPath(candidate, null, $"symbolic link {candidate} has no target");
                foreach (var part in Split(target).Reverse())
                    pending.AddFirst(part);
                if (target.StartsWith('/'))
                {
                    current = "/";
                    parent = root;
                }
                continue;
            }

            if (pending.Count == 0)
            {
                // The file itself: the directory holding it must not let others add or swap entries at all.
                if (DirectoryProblem(current, parent, daemonUid, holdsTarget: true) is { } holder)
                    return new ResolvedPath(candidate, entry, holder);
                return new ResolvedPath(candidate, entry, null);
            }
            if (entry.Kind != PathKind.Directory)
                return new ResolvedPath(candidate, null, null); // ENOTDIR: as missing
            if (DirectoryProblem(candidate, entry, daemonUid, holdsTarget: false) is { } problem)
                return new ResolvedPath(candidate, null, problem);
            current = candidate;
            parent = entry;
        }
        // The path named a directory ("/", or ending in "." or ".."): its facts are the last directory's.
        return new ResolvedPath(current, parent, null);
    }

    /// <summary>
    /// <see cref="Resolve"/> of the entry <paramref name="name"/> of a directory a walk has just trusted: one look-up,
    /// not a walk from "/". <paramref name="directory"/> is that walk's <see cref="ResolvedPath.Resolved"/> (no link
    /// left in it) and <paramref name="facts"/> its facts. The answer is Resolve's for the whole path while nothing on
    /// the way changed, and only root or the daemon's user can change a trusted path. A link is resolved by a walk.
    /// </summary>
    public static ResolvedPath ResolveIn(string directory, PathEntry facts, string name, uint daemonUid, Func<string, PathEntry?> look)
    {
        var candidate = directory == "/" ? "/" + name : directory + "/" + name;
        if (name.Length == 0 || name.Contains('/') || name is "." or ".." || facts.Kind != PathKind.Directory)
            return Resolve(candidate, daemonUid, look);
        // As the walk would on its way through the directory.
        if (DirectoryProblem(directory, facts, daemonUid, holdsTarget: false) is { } passing)
            return new ResolvedPath(directory, null, passing);
        if (look(candidate) is not { } entry)
            return new ResolvedPath(candidate, null, null);
        if (entry.Kind == PathKind.SymbolicLink)
            return Resolve(candidate, daemonUid, look);
        return new ResolvedPath(candidate, entry, DirectoryProblem(directory, facts, daemonUid, holdsTarget: true));
    }

    /// <summary>
    /// A directory entries are to be made in (the state directories in a script root): walked as <see cref="Resolve"/>
    /// passes through it on the way to those entries, then held to the rule of the directory that holds a file, since
    /// it will hold them. The answer is what the walk to any entry made in it will say of the way there. Its
    /// <see cref="ResolvedPath.Target"/> is null when nothing, or no directory, is there; <see cref="ResolvedPath.Resolved"/>
    /// then names the first component that is missing.
    /// </summary>
    public static ResolvedPath ResolveHolder(string directory, uint daemonUid, Func<string, PathEntry?> look)
    {
        // A trailing "." makes the directory's own component one the walk passes through, not the file at the end.
        var through = Resolve(directory.TrimEnd('/') + "/.", daemonUid, look);
        if (through.Problem is not null || through.Target is not { Kind: PathKind.Directory } facts)
            return through with { Target = null };
        return through with { Problem = HolderProblem(through.Resolved, facts, daemonUid) };
    }

    /// <summary>Why the directory <paramref name="path"/>, with these facts, must not hold a file the daemon trusts, or null.</summary>
    public static string? HolderProblem(string path, PathEntry directory, uint daemonUid) =>
        DirectoryProblem(path, directory, daemonUid, holdsTarget: true);

    private static string? DirectoryProblem(string path, PathEntry directory, uint daemonUid, bool holdsTarget)
    {
        if (OwnerProblem(directory.Uid, daemonUid) is { } owner)
            return $"directory {path} is {owner}";
        if ((directory.Mode & GroupOrOtherWrite) == 0)
            return null;
        if (!holdsTarget && directory.Sticky && directory.Uid == 0)
            return null;
        return $"directory {path} is writable by group or others";
    }

    private static string? OwnerProblem(uint uid, uint daemonUid) =>
        uid == 0 || uid == daemonUid ? null : $"owned by uid {uid}, not by root or the daemon's user";

    private static IEnumerable<string> Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }
}
