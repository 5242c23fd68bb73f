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
    [InlineData("a\tb\u007f", @"a\x09b\x7f")]
    [InlineData("a\u009bb", @"a\xc2\x9bb")]
    [InlineData("eth0\u202e1pg", @"eth0\xe2\x80\xae1pg")]
    [InlineData("\u2066eth1\u2069", @"\xe2\x81\xa6eth1\xe2\x81\xa9")]
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
            Assert.DoesNotContain(display, c => c < ' ' || c is >= '\x7f' and <= '\x9f' || KernelText.IsLayoutControl(c));
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetBytes(display); // valid text, no lone surrogate
            if (shown.TryGetValue(display, out var other))
                Assert.Equal(other, bytes);
            shown[display] = bytes;
        }
    }

    [Fact]
    public void A_message_keeps_its_own_text_and_backslashes_and_shows_a_names_raw_bytes()
    {
        var name = KernelText.Decode([0x65, 0xff]);
        Assert.Equal(@"Renamed from e\xff (C:\path)", KernelText.DisplayMessage($"Renamed from {name} (C:\\path)"));
        Assert.Same("plain, été, \U0001F600 and C:\\path", KernelText.DisplayMessage("plain, été, \U0001F600 and C:\\path"));
    }

    [Theory]
    [InlineData("1.2.3.4\u001b[31mRED", @"1.2.3.4\x1b[31mRED")]
    [InlineData("one\ntwo\r\nthree", @"one\x0atwo\x0d\x0athree")]
    [InlineData("a\tb\0c\u007fd", @"a\x09b\x00c\x7fd")]
    [InlineData("csi \u009b31m, nel \u0085", @"csi \xc2\x9b31m, nel \xc2\x85")]
    [InlineData("\u00a0 and \u00e9 are printable", "\u00a0 and \u00e9 are printable")]
    [InlineData("lease for eth0\u2028Dec 03 network-broker: ok", @"lease for eth0\xe2\x80\xa8Dec 03 network-broker: ok")]
    [InlineData("ran /etc/x/\u202etxt.sh\u202c and \u061c \u200e \u200f \u2029 \u202a", @"ran /etc/x/\xe2\x80\xaetxt.sh\xe2\x80\xac and \xd8\x9c \xe2\x80\x8e \xe2\x80\x8f \xe2\x80\xa9 \xe2\x80\xaa")]
    [InlineData("zero width \u200b and joiner \u200d stay", "zero width \u200b and joiner \u200d stay")]
    [InlineData("a\u202eb\u001bc", @"a\xe2\x80\xaeb\x1bc")]
    [InlineData("a\u001bb\u202ec", @"a\x1bb\xe2\x80\xaec")]
    [InlineData("skull \U0001F480\u2066x", "skull \U0001F480\\xe2\\x81\\xa6x")]
    public void A_message_shows_every_control_character_as_hex_as_a_link_name_does(string message, string shown) =>
        Assert.Equal(shown, KernelText.DisplayMessage(message));

    [Fact]
    public void Every_layout_control_and_only_those_between_U_0600_and_U_206F_is_escaped()
    {
        var escaped = new List<int>();
        for (var c = '\u0600'; c <= '\u206f'; c++)
            if (KernelText.DisplayMessage($"a{c}b") != $"a{c}b")
                escaped.Add(c);
        Assert.Equal([0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069], escaped);
    }

    [Fact]
    public void A_character_past_U_FFFF_whose_second_half_looks_like_a_raw_byte_stays_as_it_is()
    {
        // U+1F480 is D83D DC80 in UTF-16: the DC80 is no raw byte.
        Assert.Same("skull \U0001F480", KernelText.DisplayMessage("skull \U0001F480"));
        Assert.Equal("skull \U0001F480\\x1b", KernelText.DisplayMessage("skull \U0001F480\u001b"));
    }
}
