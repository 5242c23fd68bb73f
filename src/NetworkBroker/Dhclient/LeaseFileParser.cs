using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;

namespace NetworkBroker.Dhclient;

/// <summary>
/// Parses ISC dhclient lease files (dhclient.leases(5)): "lease { ... }" and "lease6 { ... }" blocks of
/// statements ending in ';', nested blocks (ia-na, iaaddr), quoted strings with escapes, '#' comments.
/// Pure; a malformed file gives a <see cref="LeaseParseException"/> with its line, never another exception.
/// </summary>
/// <remarks>
/// Two kinds of trouble, kept apart. The file's syntax and the fields dhclient writes itself (interface,
/// fixed-address, the times) fail the whole file: it is not one dhclient wrote. An option's value is the DHCP
/// server's: dhclient copies what it got, a mask of 255.0.255.0 as it came and an address option of the wrong
/// length as <c>&lt;error&gt;</c>. Such a value leaves that option out of its lease and is reported, and the rest
/// of the file stands; otherwise one reply from a rogue or broken server would blind the daemon to every lease of
/// the file, the legitimate ones after it and their expiry included.
/// </remarks>
public static class LeaseFileParser
{
    /// <summary>
    /// The deepest blocks may nest. dhclient writes at most three levels (<c>lease6 { ia-na { iaaddr { } } }</c>; an
    /// IPv4 <c>lease { }</c> has one), so 8 refuses nothing dhclient writes. The parser recurses once per level: without
    /// a bound a file of a few hundred KiB of '{' overflows the stack, which kills the process without a word.
    /// </summary>
    public const int MaxNesting = 8;

    private enum TokenKind { Word, String, Open, Close, Semicolon, Comma }

    private readonly record struct Token(TokenKind Kind, string Text, int Line);

    /// <summary>A statement: its words (with commas dropped) and, for a block, the statements inside.</summary>
    private sealed record Statement(List<Token> Words, List<Statement>? Block, int Line)
    {
        public string Keyword => Words.Count > 0 ? Words[0].Text : "";
    }

    public static IReadOnlyList<DhcpLease> Parse(string text, string path = "lease file") => Parse(text, path, skipped: null);

    /// <param name="skipped">Gets one error for each option value left out (see the remarks); null to drop them silently.</param>
    public static IReadOnlyList<DhcpLease> Parse(string text, string path, ICollection<LeaseParseException>? skipped)
    {
        var tokens = Tokenize(text, path);
        var position = 0;
        var statements = ParseStatements(tokens, ref position, path, depth: 0);
        var leases = new List<DhcpLease>();
        foreach (var statement in statements)
        {
            switch (statement.Keyword)
            {
                case "lease" when statement.Block is not null:
                    leases.Add(Lease4(statement, path, skipped));
                    break;
                case "lease6" when statement.Block is not null:
                    leases.Add(Lease6(statement, path, skipped));
                    break;
            }
        }
        return leases;
    }

    /// <summary>The current lease of each interface and family: the last one in the file, unless it has expired.</summary>
    public static IReadOnlyList<DhcpLease> Current(IEnumerable<DhcpLease> leases, DateTime utcNow) =>
        leases.GroupBy(l => (l.Interface, l.Family))
            .Select(g => g.Last())
            .Where(l => l.Interface.Length > 0 && !l.IsExpired(utcNow))
            .ToList();

