namespace NetworkBroker.Netlink;

/// <summary>A message from the kernel (or a fuzzer) that does not decode: the one failure the decoders allow.</summary>
public sealed class NetlinkParseException(string message) : Exception(message)
{
    internal static NetlinkParseException TooShort(string what, int needed, int had) =>
        new($"{what}: needs {needed} bytes, has {had}");
}

/// <summary>An error reply from the kernel to a request, carrying the errno.</summary>
public sealed class NetlinkException(int errno, string request, string? detail = null)
    : Exception($"{request}: {Netlink.Errno.Name(errno)} ({Netlink.Errno.Describe(errno)}){(detail is null ? "" : ": " + detail)}")
{
    public int Errno { get; } = errno;

    public string ErrnoName => Netlink.Errno.Name(Errno);
}

/// <summary>Names for the errno values netlink replies carry.</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ERANGE = 34;
    public const int EOPNOTSUPP = 95;
    public const int EADDRNOTAVAIL = 99;
    public const int ENETDOWN = 100;
    public const int ENETUNREACH = 101;
    public const int ENOBUFS = 105;
    public const int EHOSTUNREACH = 113;

    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        EINTR => "EINTR",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        ENODEV => "ENODEV",
        EINVAL => "EINVAL",
        ENOSPC => "ENOSPC",
        ERANGE => "ERANGE",
        EOPNOTSUPP => "EOPNOTSUPP",
        EADDRNOTAVAIL => "EADDRNOTAVAIL",
        ENETDOWN => "ENETDOWN",
        ENETUNREACH => "ENETUNREACH",
        ENOBUFS => "ENOBUFS",
        EHOSTUNREACH => "EHOSTUNREACH",
        _ => $"errno {errno}",
    };

    public static string Describe(int errno) => errno switch
    {
        EPERM => "operation not permitted",
        ENOENT => "no such file or directory",
        ESRCH => "no such process or object",
        EEXIST => "already exists",
        ENODEV => "no such device",
        EINVAL => "invalid argument",
        EOPNOTSUPP => "operation not supported",
        EADDRNOTAVAIL => "address not available",
        ENETDOWN => "network is down",
        ENETUNREACH => "network is unreachable",
        ENOBUFS => "no buffer space available",
        EHOSTUNREACH => "no route to host",
        _ => "error",
    };
}
