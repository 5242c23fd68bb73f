using System.Runtime.InteropServices;

namespace NetworkBroker.Native;

/// <summary>The few libc calls .NET has no managed API for. glibc's soname, since "libc.so" is a linker script on Debian.</summary>
internal static unsafe partial class Libc
{
    private const string Library = "libc.so.6";

    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int EINTR = 4;
    public const int ESRCH = 3;
    public const int ECHILD = 10;
    public const int O_RDONLY = 0;
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const int AT_STATX_FORCE_SYNC = 0x2000;
    public const int ELOOP = 40;
    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int ENXIO = 6;
    public const int ENOSYS = 38;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    /// <summary>O_NOFOLLOW differs between architectures: 0400000 on x86-64, 0100000 on arm64.</summary>
    public static readonly int O_NOFOLLOW = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 0x8000 : 0x20000;
    /// <summary>openat2(2)'s RESOLVE_NO_SYMLINKS: no symbolic link anywhere on the path.</summary>
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;
    private const nint SYS_openat2 = 437; // the same number on every architecture (a syscall added after the table was unified)
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const short POSIX_SPAWN_SETSID = 0x80;
    public const uint STATX_TYPE = 0x1;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_UID = 0x8;

    /// <summary>Upper bounds of glibc's opaque types on every 64-bit ABI (x86-64: 80, 336 and 128 bytes).</summary>
    public const int FileActionsSize = 128;
    public const int SpawnAttrSize = 512;
    public const int SigSetSize = 128;

