using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NetworkBroker.Netlink;

/// <summary>
/// An AF_NETLINK / NETLINK_ROUTE socket. .NET has no AddressFamily for netlink, so the socket and its
/// bind are made with libc and then wrapped in a <see cref="Socket"/> for send, receive and options.
/// A netlink socket belongs to the network namespace of the thread that created it.
/// </summary>
public sealed unsafe partial class NetlinkSocket : INetlinkTransport
{
    private const int AF_NETLINK = 16;
    private const int SOCK_RAW = 3;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int NETLINK_ROUTE = 0;
    private const int SOL_SOCKET = 1;
    private const int SO_RCVBUF = 8;
    private const int SO_RCVBUFFORCE = 33;
    private const int SOL_NETLINK = 270;
    private const int NETLINK_ADD_MEMBERSHIP = 1;
    private const int NETLINK_CAP_ACK = 10;
    private const int NETLINK_EXT_ACK = 11;
    private const int MSG_DONTWAIT = 0x40;
    private const int EAGAIN = 11;
    private const int EINTR = 4;
    private const int ENOBUFS = 105;
    private const short POLLIN = 0x1;

    /// <summary>What <see cref="ReceiveNow"/> returns when nothing is queued.</summary>
    public const int NothingQueued = -2;

    private readonly Socket _socket;

    private NetlinkSocket(Socket socket, uint portId)
    {
        _socket = socket;
        PortId = portId;
    }

    /// <summary>The port id the kernel assigned at bind (the "address" of this socket).</summary>
    public uint PortId { get; }

    /// <summary>
    /// Opens, binds and subscribes a socket.
    /// </summary>
    /// <param name="receiveBuffer">0 keeps the system default; otherwise SO_RCVBUFFORCE (CAP_NET_ADMIN), falling back to SO_RCVBUF.</param>
    public static NetlinkSocket Open(int receiveBuffer = 0, params ReadOnlySpan<RouteNetlinkGroup> groups)
    {
        var fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
            throw new NetlinkException(Marshal.GetLastPInvokeError(), "socket(AF_NETLINK)");

        // sockaddr_nl: family, pad, pid (0: the kernel assigns one), groups (0: memberships are added below).
        byte* address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(address, 2), AF_NETLINK);
        if (bind(fd, address, 12) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            close(fd);
            throw new NetlinkException(errno, "bind(AF_NETLINK)");
        }
        var length = 12;
        getsockname(fd, address, &length);
        var portId = BinaryPrimitives.ReadUInt32LittleEndian(new Span<byte>(address + 4, 4));

