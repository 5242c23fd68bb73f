using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace NetworkBroker.Netlink;

/// <summary>
/// The kernel's strings (link names above all) are bytes, not UTF-8: a link may be named ff fe. Decoded
/// losslessly, the way Python's "surrogateescape" does it: valid UTF-8 as text, and each byte that is not
/// part of valid UTF-8 as the lone surrogate U+DC80..U+DCFF, which no valid text contains. <see cref="Encode"/>
/// gives the kernel's exact bytes back (for a script's LINK), <see cref="Display"/> a printable form for
/// logs and JSON in which every such byte, every control character and the backslash itself read \xNN.
/// </summary>
public static class KernelText
{
    private const char EscapeBase = '\uDC00';

    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
            return Encoding.UTF8.GetString(bytes);
        var text = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out var rune, out var consumed) == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
                bytes = bytes[consumed..];
            }
            else
            {
                text.Append((char)(EscapeBase + bytes[0]));
                bytes = bytes[1..];
            }
        }
        return text.ToString();
    }

    /// <summary>Whether <paramref name="text"/> holds a byte that was not valid UTF-8.</summary>
    public static bool HasRawBytes(string text)
    {
        for (var i = 0; i < text.Length; i++)
            if (IsRawByte(text, i))
                return true;
        return false;
    }

    /// <summary>A lone U+DC80..U+DCFF: the low half of a surrogate pair (a valid character past U+FFFF) is not one.</summary>
    private static bool IsRawByte(string text, int i) =>
        text[i] is >= '\uDC80' and <= '\uDCFF' && (i == 0 || !char.IsHighSurrogate(text[i - 1]));

    /// <summary>The exact bytes <paramref name="text"/> was decoded from (UTF-8 for ordinary text).</summary>
    public static int Encode(string text, Span<byte> destination)
    {
        if (!HasRawBytes(text))
            return Encoding.UTF8.GetBytes(text, destination);
        var written = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (IsRawByte(text, i))
            {
                destination[written++] = (byte)(c - EscapeBase);
                continue;
            }
            var length = char.IsHighSurrogate(c) && i + 1 < text.Length ? 2 : 1;
            written += Encoding.UTF8.GetBytes(text.AsSpan(i, length), destination[written..]);
            i += length - 1;
        }
        return written;
    }

    /// <summary>How many bytes <see cref="Encode"/> writes (never more than UTF-8 would).</summary>
    public static int ByteCount(string text) => Encoding.UTF8.GetByteCount(text);

    public static byte[] Encode(string text)
    {
        var buffer = new byte[ByteCount(text)];
        return buffer[..Encode(text, buffer)];
    }

    /// <summary>For logs and JSON: a raw byte, a control character or a backslash as \xNN; everything else as it is.</summary>
    public static string Display(string text) => Show(text, rawBytesOnly: false);

    /// <summary>A message that quotes a name: only its raw bytes as \xNN (the rest of the message is the daemon's own).</summary>
    public static string ShowRawBytes(string text) => HasRawBytes(text) ? Show(text, rawBytesOnly: true) : text;

    private static string Show(string text, bool rawBytesOnly)
    {
        static bool Plain(char c) => c is not (< ' ' or '\\' or '\x7f');
        var escape = false;
        for (var i = 0; i < text.Length && !escape; i++)
            escape = IsRawByte(text, i) || !rawBytesOnly && !Plain(text[i]);
        if (!escape)
            return text;
        var shown = new StringBuilder(text.Length + 8);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (IsRawByte(text, i))
                shown.Append(CultureInfo.InvariantCulture, $"\\x{c - EscapeBase:x2}");
            else if (!rawBytesOnly && !Plain(c))
                shown.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            else
                shown.Append(c);
        }
        return shown.ToString();
    }
}
