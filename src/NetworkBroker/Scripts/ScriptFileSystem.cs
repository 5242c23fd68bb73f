using System.Runtime.InteropServices;
using NetworkBroker.Native;
using NetworkBroker.Security;

namespace NetworkBroker.Scripts;

/// <summary>
/// Reads the facts <see cref="ScriptSelection"/> decides on: each entry resolved through
/// <see cref="TrustedPath"/> (lstat and readlink of every component), so the verdict is about the file
/// that will be executed and every directory and link that leads to it.
/// </summary>
internal static unsafe class ScriptFileSystem
{
    /// <summary>lstat(2) and, for a symbolic link, readlink(2); null when nothing is there.</summary>
    public static PathEntry? Look(string path)
    {
        Core.LoopGuard.Blocking("script path look-up", path);
        Libc.Statx stat;
        if (Libc.statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID, &stat) != 0)
            return null;
        var mode = (UnixFileMode)(stat.Mode & 0xFFF);
        switch (stat.Mode & Libc.S_IFMT)
        {
            case Libc.S_IFREG:
                return new PathEntry(PathKind.Regular, mode, stat.Uid);
            case Libc.S_IFDIR:
                return new PathEntry(PathKind.Directory, mode, stat.Uid);
            case Libc.S_IFLNK:
                string? target;
                try
                {
                    target = new FileInfo(path).LinkTarget;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return null;
                }
                return new PathEntry(PathKind.SymbolicLink, mode, stat.Uid, target);
            default:
                return new PathEntry(PathKind.Other, mode, stat.Uid);
        }
    }

    public static ResolvedPath Resolve(string path, uint daemonUid) => TrustedPath.Resolve(path, daemonUid, Look);

    /// <summary>A directory the state directories are to be made in, judged as the walk to them will judge it (<see cref="TrustedPath.ResolveHolder"/>).</summary>
    public static ResolvedPath ResolveHolder(string directory, uint daemonUid) => TrustedPath.ResolveHolder(directory, daemonUid, Look);

    /// <summary>
    /// An O_PATH descriptor of the directory <paramref name="trusted"/> a walk just trusted (<see cref="ResolveHolder"/>),
    /// or -1 and why not. No link is followed on the way (openat2's RESOLVE_NO_SYMLINKS; the walk left none in its
    /// <see cref="ResolvedPath.Resolved"/>), and the directory opened is held to the walk's rule again: what is made
    /// through the descriptor is made in the directory judged, whatever happens to the names meanwhile.
    /// </summary>
    public static int OpenHolder(ResolvedPath trusted, uint daemonUid, out string? problem)
    {
        var fd = OpenDirectoryIn(Libc.AT_FDCWD, trusted.Resolved);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            problem = errno == Libc.ELOOP ? $"a symbolic link came on the way to {trusted.Resolved} since it was checked"
                : $"{trusted.Resolved} cannot be opened: {Libc.Describe(errno)}";
            return -1;
        }
        return Kept(fd, trusted.Resolved, daemonUid, out problem);
    }

    /// <summary>
    /// An O_PATH descriptor of the directory <paramref name="path"/> (relative to <paramref name="directoryFd"/>, or
    /// AT_FDCWD), following no symbolic link on the way (openat2's RESOLVE_NO_SYMLINKS). Before Linux 5.6, O_NOFOLLOW
    /// guards the last component; the ones before it a walk trusted, and only root or the daemon's user can change those.
    /// </summary>
    private static int OpenDirectoryIn(int directoryFd, string path)
    {
        var flags = Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC;
        var how = new Libc.OpenHow { Flags = (ulong)flags, Resolve = Libc.RESOLVE_NO_SYMLINKS };
        var fd = Libc.openat2(directoryFd, path, &how);
        if (fd < 0 && Marshal.GetLastPInvokeError() == Libc.ENOSYS)
            fd = Libc.openat(directoryFd, path, flags | Libc.O_NOFOLLOW);
        return fd;
    }

    /// <summary><paramref name="fd"/> when the directory it opened passes the holder's rule (<see cref="TrustedPath.HolderProblem"/>); else closed, -1 and why.</summary>
    private static int Kept(int fd, string path, uint daemonUid, out string? problem)
    {
        Libc.Statx stat;
        problem = Libc.statx(fd, "", Libc.AT_EMPTY_PATH, Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID, &stat) != 0
            ? $"{path} cannot be examined: {Libc.Describe(Marshal.GetLastPInvokeError())}"
            : TrustedPath.HolderProblem(path, new PathEntry(PathKind.Directory, (UnixFileMode)(stat.Mode & 0xFFF), stat.Uid), daemonUid);
        if (problem is null)
            return fd;
        Libc.close(fd);
        return -1;
    }

    /// <summary>
    /// The missing directory <paramref name="directory"/> made, with the missing directories above it, in the nearest one
    /// that exists, which must pass <see cref="ResolveHolder"/>; an O_PATH descriptor of it, or -1 and why not. Each is
    /// made through the descriptor of the one above (mkdirat, 0755, root's) and opened with no link followed, then held
    /// to the holder's rule again (one another user made there first is refused).
    /// </summary>
    public static int MakeHolder(string directory, uint daemonUid, out string? problem)
    {
        var missing = new Stack<string>();
        var existing = Path.GetFullPath(directory).TrimEnd('/');
        while (existing.Length > 0 && !Path.Exists(existing))
        {
            missing.Push(Path.GetFileName(existing));
            existing = Path.GetDirectoryName(existing) ?? "";
        }
        var holder = ResolveHolder(existing.Length == 0 ? "/" : existing, daemonUid);
        if (holder.Problem is not null || holder.Target is null)
        {
            problem = holder.Problem ?? $"{holder.Resolved} does not exist or is not a directory";
            return -1;
        }
        var fd = OpenHolder(holder, daemonUid, out problem);
        var path = holder.Resolved;
        foreach (var name in missing)
        {
            if (fd < 0)
                return -1;
            path = path == "/" ? "/" + name : path + "/" + name;
            var errno = MakeDirectoryIn(fd, name, ScriptDirectories.Mode0755);
            var next = errno is 0 or Libc.EEXIST ? OpenDirectoryIn(fd, name) : -1;
            if (next < 0)
                errno = errno is 0 or Libc.EEXIST ? Marshal.GetLastPInvokeError() : errno;
            Libc.close(fd);
            if (next < 0)
            {
                problem = $"cannot create {path}: {Libc.Describe(errno)}";
                return -1;
            }
            fd = Kept(next, path, daemonUid, out problem);
        }
        return fd;
    }

    /// <summary>mkdirat(2) of <paramref name="name"/> in the directory <paramref name="directoryFd"/>: 0, or the errno (EEXIST: something is there, a link not followed).</summary>
    public static int MakeDirectoryIn(int directoryFd, string name, UnixFileMode mode) =>
        Libc.mkdirat(directoryFd, name, (uint)mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The file type bits (S_IFMT) of the entry <paramref name="name"/> of the directory <paramref name="directoryFd"/>, a link not followed; null when it cannot be examined.</summary>
    public static int? TypeIn(int directoryFd, string name)
    {
        Libc.Statx stat;
        return Libc.statx(directoryFd, name, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE, &stat) == 0 ? stat.Mode & Libc.S_IFMT : null;
    }

    /// <summary>
    /// Why <paramref name="path"/> (a file or a directory) could be changed by someone other than root or
    /// <paramref name="trustedUid"/>, by the rule scripts get: every directory and link on the way, and the file itself.
    /// Null when it is trusted or missing. For what decides what the daemon runs: its configuration.
    /// </summary>
    public static string? Untrusted(string path, uint trustedUid)
    {
        var resolved = Resolve(path, trustedUid);
        if (resolved.Problem is { } problem)
            return problem;
        if (resolved.Target is not { } target)
            return null;
        return ScriptSelection.UnsafeOwnership(target.Mode, target.Uid, trustedUid) is { } why ? $"{resolved.Resolved} is {why}" : null;
    }

    /// <summary>
    /// The facts of one script (or directory), resolved as it would be executed. Nothing there is found with one
    /// look-up of the whole path (<see cref="LookUp"/>), not a walk: there is nothing to trust in what is missing.
    /// </summary>
    public static ScriptFileFacts Facts(string path, uint daemonUid) => Facts(path, daemonUid, LookUp(path));

    /// <summary>The facts of <paramref name="path"/>, whose <see cref="LookUp"/> was just made.</summary>
    public static ScriptFileFacts Facts(string path, uint daemonUid, PathLookUp lookUp) =>
        lookUp.Missing ? new ScriptFileFacts(Path.GetFileName(path), ScriptFileKind.Missing, 0, 0, path)
            : FactsOf(Path.GetFileName(path), Resolve(path, daemonUid));

    /// <summary>The facts of the entry <paramref name="name"/> of a directory whose <see cref="Facts"/> were just trusted (<see cref="TrustedPath.ResolveIn"/>).</summary>
    public static ScriptFileFacts FactsIn(ScriptFileFacts directory, string name, uint daemonUid) =>
        FactsOf(name, TrustedPath.ResolveIn(directory.Resolved!, new PathEntry(PathKind.Directory, directory.Mode, directory.Uid), name, daemonUid, Look));

    private static ScriptFileFacts FactsOf(string name, ResolvedPath resolved)
    {
        var kind = resolved.Target?.Kind switch
        {
            null => ScriptFileKind.Missing,
            PathKind.Regular => ScriptFileKind.Regular,
            PathKind.Directory => ScriptFileKind.Directory,
            _ => ScriptFileKind.Other,
        };
        return new ScriptFileFacts(name, kind, resolved.Target?.Mode ?? 0, resolved.Target?.Uid ?? 0, resolved.Resolved, resolved.Problem);
    }

    /// <summary>
    /// One look-up of <paramref name="path"/> that follows no symbolic link anywhere on it (openat2's
    /// RESOLVE_NO_SYMLINKS): the kernel then touches only the path's own components, as the walk would, and never a
    /// place a link leads to (another user's FUSE mount could hang the caller). It tells whether nothing is there
    /// and, when <paramref name="stamp"/> and a directory is there, its <see cref="DirectoryStamp"/>. A link on the
    /// way, or no openat2: neither known, and the walk decides.
    /// </summary>
    public static PathLookUp LookUp(string path, bool stamp = false)
    {
        Core.LoopGuard.Blocking("script path look-up", path);
        var how = new Libc.OpenHow { Flags = (ulong)(Libc.O_PATH | Libc.O_CLOEXEC), Resolve = Libc.RESOLVE_NO_SYMLINKS };
        var fd = Libc.openat2(Libc.AT_FDCWD, path, &how);
        if (fd < 0)
            return new PathLookUp(Marshal.GetLastPInvokeError() is Libc.ENOENT or Libc.ENOTDIR, null);
        try
        {
            return new PathLookUp(false, stamp ? StampOf(fd) : null);
        }
        finally
        {
            Libc.close(fd);
        }
    }

    private static DirectoryStamp? StampOf(int fd)
    {
        const uint wanted = Libc.STATX_TYPE | Libc.STATX_INO | Libc.STATX_CTIME | Libc.STATX_MTIME;
        Libc.Statx stat;
        // AT_STATX_FORCE_SYNC: a network file system asks its server, not its attribute cache (an O_PATH open does
        // not revalidate it, as a listing's open does); a local one has nothing to sync.
        if (Libc.statx(fd, "", Libc.AT_EMPTY_PATH | Libc.AT_SYMLINK_NOFOLLOW | Libc.AT_STATX_FORCE_SYNC, wanted, &stat) != 0
            || (stat.Mask & wanted) != wanted || (stat.Mode & Libc.S_IFMT) != Libc.S_IFDIR)
            return null;
        return new DirectoryStamp(stat.DevMajor, stat.DevMinor, stat.Ino, stat.CtimeSeconds, stat.CtimeNanoseconds,
            stat.MtimeSeconds, stat.MtimeNanoseconds);
    }

    /// <summary>Whether the directory at <paramref name="path"/> lists no entry at all; false when it cannot be listed.</summary>
    public static bool HasNoEntry(string path)
    {
        Core.LoopGuard.Blocking("script directory listing", path);
        try
        {
            return !Directory.EnumerateFileSystemEntries(path).Any();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The entries of a directory, with their facts (<see cref="FactsIn"/> when its own facts are given, trusted).</summary>
    public static IEnumerable<ScriptFileFacts> List(string directory, uint daemonUid, ScriptFileFacts? trusted = null)
    {
        Core.LoopGuard.Blocking("script directory listing", directory);
        foreach (var path in Directory.EnumerateFileSystemEntries(trusted?.Resolved ?? directory))
        {
            var name = Path.GetFileName(path);
            yield return ScriptSelection.IsLeftover(name) ? new ScriptFileFacts(name, ScriptFileKind.Other, 0, 0)
                : trusted is { } known ? FactsIn(known, name, daemonUid)
                : FactsOf(name, Resolve(Path.Combine(directory, name), daemonUid));
        }
    }
}

/// <summary>What <see cref="ScriptFileSystem.LookUp"/> found: nothing at the path, or a directory's stamp (when asked for one).</summary>
internal readonly record struct PathLookUp(bool Missing, DirectoryStamp? Stamp);
