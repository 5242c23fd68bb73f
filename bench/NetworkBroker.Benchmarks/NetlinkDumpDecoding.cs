using BenchmarkDotNet.Attributes;
using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Benchmarks;

/// <summary>
/// Decoding a large dump, built from messages a real kernel sent (the test fixtures) repeated to
/// <see cref="Messages"/> messages per dump. Divide the reported time and allocation by Messages for a per-message figure.
/// </summary>
[MemoryDiagnoser]
public class NetlinkDumpDecoding
{
    public const int Messages = 10_000;

    private byte[] _links = [];
    private byte[] _addresses = [];
    private byte[] _routes = [];
    private byte[] _notifications = [];

    [GlobalSetup]
    public void Setup()
    {
        _links = Repeat("dump-links.bin", NetlinkMessageType.NewLink);
        _addresses = Repeat("dump-addresses.bin", NetlinkMessageType.NewAddress);
        _routes = Repeat("dump-routes.bin", NetlinkMessageType.NewRoute);
        _notifications = Repeat("events.bin", null);
    }

    /// <summary>The fixture's messages of one type, repeated into one stream of <see cref="Messages"/> messages.</summary>
    private static byte[] Repeat(string fixture, NetlinkMessageType? type)
    {
        var source = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture));
        var messages = new List<byte[]>();
        var reader = new NetlinkMessageReader(source);
        while (reader.Next(out var message))
        {
            if (type is not null && message.Header.Type != type)
                continue;
            var bytes = new byte[NetlinkHeader.Align((int)message.Header.Length)];
            message.Header.Write(bytes);
            message.Payload.CopyTo(bytes.AsSpan(NetlinkHeader.Size));
            messages.Add(bytes);
        }
        using var stream = new MemoryStream();
        for (var i = 0; i < Messages; i++)
            stream.Write(messages[i % messages.Count]);
        return stream.ToArray();
    }

    [Benchmark]
    public int Links() => Decode(_links, static p => LinkMessage.Decode(p).Index);

    [Benchmark]
    public int Addresses() => Decode(_addresses, static p => AddressMessage.Decode(p).Index);

    [Benchmark]
    public int Routes() => Decode(_routes, static p => (int)RouteMessage.Decode(p).Table);

    [Benchmark]
    public int Notifications()
    {
        var count = 0;
        var reader = new NetlinkMessageReader(_notifications);
        while (reader.Next(out var message))
            if (KernelNotification.Decode(message) is not null)
                count++;
        return count;
    }

    private delegate int Decoder(ReadOnlySpan<byte> payload);

    private static int Decode(byte[] stream, Decoder decode)
    {
        var sum = 0;
        var reader = new NetlinkMessageReader(stream);
        while (reader.Next(out var message))
            sum += decode(message.Payload);
        return sum;
    }
}
