using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using NetworkBroker.Netlink;

namespace NetworkBroker.Tests.Netlink;

/// <summary>The request/reply logic of <see cref="RtnetlinkClient"/> through a scripted transport: no kernel needed.</summary>
public class RtnetlinkClientTests
{
    /// <summary>A transport that records each request and answers it with the datagrams the test scripted for it.</summary>
    private sealed class ScriptedNetlink : INetlinkTransport
    {
        private readonly Queue<Func<uint, IEnumerable<byte[]>>> _answers = new();
        private readonly Queue<byte[]> _datagrams = new();

        public List<(NetlinkMessageType Type, NetlinkFlags Flags, uint Sequence)> Requests { get; } = [];

        public TimeSpan ReceiveTimeout { get; set; }

        /// <summary>The next request is answered with these datagrams (given the request's sequence number).</summary>
        public void Answer(Func<uint, IEnumerable<byte[]>> datagrams) => _answers.Enqueue(datagrams);

        public void Send(ReadOnlySpan<byte> message)
        {
            var header = NetlinkHeader.Read(message);
            Requests.Add((header.Type, header.Flags, header.Sequence));
            if (_answers.TryDequeue(out var answer))
                foreach (var datagram in answer(header.Sequence))
                    _datagrams.Enqueue(datagram);
        }

        public int Receive(Span<byte> buffer)
        {
            if (!_datagrams.TryDequeue(out var datagram))
                throw new SocketException((int)SocketError.TimedOut);
            if (datagram.Length == 0)
                return -1; // ENOBUFS
            datagram.CopyTo(buffer);
            return datagram.Length;
        }

        public void Dispose()
        {
        }
    }

    private static byte[] Message(NetlinkMessageType type, NetlinkFlags flags, uint sequence, Action<NetlinkRequestWriter>? body = null)
    {
        var writer = new NetlinkRequestWriter(type, flags, sequence);
        body?.Invoke(writer);
        return writer.Finish().ToArray();
    }

    private static byte[] Link(uint sequence, int index, string name, NetlinkFlags flags = NetlinkFlags.Multi) =>
        Message(NetlinkMessageType.NewLink, flags, sequence, w =>
        {
            BinaryPrimitives.WriteInt32LittleEndian(w.Reserve(16)[4..], index);
            w.Attribute(3 /* IFLA_IFNAME */, Encoding.ASCII.GetBytes(name + "\0"));
        });

    private static byte[] Done(uint sequence, NetlinkFlags flags = NetlinkFlags.Multi, int error = 0) =>
        Message(NetlinkMessageType.Done, flags, sequence, w => BinaryPrimitives.WriteInt32LittleEndian(w.Reserve(4), error));

    /// <summary>struct nlmsgerr: -errno, the request's header, then NLMSGERR_ATTR_MSG with the kernel's words.</summary>
    private static byte[] Error(uint sequence, int errno, string? text = null) =>
        Message(NetlinkMessageType.Error, text is null ? NetlinkFlags.None : (NetlinkFlags)0x200 /* NLM_F_ACK_TLVS */, sequence, w =>
        {
            BinaryPrimitives.WriteInt32LittleEndian(w.Reserve(4 + NetlinkHeader.Size), -errno);
            if (text is not null)
                w.Attribute(1, Encoding.ASCII.GetBytes(text + "\0"));
        });

    private static byte[] Datagram(params byte[][] messages) => [.. messages.SelectMany(m => m)];

    [Fact]
    public void A_dump_gathers_every_part_and_ignores_late_replies_to_earlier_requests()
    {
        var netlink = new ScriptedNetlink();
        netlink.Answer(sequence =>
        [
            Datagram(Link(sequence - 1, 9, "stale"), Done(sequence - 1)), // a reply to a request that timed out
            Datagram(Link(sequence, 1, "lo"), Link(sequence, 2, "eth0")),
            [], // ENOBUFS: nothing of ours was lost on a request socket
            Datagram(Link(sequence, 3, "eth1"), Done(sequence)),
        ]);
        using var client = new RtnetlinkClient(netlink);
        Assert.Equal(["lo", "eth0", "eth1"], client.DumpLinks().Select(l => l.Name));
        var request = Assert.Single(netlink.Requests);
        Assert.Equal(NetlinkMessageType.GetLink, request.Type);
        Assert.True(request.Flags.HasFlag(NetlinkFlags.Dump));
    }

    [Fact]
    public void An_interrupted_dump_is_asked_again_and_its_partial_copy_thrown_away()
    {
        var netlink = new ScriptedNetlink();
        netlink.Answer(s => [Datagram(Link(s, 1, "lo"), Link(s, 2, "half", NetlinkFlags.Multi | NetlinkFlags.DumpInterrupted), Done(s))]);
        netlink.Answer(s => [Datagram(Link(s, 1, "lo"), Link(s, 2, "eth0"), Done(s))]);
        using var client = new RtnetlinkClient(netlink);
        Assert.Equal(["lo", "eth0"], client.DumpLinks().Select(l => l.Name));
        Assert.Equal(2, netlink.Requests.Count);
        Assert.NotEqual(netlink.Requests[0].Sequence, netlink.Requests[1].Sequence);
    }

    [Fact]
    public void A_dump_interrupted_every_time_is_an_error_after_ten_tries()
    {
        var netlink = new ScriptedNetlink();
        for (var i = 0; i < 10; i++)
            netlink.Answer(s => [Datagram(Link(s, 1, "lo", NetlinkFlags.Multi | NetlinkFlags.DumpInterrupted), Done(s))]);
        using var client = new RtnetlinkClient(netlink);
        var error = Assert.Throws<NetlinkException>(() => client.DumpLinks());
        Assert.Equal(Errno.EINTR, error.Errno);
        Assert.Equal(10, netlink.Requests.Count);
    }

    [Fact]
    public void An_error_reply_throws_with_the_errno_and_the_kernels_words_and_ENODEV_is_no_link()
    {
        var netlink = new ScriptedNetlink();
        netlink.Answer(s => [Error(s, Errno.EEXIST, "File exists in table 10003")]);
        netlink.Answer(s => [Error(s, Errno.ENODEV)]);
        netlink.Answer(s => [Datagram(Link(s, 7, "eth7", NetlinkFlags.None))]);
        netlink.Answer(s => [Error(s, 0)]);
        using var client = new RtnetlinkClient(netlink);

        var error = Assert.Throws<NetlinkException>(() => client.Execute(s => NetlinkRequestWriter.Change(NetlinkMessageType.NewRule, NetlinkFlags.None, s), "add rule"));
        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Contains("File exists in table 10003", error.Message);
        Assert.Null(client.GetLink(5));
        Assert.Equal("eth7", client.GetLink(7)!.Name);
        client.Execute(s => NetlinkRequestWriter.Change(NetlinkMessageType.DelRule, NetlinkFlags.None, s), "delete rule"); // the ACK
        Assert.Equal(4, netlink.Requests.Count);
    }

    [Fact]
    public void A_dump_that_ends_in_an_error_throws_and_a_silent_kernel_times_out()
    {
        var netlink = new ScriptedNetlink();
        netlink.Answer(s => [Datagram(Link(s, 1, "lo"), Done(s, error: -Errno.EINVAL))]);
        using var client = new RtnetlinkClient(netlink);
        Assert.Equal(Errno.EINVAL, Assert.Throws<NetlinkException>(() => client.DumpLinks()).Errno);
        Assert.Equal(SocketError.TimedOut, Assert.Throws<SocketException>(() => client.DumpLinks()).SocketErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(5), netlink.ReceiveTimeout);
    }
}
