namespace NetworkBroker.Cli;

/// <summary>
/// The known word a mistyped one was meant to be: the same but for case, else one or two edits away
/// (optimal string alignment, so "statsu" is one from "status" and "UseDomains" one from "UseDomain").
/// Shared by the command line and the configuration's "did you mean" hints.
/// </summary>
public static class NearestWord
{
    public static string? Find(string word, IEnumerable<string> known)
    {
        var candidates = known.ToList();
        if (candidates.FirstOrDefault(k => string.Equals(k, word, StringComparison.OrdinalIgnoreCase)) is { } sameButCase)
            return sameButCase;
        var best = candidates.Select(k => (Known: k, Distance: Distance(word.ToLowerInvariant(), k.ToLowerInvariant()))).MinBy(k => k.Distance);
        return best.Known is not null && best.Distance <= Math.Max(1, Math.Min(2, word.Length / 3)) ? best.Known : null;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
