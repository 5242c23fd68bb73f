using System.Globalization;
using System.Text;

namespace NetworkBroker.DBus;

/// <summary>Object paths, and the escaping sd-bus uses to put arbitrary labels in them (sd_bus_path_encode).</summary>
public static class DBusObjectPath
{
    /// <summary>"/" or "/"-separated non-empty elements of [A-Za-z0-9_].</summary>
    public static bool IsValid(string path)
    {
        if (path.Length == 0 || path[0] != '/')
            return false;
        if (path.Length == 1)
            return true;
        if (path[^1] == '/')
            return false;
        for (var i = 1; i < path.Length; i++)
        {
            var c = path[i];
            if (c == '/' ? path[i - 1] == '/' : !(char.IsAsciiLetterOrDigit(c) || c == '_'))
                return false;
        }
        return true;
    }

    /// <summary>
    /// Decodes one escaped label: "_" followed by two hex digits is that byte ("_35" is "5"; networkd's
    /// link paths are the ifindex so escaped, "/link/_310" is ifindex 10); "_" alone is the empty label.
    /// Null when the label is not a valid escape.
    /// </summary>
    public static string? UnescapeLabel(string label)
    {
        if (label == "_")
            return "";
        var bytes = new List<byte>(label.Length);
        for (var i = 0; i < label.Length; i++)
        {
            var c = label[i];
            if (c == '_')
            {
                if (i + 2 >= label.Length)
                    return null; // "_" needs two hex digits after it
                if (!byte.TryParse(label.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                    return null;
                bytes.Add(b);
                i += 2;
            }
            else if (char.IsAsciiLetterOrDigit(c))
            {
                bytes.Add((byte)c);
            }
            else
            {
                return null;
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>The inverse of <see cref="UnescapeLabel"/>, as sd-bus writes it.</summary>
    public static string EscapeLabel(string label)
    {
        if (label.Length == 0)
            return "_";
        var escaped = new StringBuilder();
        var bytes = Encoding.UTF8.GetBytes(label);
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            // sd-bus escapes a leading digit too, so that the label is a valid identifier.
            if (b < 0x80 && char.IsAsciiLetterOrDigit((char)b) && !(i == 0 && char.IsAsciiDigit((char)b)))
                escaped.Append((char)b);
            else
                escaped.Append('_').Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }
        return escaped.ToString();
    }
}
