using System.Buffers.Binary;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Netlink;

/// <summary>
/// Requests to the kernel over one socket: dumps and single requests, each matched to its reply by
/// sequence number. One request at a time (calls are serialised); blocking, with a reply timeout.
/// </summary>
public sealed class RtnetlinkClient : IDisposable
{
    private const int MaxDumpAttempts = 10;
    private const ushort NLMSGERR_ATTR_MSG = 1;

    private readonly INetlinkTransport _socket;
    private readonly Lock _gate = new();
    // Pinned while a blocking receive waits for the kernel's answer: kept on the pinned object heap (NetlinkMonitor's reason).
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);
    private uint _sequence = (uint)Environment.TickCount;

    public RtnetlinkClient(INetlinkTransport socket)
    {
        _socket = socket;
        _socket.ReceiveTimeout = TimeSpan.FromSeconds(5);
    }

    public static RtnetlinkClient Open() => new(NetlinkSocket.Open());

    public IReadOnlyList<LinkMessage> DumpLinks() =>
        Dump(s => LinkMessage.Get(s), NetlinkMessageType.NewLink, static p => LinkMessage.Decode(p));

    public IReadOnlyList<AddressMessage> DumpAddresses() =>
        Dump(s => AddressMessage.Get(s), NetlinkMessageType.NewAddress, static p => AddressMessage.Decode(p));

    public IReadOnlyList<RouteMessage> DumpRoutes() =>
        Dump(s => RouteMessage.Get(s), NetlinkMessageType.NewRoute, static p => RouteMessage.Decode(p));

    public IReadOnlyList<RuleMessage> DumpRules() =>
        Dump(s => RuleMessage.Get(s), NetlinkMessageType.NewRule, static p => RuleMessage.Decode(p));

    /// <summary>One link by ifindex, or null when the kernel has no such link (ENODEV).</summary>
    public LinkMessage? GetLink(int index)
    {
        LinkMessage? found = null;
        try
        {
            Exchange(s => LinkMessage.Get(s, index), (type, payload) =>
            {
                if (type == NetlinkMessageType.NewLink)
                    found = LinkMessage.Decode(payload);
            }, "RTM_GETLINK");
        }
        catch (NetlinkException e) when (e.Errno == Errno.ENODEV)
        {
            return null;
        }
        return found;
    }

    /// <summary>Sends a request built with NLM_F_ACK and waits for its acknowledgement; an error reply throws <see cref="NetlinkException"/>.</summary>
    public void Execute(Func<uint, NetlinkRequestWriter> request, string description) =>
        Exchange(request, static (_, _) => { }, description);

    private delegate T Decoder<out T>(ReadOnlySpan<byte> payload);

    private List<T> Dump<T>(Func<uint, NetlinkRequestWriter> request, NetlinkMessageType type, Decoder<T> decode)
    {
        for (var attempt = 1; ; attempt++)
        {
            var items = new List<T>();
            var interrupted = Exchange(request, (messageType, payload) =>
            {
                if (messageType == type)
                    items.Add(decode(payload));
            }, $"dump {type}");
            // NLM_F_DUMP_INTR: the table changed while it was being dumped; the copy may be inconsistent.
            if (!interrupted)
                return items;
            if (attempt == MaxDumpAttempts)
                throw new NetlinkException(Errno.EINTR, $"dump {type}", $"interrupted {attempt} times in a row");
        }
    }

    private delegate void ReplyHandler(NetlinkMessageType type, ReadOnlySpan<byte> payload);

    /// <returns>Whether the reply was marked NLM_F_DUMP_INTR.</returns>
    private bool Exchange(Func<uint, NetlinkRequestWriter> build, ReplyHandler handle, string description)
    {
        lock (_gate)
        {
            var sequence = ++_sequence;
            var request = build(sequence);
            var multipart = request.Flags.HasFlag(NetlinkFlags.Dump);
            _socket.Send(request.Finish().Span);

            var interrupted = false;
            while (true)
            {
                var received = _socket.Receive(_buffer);
                if (received < 0)
                    continue; // ENOBUFS on a request socket: no multicast subscriptions, so nothing of ours was dropped.
                var reader = new NetlinkMessageReader(_buffer.AsSpan(0, received));
                while (reader.Next(out var message))
                {
                    if (message.Header.Sequence != sequence)
                        continue; // a late reply to an earlier request that timed out
                    interrupted |= message.Header.Flags.HasFlag(NetlinkFlags.DumpInterrupted);
                    switch (message.Header.Type)
                    {
                        case NetlinkMessageType.Error:
                            var errno = ReadError(message.Payload, out var detail);
                            if (errno != 0)
                                throw new NetlinkException(errno, description, detail);
                            return interrupted; // the ACK
                        case NetlinkMessageType.Done:
                            if (message.Payload.Length >= 4 && BinaryPrimitives.ReadInt32LittleEndian(message.Payload) is < 0 and var error)
                                throw new NetlinkException(-error, description);
                            return interrupted;
                        case NetlinkMessageType.Noop or NetlinkMessageType.Overrun:
                            break;
                        default:
                            handle(message.Header.Type, message.Payload);
                            if (!multipart && !request.Flags.HasFlag(NetlinkFlags.Ack))
                                return interrupted;
                            break;
                    }
                }
            }
        }
    }

    /// <summary>struct nlmsgerr: the negative errno, the request's header, then (with NETLINK_EXT_ACK) TLVs such as the kernel's message.</summary>
    private static int ReadError(ReadOnlySpan<byte> payload, out string? detail)
    {
        detail = null;
        if (payload.Length < 4)
            throw NetlinkParseException.TooShort("nlmsgerr", 4, payload.Length);
        var errno = -BinaryPrimitives.ReadInt32LittleEndian(payload);
        if (payload.Length > 4 + NetlinkHeader.Size)
        {
            var attributes = new NetlinkAttributeReader(payload[(4 + NetlinkHeader.Size)..]);
            while (attributes.Next())
                if (attributes.Type == NLMSGERR_ATTR_MSG)
                    detail = attributes.String();
        }
        return errno;
    }

    public void Dispose() => _socket.Dispose();
}
