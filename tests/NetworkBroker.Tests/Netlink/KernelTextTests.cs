using System.Text;
using NetworkBroker.Netlink;

namespace NetworkBroker.Tests.Netlink;

/// <summary>Link names are bytes: decoded without loss, given back exactly, shown printably.</summary>
public class KernelTextTests
{
    [Fact]
    public void A_name_that_is_not_UTF8_comes_back_byte_for_byte_and_shows_as_hex()
    {
        byte[] name = [0xff, 0xfe];
        var text = KernelText.Decode(name);
        Assert.Equal(name, KernelText.Encode(text));
        Assert.Equal(@"\xff\xfe", KernelText.Display(text));
        Assert.True(KernelText.HasRawBytes(text));
    }

    [Theory]
    [InlineData("eth0", "eth0")]
    [InlineData("wlan-été", "wlan-été")]
    [InlineData(@"a\b", @"a\x5cb")]
    [InlineData("a\u0001b", @"a\x01b")]
    public void Valid_names_stay_text_and_only_what_could_mislead_is_escaped(string name, string shown)
    {
        var text = KernelText.Decode(Encoding.UTF8.GetBytes(name));
        Assert.Equal(name, text);
        Assert.Equal(Encoding.UTF8.GetBytes(name), KernelText.Encode(text));
        Assert.Equal(shown, KernelText.Display(text));
    }

    [Fact]
    public void Random_bytes_round_trip_and_their_display_is_printable_and_distinct()
    {
        var random = new Random(5);
        var shown = new Dictionary<string, byte[]>();
        for (var round = 0; round < 20000; round++)
        {
            var bytes = new byte[random.Next(1, 16)];
            random.NextBytes(bytes);
            var text = KernelText.Decode(bytes);
            Assert.Equal(bytes, KernelText.Encode(text));
            var display = KernelText.Display(text);
            Assert.DoesNotContain(display, c => c < ' ' || c == '\x7f');
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetBytes(display); // valid text, no lone surrogate
            if (shown.TryGetValue(display, out var other))
                Assert.Equal(other, bytes);
            shown[display] = bytes;
        }
    }

    [Fact]
    public void A_message_keeps_its_own_text_and_shows_only_the_raw_bytes_of_a_name()
    {
        var name = KernelText.Decode([0x65, 0xff]);
        Assert.Equal(@"Renamed from e\xff (C:\path)", KernelText.ShowRawBytes($"Renamed from {name} (C:\\path)"));
        Assert.Same("plain", KernelText.ShowRawBytes("plain"));
    }
}