    private static List<Token> Tokenize(string text, string path)
    {
        var tokens = new List<Token>();
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '\n': line++; continue;
                case ' ' or '\t' or '\r': continue;
                case '#':
                    while (i + 1 < text.Length && text[i + 1] != '\n')
                        i++;
                    continue;
                case '{': tokens.Add(new(TokenKind.Open, "{", line)); continue;
                case '}': tokens.Add(new(TokenKind.Close, "}", line)); continue;
                case ';': tokens.Add(new(TokenKind.Semicolon, ";", line)); continue;
                case ',': tokens.Add(new(TokenKind.Comma, ",", line)); continue;
                case '"':
                {
                    var start = line;
                    var value = new StringBuilder();
                    i++;
                    while (true)
                    {
                        if (i >= text.Length)
                            throw new LeaseParseException(path, start, "unterminated string", incomplete: true);
                        var s = text[i];
                        if (s == '"')
                            break;
                        if (s == '\n')
                            line++;
                        if (s == '\\' && i + 1 < text.Length)
                        {
                            var next = text[i + 1];
                            if (next is >= '0' and <= '7' && i + 3 < text.Length && IsOctal(text, i + 1))
                            {
                                value.Append((char)Convert.ToInt32(text.Substring(i + 1, 3), 8));
                                i += 4;
                                continue;
                            }
                            value.Append(next switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => next });
                            i += 2;
                            continue;
                        }
                        value.Append(s);
                        i++;
                    }
                    tokens.Add(new(TokenKind.String, value.ToString(), start));
                    continue;
                }
                default:
                {
                    var start = i;
                    while (i + 1 < text.Length && text[i + 1] is not (' ' or '\t' or '\r' or '\n' or ';' or ',' or '{' or '}' or '"' or '#'))
                        i++;
                    tokens.Add(new(TokenKind.Word, text[start..(i + 1)], line));
                    continue;
                }
            }
        }
        return tokens;
    }

    private static bool IsOctal(string text, int at) =>
        text[at] is >= '0' and <= '7' && text[at + 1] is >= '0' and <= '7' && text[at + 2] is >= '0' and <= '7';

    /// <summary>The statements of the file (<paramref name="depth"/> 0) or of a block <paramref name="depth"/> levels deep.</summary>
    private static List<Statement> ParseStatements(List<Token> tokens, ref int position, string path, int depth)
    {
        var topLevel = depth == 0;
        var statements = new List<Statement>();
        var words = new List<Token>();
        while (position < tokens.Count)
        {
            var token = tokens[position++];
            switch (token.Kind)
            {
                case TokenKind.Semicolon:
                    if (words.Count > 0)
                        statements.Add(new Statement(words, null, words[0].Line));
                    words = [];
                    break;
                case TokenKind.Open:
                    if (depth == MaxNesting)
                        throw new LeaseParseException(path, token.Line, $"blocks nest deeper than {MaxNesting} levels");
                    var line = words.Count > 0 ? words[0].Line : token.Line;
                    var block = ParseStatements(tokens, ref position, path, depth + 1);
                    statements.Add(new Statement(words, block, line));
                    words = [];
                    break;
                case TokenKind.Close:
                    if (topLevel)
                        throw new LeaseParseException(path, token.Line, "'}' without a block to close");
                    if (words.Count > 0)
                        throw new LeaseParseException(path, words[0].Line, $"statement {Quote(words[0].Text)} does not end with ';'");
                    return statements;
                case TokenKind.Comma:
                    break;
                default:
                    words.Add(token);
                    break;
            }
        }
        if (!topLevel)
            throw new LeaseParseException(path, tokens.Count > 0 ? tokens[^1].Line : 1, "the file ends inside a block", incomplete: true);
        if (words.Count > 0)
            throw new LeaseParseException(path, words[0].Line, $"the file ends inside statement {Quote(words[0].Text)}", incomplete: true);
        return statements;
    }

    private static DhcpLease Lease4(Statement lease, string path, ICollection<LeaseParseException>? skipped)
    {
        var result = new DhcpLease { Family = 4, Line = lease.Line };
        var maskLine = lease.Line;
        foreach (var statement in lease.Block!)
        {
            var args = statement.Words.Skip(1).ToList();
            switch (statement.Keyword)
            {
                case "interface": result = result with { Interface = Text(args, statement, path) }; break;
                case "fixed-address": result = result with { Address = Address(args, statement, path) }; break;
                case "renew": result = result with { Renew = Time(args, statement, path) }; break;
                case "rebind": result = result with { Rebind = Time(args, statement, path) }; break;
                case "expire": result = result with { Expire = Time(args, statement, path) }; break;
                case "option" when args.Count >= 1:
                    if (args[0].Text == "subnet-mask")
                        maskLine = statement.Line;
                    result = Option(result, args[0].Text, args.Skip(1).ToList(), statement, path, skipped);
                    break;
            }
        }
        if (result.SubnetMask is { } mask)
        {
            if (PrefixOf(mask) is { } prefix)
                result = result with { PrefixLength = prefix };
            else
            {
                skipped?.Add(new LeaseParseException(path, maskLine, $"subnet mask {mask} is not contiguous"));
                result = result with { SubnetMask = null };
            }
        }
        return result;
    }

    private static DhcpLease Lease6(Statement lease, string path, ICollection<LeaseParseException>? skipped)
    {
        var result = new DhcpLease { Family = 6, Line = lease.Line };
        foreach (var statement in lease.Block!)
        {
            var args = statement.Words.Skip(1).ToList();
            switch (statement.Keyword)
            {
                case "interface": result = result with { Interface = Text(args, statement, path) }; break;
                case "option" when args.Count >= 1: result = Option(result, args[0].Text, args.Skip(1).ToList(), statement, path, skipped); break;
                case "ia-na" or "ia-ta" when statement.Block is not null:
                    long? starts = null;
                    foreach (var inner in statement.Block)
                    {
                        var innerArgs = inner.Words.Skip(1).ToList();
                        switch (inner.Keyword)
                        {
                            case "starts": starts = Number(innerArgs, inner, path); break;
                            case "renew" when starts is not null: result = result with { Renew = Epoch(starts.Value + Number(innerArgs, inner, path)) }; break;
                            case "rebind" when starts is not null: result = result with { Rebind = Epoch(starts.Value + Number(innerArgs, inner, path)) }; break;
                            case "iaaddr" when inner.Block is not null:
                                long? addressStarts = null;
                                var address = Address(innerArgs, inner, path);
                                result = result with { Address = address, PrefixLength = 128 };
                                foreach (var field in inner.Block)
                                {
                                    var fieldArgs = field.Words.Skip(1).ToList();
                                    switch (field.Keyword)
                                    {
                                        case "starts": addressStarts = Number(fieldArgs, field, path); break;
                                        case "max-life" when addressStarts is not null:
                                            var life = Number(fieldArgs, field, path);
                                            result = result with { Expire = life >= uint.MaxValue ? null : Epoch(addressStarts.Value + life), LeaseTime = (uint)Math.Min(life, uint.MaxValue) };
                                            break;
                                    }
                                }
                                break;
                        }
                    }
                    break;
            }
        }
        return result;
    }

    /// <summary>The lease with one option's value; a value that is not what the option holds leaves the lease as it was.</summary>
    private static DhcpLease Option(DhcpLease lease, string name, List<Token> args, Statement statement, string path,
        ICollection<LeaseParseException>? skipped)
    {
        try
        {
            return WithOption(lease, name, args, statement, path);
        }
        catch (LeaseParseException e)
        {
            skipped?.Add(e);
            return lease;
        }
    }

    private static DhcpLease WithOption(DhcpLease lease, string name, List<Token> args, Statement statement, string path) => name switch
    {
        "subnet-mask" => lease with { SubnetMask = Address(args, statement, path) },
        "routers" => lease with { Routers = Addresses(args, statement, path) },
        "domain-name-servers" or "dhcp6.name-servers" => lease with { DnsServers = Addresses(args, statement, path) },
        "domain-name" => lease with { DomainName = Text(args, statement, path) },
        "domain-search" or "dhcp6.domain-search" => lease with { DomainSearch = [.. args.Select(a => a.Text.TrimEnd('.'))] },
        "host-name" => lease with { HostName = Text(args, statement, path) },
        "dhcp-server-identifier" => lease with { ServerIdentifier = Address(args, statement, path) },
        "dhcp-lease-time" => lease with { LeaseTime = (uint)Math.Clamp(Number(args, statement, path), 0, uint.MaxValue) },
        _ => lease,
    };

    private static string Text(List<Token> args, Statement statement, string path) =>
        args.Count >= 1 ? args[0].Text : throw new LeaseParseException(path, statement.Line, $"{Quote(statement.Keyword)} needs a value");

    private static IPAddress Address(List<Token> args, Statement statement, string path) =>
        args.Count >= 1 && IPAddress.TryParse(args[0].Text, out var address)
            ? address
            : throw new LeaseParseException(path, statement.Line, $"{Quote(statement.Keyword)} needs an address, got {Quote(args.Count > 0 ? args[0].Text : "")}");

    private static ImmutableArray<IPAddress> Addresses(List<Token> args, Statement statement, string path) =>
        [.. args.Select(a => IPAddress.TryParse(a.Text, out var address)
            ? address
            : throw new LeaseParseException(path, statement.Line, $"{Quote(a.Text)} is not an address"))];

    private static long Number(List<Token> args, Statement statement, string path) =>
        args.Count >= 1 && long.TryParse(args[0].Text, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new LeaseParseException(path, statement.Line, $"{Quote(statement.Keyword)} needs a number");

    /// <summary>"2 2026/11/24 17:14:05" (weekday, date, time, UTC), "epoch 1700000000", or "never".</summary>
    private static DateTime? Time(List<Token> args, Statement statement, string path)
    {
        if (args.Count >= 1 && args[0].Text == "never")
            return null;
        if (args.Count >= 2 && args[0].Text == "epoch")
            return Epoch(Number(args.Skip(1).ToList(), statement, path));
        if (args.Count >= 3 && DateTime.TryParseExact($"{args[1].Text} {args[2].Text}", "yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            return time;
        throw new LeaseParseException(path, statement.Line, $"{Quote(statement.Keyword)} has no time dhclient would write");
    }

    private static DateTime Epoch(long seconds) =>
        seconds is >= 0 and < 253402300800 ? DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime : DateTime.MaxValue;

    /// <summary>The prefix length of a contiguous mask (255.255.255.0: 24), null for one that is not (255.0.255.0).</summary>
    private static int? PrefixOf(IPAddress mask)
    {
        var bits = 0;
        var seenZero = false;
        foreach (var b in mask.GetAddressBytes())
        {
            for (var bit = 7; bit >= 0; bit--)
            {
                var set = (b >> bit & 1) == 1;
                if (set && seenZero)
                    return null;
                if (set)
                    bits++;
                else
                    seenZero = true;
            }
        }
        return bits;
    }

    /// <summary>A token of the file, as an error may quote it: short, printable, never a line of someone else's file.</summary>
    private static string Quote(string token) => $"\"{Logging.PeerText.Excerpt(token, 32)}\"";
}
