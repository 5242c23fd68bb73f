using System.Buffers;
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

    /// <summary>
    /// For logs and JSON: a raw byte, a control character or a backslash as \xNN; everything else as it is.
    /// A C1 control (U+0080..U+009F) shows its two UTF-8 bytes (\xc2\x9b), so that \xNN always means one byte
    /// of the name and the raw byte 9b (\x9b) stays distinct from the character U+009B. A bidirectional control
    /// or a line or paragraph separator shows its three UTF-8 bytes the same way (\xe2\x80\xae).
    /// </summary>
    public static string Display(string text) => Show(text, UnprintableOrBackslash, backslash: true);

    /// <summary>
    /// A log message: its raw bytes and control characters as <see cref="Display"/> shows them; the backslash
    /// stays (a message is the daemon's prose, quoting paths and a script's output, where \ is common and harmless).
    /// Whatever a script printed or a peer sent, the line neither breaks, nor moves a terminal's cursor, nor
    /// hides a byte.
    /// </summary>
    public static string DisplayMessage(string text) => Show(text, Unprintable, backslash: false);

    /// <summary>
    /// What a terminal or a log reader must not get raw: the C0 controls (tab and newline too: one rule for every
    /// control, and a tab's width is the viewer's), DEL, the C1 controls (U+009B is CSI to a terminal that takes
    /// 8-bit controls) and the stand-ins of raw bytes. The format characters that reorder or break what a reader sees
    /// (<see cref="IsLayoutControl"/>) are escaped too, found by a search of their own (<see cref="LayoutControls"/>).
    /// </summary>
    private static readonly SearchValues<char> Unprintable = SearchValues.Create(Characters(includeBackslash: false));
    private static readonly SearchValues<char> UnprintableOrBackslash = SearchValues.Create(Characters(includeBackslash: true));

    // A search of their own: in one set with the others they made a line of non-ASCII text twice as slow to search
    // (measured: bench/NetworkBroker.Benchmarks/LogEscaping.cs).
    private static readonly SearchValues<char> LayoutControls =
        SearchValues.Create("\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069");

    private static string Characters(bool includeBackslash)
    {
        var characters = new StringBuilder();
        for (var c = '\0'; c < ' '; c++)
            characters.Append(c);
        characters.Append('\x7f');
        for (var c = '\u0080'; c <= '\u009f'; c++)
            characters.Append(c);
        for (var c = '\uDC80'; c <= '\uDCFF'; c++)
            characters.Append(c);
        if (includeBackslash)
            characters.Append('\\');
        return characters.ToString();
    }

    private static string Show(string text, SearchValues<char> escaped, bool backslash)
    {
        // The daemon logs a line per event: two vectorised searches (11 ns for a 90-character ASCII line, 42 ns with
        // non-ASCII text in it; bench/NetworkBroker.Benchmarks/LogEscaping.cs), and a copy only when something is found.
        var first = FirstEscaped(text, escaped);
        if (first < 0)
            return text;
        var shown = new StringBuilder(text.Length + 16);
        shown.Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (IsRawByte(text, i))
                shown.Append(CultureInfo.InvariantCulture, $"\\x{c - EscapeBase:x2}");
            else if (c is >= '\u0080' and <= '\u009f')
                shown.Append(CultureInfo.InvariantCulture, $"\\xc2\\x{(int)c:x2}");
            else if (c is < ' ' or '\x7f' || backslash && c == '\\')
                shown.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            else if (IsLayoutControl(c))
                AppendUtf8Bytes(shown, c);
            else
                shown.Append(c);
        }
        return shown.ToString();
    }

    /// <summary>
    /// The bidirectional controls (the marks U+061C, U+200E, U+200F, the embeddings and overrides U+202A..U+202E,
    /// the isolates U+2066..U+2069) and the line and paragraph separators (U+2028, U+2029). None is visible; the
    /// first make a viewer show a line's text in another order than it was written (a link named "eth0\u202e1pg"
    /// reads as another name), the last break the line in viewers that follow Unicode.
    /// </summary>
    internal static bool IsLayoutControl(char c) =>
        c is '\u061c' or '\u200e' or '\u200f' or '\u2028' or '\u2029' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069');

    private static void AppendUtf8Bytes(StringBuilder shown, char c)
    {
        Span<byte> bytes = stackalloc byte[3];
        var length = Encoding.UTF8.GetBytes([c], bytes);
        foreach (var b in bytes[..length])
            shown.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
    }

    private static int FirstEscaped(string text, SearchValues<char> escaped)
    {
        var control = FirstControl(text, 0, escaped);
        var layout = text.AsSpan(0, control < 0 ? text.Length : control).IndexOfAny(LayoutControls);
        return layout >= 0 ? layout : control;
    }

    private static int FirstControl(string text, int start, SearchValues<char> escaped)
    {
        while (start < text.Length)
        {
            var found = text.AsSpan(start).IndexOfAny(escaped);
            if (found < 0)
                return -1;
            var i = start + found;
            // U+DC80..U+DCFF after a high surrogate is the second half of a character past U+FFFF, not a raw byte.
            if (text[i] is < '\uDC80' or > '\uDCFF' || IsRawByte(text, i))
                return i;
            start = i + 1;
        }
        return -1;
    }
}