    /// <summary>Linux's struct statx: the same layout on every architecture, unlike struct stat.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(96)] public long CtimeSeconds;
        [FieldOffset(104)] public uint CtimeNanoseconds;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(120)] public uint MtimeNanoseconds;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    public const int S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFLNK = 0xA000, S_IFIFO = 0x1000, S_IFSOCK = 0xC000;
    public const uint STATX_SIZE = 0x200;
    public const uint STATX_NLINK = 0x4;
    public const uint STATX_MTIME = 0x40, STATX_CTIME = 0x80, STATX_INO = 0x100;

    /// <summary>Linux's struct open_how for openat2(2).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    /// <summary>openat(2): <paramref name="path"/> relative to the directory <paramref name="dirfd"/> (an O_PATH descriptor will do).</summary>
    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(int dirfd, string path, int flags);

    public const int O_WRONLY = 0x1, O_CREAT = 0x40, O_EXCL = 0x80, O_APPEND = 0x400;
    /// <summary>The same on x86-64 and arm64 (010000000).</summary>
    public const int O_PATH = 0x200000;
    /// <summary>O_DIRECTORY differs between architectures: 0200000 on x86-64, 040000 on arm64.</summary>
    public static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 ? 0x4000 : 0x10000;

    /// <summary>open(2) with the mode of a file it creates.</summary>
    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rename(string from, string to);

    /// <summary>mkdir(2) of <paramref name="path"/> relative to the directory <paramref name="dirfd"/> (an O_PATH descriptor will do); a link in its place is not followed (EEXIST).</summary>
    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, uint mode);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlink(string path);

    /// <summary>
    /// The start of a small file (sysfs, procfs) with open, read and close: the bytes read, or -1. File.ReadAllText
    /// took seven system calls (fstat, flock twice, a second read) for a sysfs attribute.
    /// </summary>
    public static int ReadStart(string path, Span<byte> buffer)
    {
        var fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        try
        {
            fixed (byte* start = buffer)
            {
                while (true)
                {
                    var count = read(fd, start, buffer.Length);
                    if (count >= 0)
                        return (int)count;
                    if (Marshal.GetLastPInvokeError() != EINTR)
                        return -1;
                }
            }
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>Writes all of <paramref name="bytes"/> (a short write is continued); 0, or the errno.</summary>
    public static int WriteAll(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* start = bytes)
        {
            for (var done = 0; done < bytes.Length;)
            {
                var written = write(fd, start + done, bytes.Length - done);
                if (written < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                        continue;
                    return errno;
                }
                done += (int)written;
            }
        }
        return 0;
    }

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int syscall(nint number, int dirfd, string path, OpenHow* how, nint size);

    /// <summary>openat2(2); -1 with errno ENOSYS on kernels before 5.6.</summary>
    public static int openat2(int dirfd, string path, OpenHow* how) => syscall(SYS_openat2, dirfd, path, how, sizeof(OpenHow));

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nint count);

    public const int CLOCK_MONOTONIC = 1;
    public const int TFD_CLOEXEC = 0x80000;
    public const int TFD_TIMER_ABSTIME = 1;

    /// <summary>struct itimerspec: the interval, then the first expiry (seconds and nanoseconds each).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimerSpec
    {
        public long IntervalSeconds;
        public long IntervalNanoseconds;
        public long ValueSeconds;
        public long ValueNanoseconds;
    }

    [LibraryImport(Library, SetLastError = true)]
    public static partial int timerfd_create(int clock, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int timerfd_settime(int fd, int flags, TimerSpec* value, TimerSpec* old);

    /// <summary>The kind of a statx mode, in the words of ls and find.</summary>
    public static string KindOf(ushort mode) => (mode & S_IFMT) switch
    {
        S_IFREG => "a regular file",
        S_IFDIR => "a directory",
        S_IFLNK => "a symbolic link",
        S_IFIFO => "a FIFO",
        S_IFSOCK => "a socket",
        0x2000 => "a character device",
        0x6000 => "a block device",
        _ => "not a regular file",
    };

    [LibraryImport(Library, SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* sv);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    public const int MSG_DONTWAIT = 0x40;

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    public const int P_PID = 1;
    public const int WNOHANG = 1;
    public const int WEXITED = 4;
    public const int WNOWAIT = 0x01000000;
    /// <summary>siginfo_t: 128 bytes everywhere; si_pid after si_signo, si_errno, si_code and the union's alignment.</summary>
    public const int SigInfoSize = 128;
    public static readonly int SigInfoPidOffset = IntPtr.Size == 8 ? 16 : 12;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int waitid(int idType, int id, byte* info, int options);

    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int eventfd(uint initialValue, int flags);

    private const nint SYS_pidfd_open = 434; // the same number on every architecture
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x1;
    /// <summary>struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture is Architecture.X64 ? 12 : 16;
    public static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture is Architecture.X64 ? 4 : 8;

    [LibraryImport(Library, SetLastError = true, EntryPoint = "syscall")]
    private static partial int syscall(nint number, int pid, uint flags);

    /// <summary>A file descriptor that becomes readable when the process <paramref name="pid"/> exits (Linux 5.3).</summary>
    public static int pidfd_open(int pid) => syscall(SYS_pidfd_open, pid, 0);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* epollEvent);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport(Library)]
    public static partial uint geteuid();

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, Statx* result);

    // posix_spawn and friends return the error number instead of setting errno.
    [LibraryImport(Library)]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_addopen(void* fileActions, int fd, byte* path, int flags, uint mode);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_addchdir_np(void* fileActions, byte* path);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_init(void* attributes);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_destroy(void* attributes);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setflags(void* attributes, short flags);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setsigmask(void* attributes, void* sigset);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setsigdefault(void* attributes, void* sigset);

    [LibraryImport(Library)]
    public static partial int sigemptyset(void* sigset);

    [LibraryImport(Library)]
    public static partial int sigfillset(void* sigset);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chown(string path, uint owner, uint group);

    /// <summary>A struct passwd (static storage), or 0 when there is no such user.</summary>
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint getpwnam(string name);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int execve(byte* path, byte** argv, byte** envp);

    public const int IN_NONBLOCK = 0x800, IN_CLOEXEC = 0x80000;
    public const uint IN_ATTRIB = 0x4, IN_MOVED_FROM = 0x40, IN_MOVED_TO = 0x80, IN_CREATE = 0x100,
        IN_DELETE = 0x200, IN_DELETE_SELF = 0x400, IN_MOVE_SELF = 0x800, IN_ONLYDIR = 0x1000000, IN_MASK_ADD = 0x20000000;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int inotify_init1(int flags);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int inotify_add_watch(int fd, string path, uint mask);

    public const short POLLIN = 0x1, POLLPRI = 0x2;

    /// <summary>struct pollfd: the same on every architecture.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Returned;
    }

    [LibraryImport(Library, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeout);

    /// <summary>fstatfs(2) into a buffer of at least 120 bytes (struct statfs on every 64-bit ABI; f_type, a long, first).</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial int fstatfs(int fd, byte* buffer);

    [LibraryImport(Library)]
    private static partial nint strerror(int errno);

    /// <summary>Ends the process at once: no finalizers, no flush of a stream that may block for ever.</summary>
    [LibraryImport(Library)]
    public static partial void _exit(int status);

    public static string ErrorName(int errno) => errno switch
    {
        1 => "EPERM", 2 => "ENOENT", 3 => "ESRCH", 4 => "EINTR", 5 => "EIO", 7 => "E2BIG", 8 => "ENOEXEC",
        9 => "EBADF", 10 => "ECHILD", 11 => "EAGAIN", 12 => "ENOMEM", 13 => "EACCES", 17 => "EEXIST",
        20 => "ENOTDIR", 21 => "EISDIR", 22 => "EINVAL", 24 => "EMFILE", 26 => "ETXTBSY", 28 => "ENOSPC",
        _ => $"errno {errno}",
    };

    public static string Describe(int errno) => $"{ErrorName(errno)}: {Marshal.PtrToStringUTF8(strerror(errno))}";
}
