using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NetworkBroker.Native;

namespace NetworkBroker.Security;

/// <summary>How a file another party writes may be opened.</summary>
public sealed record PeerFileRules
{
    /// <summary>1 MiB: far above any lease, state or configuration file, far below what would cost memory.</summary>
    public const int DefaultMaxBytes = 1 << 20;

    public int MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>
    /// false: the file itself must not be a symbolic link (O_NOFOLLOW). A writer of the directory could
    /// otherwise point it at a file only we may read, and have its content passed on or logged.
    /// </summary>
    public bool FollowLink { get; init; }

    /// <summary>true: no symbolic link anywhere on the path (openat2 RESOLVE_NO_SYMLINKS), for directories a peer owns.</summary>
    public bool NoLinksOnPath { get; init; }

    /// <summary>The owners accepted (null: any).</summary>
    public IReadOnlyCollection<uint>? Owners { get; init; }

    /// <summary>The owner's names for messages ("root or systemd-network").</summary>
    public string? OwnersText { get; init; }
}

/// <summary>Why a peer's file was not read, or <see cref="None"/>.</summary>
public enum PeerFileRefusal
{
    None,
    Missing,
    SymbolicLink,
    HardLink,
    NotRegular,
    TooLarge,
    Owner,
    Unreadable,
}

/// <summary>A peer's file: its bytes, or why it was refused (with a message that quotes nothing of it).</summary>
public readonly record struct PeerFileContent(byte[]? Bytes, PeerFileRefusal Refusal, string? Reason)
{
    public bool IsRead => Bytes is not null;

    public string Text => Bytes is null ? "" : Encoding.UTF8.GetString(Bytes);
}

/// <summary>
/// Reads files that someone other than the daemon writes: networkd's state and lease files, dhclient's
/// lease files, the configuration. Opened with O_NONBLOCK|O_CLOEXEC (and O_NOFOLLOW unless allowed), then
/// checked on the descriptor, not the name: a regular file only (a FIFO, socket, device or directory is
/// refused at once and never blocks a thread), of the expected owner, and no bigger than the cap. The size is
/// checked before anything is read, so a 5 MB file costs no memory.
/// </summary>
public static unsafe class PeerFile
{
    public static PeerFileContent Read(string path, PeerFileRules rules)
    {
        Core.LoopGuard.Blocking("read of a file", path);
        // A look at the name first, so that a device or a FIFO is never even opened (opening some devices acts).
        Libc.Statx stat;
        var lookFlags = rules.FollowLink ? 0 : Libc.AT_SYMLINK_NOFOLLOW;
        if (Libc.statx(Libc.AT_FDCWD, path, lookFlags, Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID | Libc.STATX_SIZE | Libc.STATX_NLINK, &stat) != 0)
            return OpenFailed(Marshal.GetLastPInvokeError());
        if (Check(stat, rules) is { } early)
            return early;

        var fd = Open(path, rules);
        if (fd < 0)
            return OpenFailed(Marshal.GetLastPInvokeError());
        try
        {
            // The descriptor is what counts: the name may have been swapped since the look.
            if (Libc.statx(fd, "", Libc.AT_EMPTY_PATH, Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID | Libc.STATX_SIZE | Libc.STATX_NLINK, &stat) != 0)
                return Refused(PeerFileRefusal.Unreadable, Libc.Describe(Marshal.GetLastPInvokeError()));
            if (Check(stat, rules) is { } refused)
                return refused;
            return ReadAll(fd, (int)stat.Size, rules.MaxBytes);
        }
        finally
        {
            Libc.close(fd);
        }
    }

    private static int Open(string path, PeerFileRules rules)
    {
        var flags = Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC | (rules.FollowLink ? 0 : Libc.O_NOFOLLOW);
        if (rules.NoLinksOnPath)
        {
            var how = new Libc.OpenHow { Flags = (ulong)flags, Resolve = Libc.RESOLVE_NO_SYMLINKS };
            var fd = Libc.openat2(Libc.AT_FDCWD, path, &how);
            if (fd >= 0 || Marshal.GetLastPInvokeError() != Libc.ENOSYS)
                return fd;
            // Before Linux 5.6: O_NOFOLLOW guards the last component, the owner check the rest.
        }
        return Libc.open(path, flags);
    }

    private static PeerFileContent? Check(in Libc.Statx stat, PeerFileRules rules)
    {
        if ((stat.Mode & Libc.S_IFMT) == Libc.S_IFLNK)
            return Refused(PeerFileRefusal.SymbolicLink, "a symbolic link, not followed here");
        if ((stat.Mode & Libc.S_IFMT) != Libc.S_IFREG)
            return Refused(PeerFileRefusal.NotRegular, $"{Libc.KindOf(stat.Mode)}, not a regular file");
        // A second name for the file is what a hard link to someone else's file (/etc/shadow) looks like where
        // fs.protected_hardlinks is off: a peer's own files have one.
        if (!rules.FollowLink && stat.Nlink > 1)
            return Refused(PeerFileRefusal.HardLink, string.Create(CultureInfo.InvariantCulture, $"has {stat.Nlink} hard links, not one"));
        if (rules.Owners is { } owners && !owners.Contains(stat.Uid))
            return Refused(PeerFileRefusal.Owner,
                string.Create(CultureInfo.InvariantCulture, $"owned by uid {stat.Uid}, not by {rules.OwnersText ?? "a trusted user"}"));
        if (stat.Size > (ulong)rules.MaxBytes)
            return TooLarge(stat.Size, rules.MaxBytes);
        return null;
    }

    private static PeerFileContent ReadAll(int fd, int size, int maxBytes)
    {
        // One byte more than the size seen: end-of-file is then certain. A file that grows meanwhile (a writer
        // appending) is read on in a bigger buffer, but never past the cap.
        var buffer = new byte[Math.Min(size, maxBytes) + 1];
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                if (buffer.Length > maxBytes)
                    return TooLarge((ulong)filled, maxBytes);
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, maxBytes + 1));
            }
            nint n;
            fixed (byte* start = buffer)
                n = Libc.read(fd, start + filled, buffer.Length - filled);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                    continue;
                return Refused(PeerFileRefusal.Unreadable, Libc.Describe(errno));
            }
            if (n == 0)
                return new PeerFileContent(filled == buffer.Length ? buffer : buffer.AsSpan(0, filled).ToArray(), PeerFileRefusal.None, null);
            filled += (int)n;
        }
    }

    private static PeerFileContent OpenFailed(int errno) => errno switch
    {
        Libc.ENOENT or Libc.ENOTDIR => Refused(PeerFileRefusal.Missing, "no such file"),
        Libc.ELOOP => Refused(PeerFileRefusal.SymbolicLink, "a symbolic link on its path, not followed here"),
        Libc.ENXIO => Refused(PeerFileRefusal.NotRegular, "not a regular file"),
        _ => Refused(PeerFileRefusal.Unreadable, Libc.Describe(errno)),
    };

    private static PeerFileContent TooLarge(ulong size, int maxBytes) => Refused(PeerFileRefusal.TooLarge,
        string.Create(CultureInfo.InvariantCulture, $"{size} bytes, over the limit of {maxBytes}"));

    private static PeerFileContent Refused(PeerFileRefusal refusal, string reason) => new(null, refusal, reason);
}
