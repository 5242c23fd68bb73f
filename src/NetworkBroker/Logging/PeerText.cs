using System.Text;

namespace NetworkBroker.Logging;

/// <summary>
/// What a peer wrote (a D-Bus string, a lease file's token, a file name in a directory others can write),
/// made safe to quote in a log line: printable ASCII only, at most <see cref="MaxBytes"/> bytes. Anything
/// else becomes '?', so a peer can neither forge a second log line nor smuggle a file's content out at length.
/// </summary>
public static class PeerText
{
    public const int MaxBytes = 80;
    private const string Ellipsis = "...";

    public static string Excerpt(string? text) => Excerpt(text, MaxBytes);

    /// <param name="maxBytes">Shorter still where a longer excerpt would say more than the error needs.</param>
    public static string Excerpt(string? text, int maxBytes)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var clean = true;
        foreach (var c in text)
            if (c is < ' ' or > '~')
            {
                clean = false;
                break;
            }
        if (clean && text.Length <= maxBytes)
            return text;

        var keep = text.Length <= maxBytes ? text.Length : Math.Max(0, maxBytes - Ellipsis.Length);
        var excerpt = new StringBuilder(maxBytes);
        for (var i = 0; i < keep; i++)
            excerpt.Append(text[i] is < ' ' or > '~' ? '?' : text[i]);
        if (keep < text.Length)
            excerpt.Append(Ellipsis);
        return excerpt.ToString();
    }

    /// <summary>
    /// A peer's list in a log line: its first <paramref name="shown"/> values and how many more there were, so that
    /// a DHCP server's 290 DNS servers make one short line, not one of 4 KB. The values are the caller's to excerpt.
    /// </summary>
    public static string List(IReadOnlyCollection<string> values, int shown = 4) =>
        string.Join(", ", values.Take(shown)) + (values.Count > shown ? $" and {values.Count - shown} more" : "");

    /// <summary>A path whose file name a peer chose (a directory others can write): the directory as configured, the name excerpted.</summary>
    public static string FileName(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        var excerpt = Excerpt(name);
        return ReferenceEquals(excerpt, name) ? path : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "", excerpt);
    }
}
