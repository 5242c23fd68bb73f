using NetworkBroker.Netlink;
using NetworkBroker.Netlink.Messages;

namespace NetworkBroker.Tests.Netlink;

/// <summary>
/// Thousands of mutated and random messages through every decoder: the only failure allowed is our
/// typed <see cref="NetlinkParseException"/>, never another exception or a hang.
/// </summary>
public class DecoderFuzzTests
{
    private static readonly string[] Files = ["dump-links.bin", "dump-addresses.bin", "dump-routes.bin", "dump-rules.bin", "events.bin"];

    private static void DecodeEverything(ReadOnlySpan<byte> datagram)
    {
        try
        {
            var reader = new NetlinkMessageReader(datagram);
            while (reader.Next(out var message))
            {
                try { KernelNotification.Decode(message); } catch (NetlinkParseException) { }
                // Every decoder on every payload, whatever its type says.
                try { LinkMessage.Decode(message.Payload); } catch (NetlinkParseException) { }
                try { AddressMessage.Decode(message.Payload); } catch (NetlinkParseException) { }
                try { RouteMessage.Decode(message.Payload); } catch (NetlinkParseException) { }
                try { RuleMessage.Decode(message.Payload); } catch (NetlinkParseException) { }
            }
        }
        catch (NetlinkParseException)
        {
        }
    }

    [Fact]
    public void Mutated_kernel_messages_fail_only_with_a_parse_error()
    {
        var random = new Random(20261124);
        foreach (var file in Files)
        {
            var original = Fixtures.Bytes(file);
            for (var round = 0; round < 2000; round++)
            {
                var bytes = (byte[])original.Clone();
                for (var flips = random.Next(1, 8); flips > 0; flips--)
                {
                    var at = random.Next(bytes.Length);
                    bytes[at] = random.Next(4) switch
                    {
                        0 => (byte)random.Next(256),
                        1 => 0,
                        2 => 0xFF,
                        _ => (byte)(bytes[at] ^ (1 << random.Next(8))),
                    };
                }
                var cut = random.Next(3) == 0 ? random.Next(bytes.Length) : bytes.Length;
                DecodeEverything(bytes.AsSpan(0, cut));
            }
        }
    }

    [Fact]
    public void Random_bytes_fail_only_with_a_parse_error()
    {
        var random = new Random(7);
        for (var round = 0; round < 5000; round++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            // A plausible header half of the time, so that the attribute decoders are reached.
            if (bytes.Length >= 16 && random.Next(2) == 0)
            {
                BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), (uint)bytes.Length);
                BitConverter.TryWriteBytes(bytes.AsSpan(4, 2), (ushort)random.Next(16, 35));
            }
            DecodeEverything(bytes);
        }
    }

    [Fact]
    public void A_zero_length_attribute_is_a_parse_error_not_a_loop()
    {
        var payload = new byte[LinkMessage.HeaderSize + 8];
        // attribute header: length 0
        Assert.Throws<NetlinkParseException>(() => LinkMessage.Decode(payload));
    }

    [Fact]
    public void A_message_length_beyond_the_datagram_is_a_parse_error()
    {
        var bytes = new byte[20];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), 400u);
        Assert.Throws<NetlinkParseException>(() =>
        {
            var reader = new NetlinkMessageReader(bytes);
            reader.Next(out _);
        });
    }
}
