namespace NetworkBroker.Configuration;

/// <summary>
/// A link name or a shell glob over link names, as systemd's <c>Name=</c> takes them: <c>*</c> any run of
/// characters, <c>?</c> one character, <c>[abc]</c>, <c>[a-z]</c> and <c>[!a]</c> one of a set. A name
/// without these characters matches only itself (<c>eth1</c> never matches <c>eth10</c>).
/// </summary>
public static partial class LinkPattern
{
    public static bool IsGlob(string pattern) => pattern.AsSpan().IndexOfAny("*?[") >= 0;

    /// <summary>
    /// A name that is only the beginning of the usual link names, so almost surely meant as a prefix (the Go
    /// network-event-broker's Links= was a substring test, and its users wrote <c>ens</c>): the kernel's
    /// traditional stems (<c>eth</c>, <c>wlan</c>, <c>usb</c>, <c>em</c>, <c>bond</c>, <c>br</c>, <c>veth</c>,
    /// <c>vlan</c>, <c>team</c>, <c>tun</c>, <c>tap</c>, <c>wg</c>, <c>ppp</c>), and the two-letter types of
    /// systemd's predictable names (<c>en</c>, <c>wl</c>, <c>ww</c>, <c>ib</c>, <c>sl</c>) alone or with one
    /// naming-scheme letter (<c>ens</c>, <c>enp</c>, <c>eno</c>, <c>enx</c>, <c>enP</c>, <c>wlp</c> ...). Such names
    /// end in a number or a MAC address once complete, so a full name (<c>eth0</c>, <c>ens3</c>, <c>enp0s3</c>,
    /// <c>wlp2s0</c>, <c>enx0250b6a1c2d3</c>, <c>lo</c>) and an admin's own (<c>wan</c>, <c>uplink</c>) never count.
    /// </summary>
    public static bool IsNameStem(string name) => !IsGlob(name) && NameStem().IsMatch(name);

    [System.Text.RegularExpressions.GeneratedRegex(@"\A(?:(?:en|wl|ww|ib|sl)[abcdiopPsuvx]?|eth|wlan|usb|em|bond|br|veth|vlan|team|tun|tap|wg|ppp)\z")]
    private static partial System.Text.RegularExpressions.Regex NameStem();

    public static bool Matches(string pattern, string name) =>
        IsGlob(pattern) ? Match(pattern, 0, name, 0) : string.Equals(pattern, name, StringComparison.Ordinal);

    private static bool Match(string pattern, int p, string name, int n)
    {
        while (p < pattern.Length)
        {
            switch (pattern[p])
            {
                case '*':
                    while (p < pattern.Length && pattern[p] == '*')
                        p++;
                    if (p == pattern.Length)
                        return true;
                    for (var rest = n; rest <= name.Length; rest++)
                        if (Match(pattern, p, name, rest))
                            return true;
                    return false;
                case '?':
                    if (n == name.Length)
                        return false;
                    p++;
                    n++;
                    break;
                case '[' when SetEnd(pattern, p) is var end and > 0:
                    if (n == name.Length || !InSet(pattern.AsSpan(p + 1, end - p - 1), name[n]))
                        return false;
                    p = end + 1;
                    n++;
                    break;
                default:
                    if (n == name.Length || pattern[p] != name[n])
                        return false;
                    p++;
                    n++;
                    break;
            }
        }
        return n == name.Length;
    }

    /// <summary>The index of the ']' closing a set opened at <paramref name="open"/>, or -1 (then '[' is literal).</summary>
    private static int SetEnd(string pattern, int open)
    {
        var i = open + 1;
        if (i < pattern.Length && pattern[i] == '!')
            i++;
        if (i < pattern.Length && pattern[i] == ']')
            i++; // a ']' first in the set is a member
        var end = pattern.IndexOf(']', i);
        return end;
    }

    private static bool InSet(ReadOnlySpan<char> set, char c)
    {
        var negated = set.Length > 0 && set[0] == '!';
        if (negated)
            set = set[1..];
        var found = false;
        for (var i = 0; i < set.Length; i++)
        {
            if (i + 2 < set.Length && set[i + 1] == '-')
            {
                found |= c >= set[i] && c <= set[i + 2];
                i += 2;
            }
            else
                found |= c == set[i];
        }
        return found != negated;
    }
}