        var wrapped = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        var netlink = new NetlinkSocket(wrapped, portId);
        try
        {
            netlink.SetOption(SOL_NETLINK, NETLINK_CAP_ACK, 1);
            netlink.TrySetOption(SOL_NETLINK, NETLINK_EXT_ACK, 1);
            if (receiveBuffer > 0 && !netlink.TrySetOption(SOL_SOCKET, SO_RCVBUFFORCE, receiveBuffer))
                netlink.SetOption(SOL_SOCKET, SO_RCVBUF, receiveBuffer);
            foreach (var group in groups)
                netlink.SetOption(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, (int)group);
        }
        catch
        {
            netlink.Dispose();
            throw;
        }
        return netlink;
    }

    /// <summary>Only a blocking receive with a timeout returns on its own; the request client uses one, the monitor does not.</summary>
    public TimeSpan ReceiveTimeout
    {
        set => _socket.ReceiveTimeout = (int)value.TotalMilliseconds;
    }

    public void Send(ReadOnlySpan<byte> message) => _socket.Send(message);

    /// <summary>
    /// Sends to another netlink socket of this process (needs CAP_NET_ADMIN for NETLINK_ROUTE) without waiting:
    /// false when the receiver's queue is full. A blocking send would sleep until the receiver reads
    /// (netlink_attachskb), however long that takes.
    /// </summary>
    public bool TrySendTo(uint portId, ReadOnlySpan<byte> message)
    {
        byte* address = stackalloc byte[12];
        var span = new Span<byte>(address, 12);
        span.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(span, AF_NETLINK);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], portId);
        fixed (byte* data = message)
        {
            if (sendto((int)_socket.Handle, data, (nuint)message.Length, MSG_DONTWAIT, address, 12) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno == EAGAIN ? false : throw new NetlinkException(errno, "sendto(netlink)");
            }
        }
        return true;
    }

    /// <summary>
    /// Receives one datagram. Returns -1 when the kernel dropped messages because the receive buffer
    /// was full (ENOBUFS): not an error but a signal that the caller's view is stale and must be re-read.
    /// </summary>
    public int Receive(Span<byte> buffer)
    {
        try
        {
            return _socket.Receive(buffer);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
        {
            return -1;
        }
    }

    /// <summary>
    /// Receives one datagram if one is queued, without waiting: its length, <see cref="NothingQueued"/>, or -1 when the
    /// kernel dropped messages (ENOBUFS, as <see cref="Receive"/>). No exception for an empty queue: the monitor asks
    /// after every datagram.
    /// </summary>
    public int ReceiveNow(Span<byte> buffer)
    {
        fixed (byte* data = buffer)
        {
            while (true)
            {
                var received = recvfrom((int)_socket.Handle, data, (nuint)buffer.Length, MSG_DONTWAIT, null, null);
                if (received >= 0)
                    return (int)received;
                var errno = Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case EINTR:
                        continue;
                    case EAGAIN:
                        return NothingQueued;
                    case ENOBUFS:
                        return -1;
                    default:
                        throw new SocketException(errno);
                }
            }
        }
    }

    /// <summary>Waits, without a timeout, until something is queued (or an error such as an overrun is pending).</summary>
    public void WaitReadable()
    {
        while (Poll(-1) == 0)
        {
        }
    }

    /// <summary>Whether anything is queued now (a datagram, or a pending error such as an overrun); never waits.</summary>
    public bool HasQueued() => Poll(0) != 0;

    /// <summary>poll(2) for POLLIN: the events returned (POLLERR too), 0 on timeout or EINTR.</summary>
    private int Poll(int timeout)
    {
        PollFd entry = new() { Fd = (int)_socket.Handle, Events = POLLIN };
        var ready = poll(&entry, 1, timeout);
        if (ready > 0)
            return entry.ReturnedEvents;
        if (ready < 0 && Marshal.GetLastPInvokeError() is var errno and not EINTR)
            throw new SocketException(errno);
        return 0;
    }

    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    public int ReceiveBufferSize => _socket.ReceiveBufferSize;

    /// <summary>Discards every datagram queued now, without blocking; returns how many.</summary>
    public int DiscardQueued(Span<byte> scratch)
    {
        // FIONREAD is not implemented for netlink sockets: read without blocking until the queue is empty. An ENOBUFS
        // here is a further loss with datagrams still queued behind it (the kernel reports its error before its queue):
        // keep discarding, since the re-read that follows comes after that loss too. Stopping there left the datagrams
        // queued before the loss to be applied after the re-read, and the loss itself (a route's deletion) never seen.
        var discarded = 0;
        while (ReceiveNow(scratch) != NothingQueued)
            discarded++;
        return discarded;
    }

    private void SetOption(int level, int name, int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        _socket.SetRawSocketOption(level, name, bytes);
    }

    private bool TrySetOption(int level, int name, int value)
    {
        try
        {
            SetOption(level, name, value);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int bind(int fd, byte* address, int length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int getsockname(int fd, byte* address, int* length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial nint sendto(int fd, byte* buffer, nuint length, int flags, byte* address, int addressLength);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial nint recvfrom(int fd, byte* buffer, nuint length, int flags, byte* address, int* addressLength);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int close(int fd);
}
