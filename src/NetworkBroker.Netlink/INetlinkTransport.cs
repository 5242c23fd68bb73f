namespace NetworkBroker.Netlink;

/// <summary>
/// What <see cref="RtnetlinkClient"/> needs of a netlink socket: send one request, receive one datagram at a time
/// (-1 for ENOBUFS), give up after a timeout. The kernel's socket (<see cref="NetlinkSocket"/>) in the daemon; a
/// scripted fake in unit tests, so that sequence matching, DUMP_INTR retries and error replies are tested
/// without a kernel (the transport seam mdlayher/netlink's nltest gives Go code).
/// </summary>
public interface INetlinkTransport : IDisposable
{
    TimeSpan ReceiveTimeout { set; }

    void Send(ReadOnlySpan<byte> message);

    /// <summary>One datagram into <paramref name="buffer"/>: its length, or -1 when the kernel dropped messages (ENOBUFS).</summary>
    int Receive(Span<byte> buffer);
}
