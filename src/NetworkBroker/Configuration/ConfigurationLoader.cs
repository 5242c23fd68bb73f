using System.Collections.Immutable;
using NetworkBroker.Logging;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace NetworkBroker.Configuration;

/// <summary>
/// Reads <c>network-broker.toml</c>. Works on Tomlyn's syntax tree rather than its object model
/// so that every error names the line of the key, and so that quoted booleans (the seed's own
/// example writes <c>UseDNS="true"</c>) can be accepted where a TOML boolean is expected.
/// Unknown sections and keys are errors: a typo must never silently become a default.
/// </summary>
public static partial class ConfigurationLoader
{
    public const string LogLevelVariable = "NETWORK_EVENT_LOG_LEVEL";
    public const string LogFormatVariable = "NETWORK_EVENT_LOG_FORMAT";

    private delegate BrokerConfiguration Apply(BrokerConfiguration config, ValueReader value);

    private static readonly Dictionary<string, Dictionary<string, Apply>> Sections = new(StringComparer.Ordinal)
    {
        ["System"] = new(StringComparer.Ordinal)
        {
            ["LogLevel"] = (c, v) => v.Enum("debug, info, warn, error or fatal", LogLevelNames.TryParseLevel, out LogLevel l) ? c with { LogLevel = l } : c,
            ["LogFormat"] = (c, v) => v.Enum("text or json", LogLevelNames.TryParseFormat, out LogFormat f) ? c with { LogFormat = f } : c,
            ["Generator"] = (c, v) => v.Generators(out var g) ? c with { Generator = g } : c,
            ["User"] = (c, v) => v.UserName(out var u) ? c with { User = u, UserGiven = true } : c,
            ["DHClientLeaseFile"] = (c, v) => v.AbsolutePath(out var p) ? c with { DHClientLeaseFile = p } : c,
            ["ScriptTimeoutSec"] = (c, v) => v.Integer(1, 86_400, out var s) ? c with { ScriptTimeout = TimeSpan.FromSeconds(s) } : c,
            ["ScriptDirectories"] = (c, v) => v.AbsolutePaths(out var d) ? c with { ScriptDirectories = d } : c,
            ["RunStartupTriggers"] = (c, v) => v.Boolean(out var b) ? c with { RunStartupTriggers = b } : c,
        },
        ["Network"] = new(StringComparer.Ordinal)
        {
            ["Links"] = (c, v) => v.LinkNames(out var n) ? c with { Links = new LinkFilter(n) } : c,
            ["RoutingPolicyRules"] = (c, v) => v.LinkNames(out var n) ? c with { RoutingPolicyRules = n } : c,
            ["UseDNS"] = (c, v) => v.Boolean(out var b) ? c with { UseDNS = b } : c,
            ["UseDomain"] = (c, v) => v.Boolean(out var b) ? c with { UseDomain = b } : c,
            ["UseHostname"] = (c, v) => v.Boolean(out var b) ? c with { UseHostname = b } : c,
            ["EmitJSON"] = (c, v) => v.Boolean(out var b) ? c with { EmitJSON = b } : c,
            // Tables 253-255 are the kernel's default/main/local; base + ifindex must stay clear of them and of 2^32.
            ["RouteTableBase"] = (c, v) => v.Integer(256, 2_000_000_000, out var t) ? c with { RouteTableBase = (uint)t } : c,
            // The rules must come before the main table's rule (32766) or they would never be consulted.
            ["RoutingPolicyRulePriority"] = (c, v) => v.Integer(1, 32765, out var p) ? c with { RoutingPolicyRulePriority = (uint)p } : c,
            ["RemoveRulesOnStop"] = (c, v) => v.Boolean(out var b) ? c with { RemoveRulesOnStop = b } : c,
            ["StateProperties"] = (c, v) => v.StateProperties(out var p) ? c with { StateProperties = p } : c,
        },
    };

    /// <summary>Every key, by section, in documentation order.</summary>
    public static IEnumerable<(string Section, string Key)> Keys =>
        Sections.SelectMany(s => s.Value.Keys.Select(k => (s.Key, k)));

    /// <summary>
    /// Loads FILE: a missing file means the defaults (<paramref name="fileExists"/> false), an unreadable or
    /// invalid one throws <see cref="ConfigurationException"/> with every error found.
    /// </summary>
    /// <param name="forDaemon">Also check what only the daemon's start needs (User= exists when started as root): for the
    /// daemon, its reload and check-config, not for status or run-scripts.</param>
    /// <param name="mustExist">The path was given on the command line: a missing file is an error, not the defaults.</param>
    public static BrokerConfiguration Load(string path, Func<string, string?> environment, out bool fileExists, bool forDaemon = false,
        bool mustExist = false)
    {
        // The admin's file, so a link is followed; but a FIFO or a device must not hang start-up or check-config.
        var file = Security.PeerFile.Read(path, new Security.PeerFileRules { FollowLink = true });
        fileExists = file.Refusal != Security.PeerFileRefusal.Missing;
        if (!fileExists && mustExist)
            throw new ConfigurationException([new ConfigurationError(path, 0, null,
                "no such file (given with --config; only the default configuration file may be absent, meaning the defaults)")]);
        if (fileExists && !file.IsRead)
            throw new ConfigurationException([new ConfigurationError(path, 0, null, $"cannot read: {file.Reason}")]);
        var text = file.IsRead ? file.Text : null;

        var errors = new List<ConfigurationError>();
        var config = text is null ? new BrokerConfiguration { Path = path } : Parse(text, path, errors);
        config = ApplyEnvironment(config, environment, errors);
        // Only for a file that parsed: otherwise the defaults stand in for what it says.
        if (forDaemon && errors.Count == 0)
            CheckUser(config, text, errors);
        if (errors.Count > 0)
            throw new ConfigurationException(errors);
        return config;
    }

    /// <summary>
    /// What start-up would refuse, so that check-config's exit 0 means the daemon accepts the file: started as
    /// root, the daemon becomes User=, which must exist.
    /// </summary>
    private static void CheckUser(BrokerConfiguration config, string? text, List<ConfigurationError> errors)
    {
        if (Native.Libc.geteuid() != 0 || config.User == "root" || Privileges.PrivilegeDrop.LookUp(config.User, out _, out _))
            return;
        var line = text is null ? 0 : Array.FindIndex(text.Split('\n'), l => UserKey().IsMatch(l)) + 1;
        errors.Add(new ConfigurationError(config.Path, line, "[System] User",
            $"user \"{config.User}\" does not exist{(line == 0 ? " (the default)" : "")}: create it (the package's sysusers.d/network-broker.conf does) or set User = \"root\""));
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*User\s*=")]
    private static partial System.Text.RegularExpressions.Regex UserKey();

    /// <summary>Parses the text of a configuration file; problems are added to <paramref name="errors"/>, never thrown.</summary>
    public static BrokerConfiguration Parse(string text, string path, List<ConfigurationError> errors)
    {
        try
        {
            return ParseDocument(text, path, errors);
        }
        catch (Tomlyn.TomlException e)
        {
            // The parser gives up rather than recurse without bound (more than 64 nested arrays or inline tables).
            var deep = e.Message.Contains("maximum depth", StringComparison.Ordinal);
            errors.Add(new ConfigurationError(path, e.Line ?? (deep ? LineNestedTooDeep(text) : 0), null,
                deep ? "nested deeper than 64 levels of arrays or inline tables" : Logging.PeerText.Excerpt(e.Message)));
            return new BrokerConfiguration { Path = path };
        }
    }

    /// <summary>The line where arrays and inline tables first nest deeper than 64 (strings and comments skipped), or 0.</summary>
    internal static int LineNestedTooDeep(string text)
    {
        var (line, depth, quote, comment) = (1, 0, '\0', false);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n')
            {
                (line, comment) = (line + 1, false);
                continue;
            }
            if (comment)
                continue;
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"')
                    i++;
                else if (c == quote)
                    quote = '\0';
                continue;
            }
            switch (c)
            {
                case '"' or '\'':
                    quote = c;
                    break;
                case '#':
                    comment = true;
                    break;
                case '[' or '{' when ++depth > 64:
                    return line;
                case ']' or '}':
                    depth = Math.Max(0, depth - 1);
                    break;
            }
        }
        return 0;
    }

    private static BrokerConfiguration ParseDocument(string text, string path, List<ConfigurationError> errors)
    {
        var config = new BrokerConfiguration { Path = path };
        var document = SyntaxParser.Parse(text, path);
        var hinted = new HashSet<int>();
        foreach (var diagnostic in document.Diagnostics)
            if (diagnostic.Kind == DiagnosticMessageKind.Error)
            {
                var line = diagnostic.Span.Start.Line + 1;
                errors.Add(new ConfigurationError(path, line, null,
                    Logging.PeerText.Excerpt(diagnostic.Message, 200) + (hinted.Add(line) ? QuotingHint(text, line) : "")));
            }
        if (document.HasErrors)
            return config;

        foreach (var keyValue in document.KeyValues)
            errors.Add(new ConfigurationError(path, LineOf(keyValue), KeyText(keyValue.Key),
                "key outside a section: put it under [System] or [Network]"));

        foreach (var table in document.Tables)
        {
            var name = KeyText(table.Name);
            if (table is TableArraySyntax || name is null || !Sections.TryGetValue(name, out var keys))
            {
                errors.Add(new ConfigurationError(path, LineOf(table), null,
                    $"unknown section [{name}]{Suggest(name, Sections.Keys)}; the sections are [System] and [Network]"));
                continue;
            }

            foreach (var keyValue in table.Items)
            {
                var key = KeyText(keyValue.Key);
                var located = $"[{name}] {key}";
                if (key is null || !keys.TryGetValue(key, out var apply))
                {
                    errors.Add(new ConfigurationError(path, LineOf(keyValue), located,
                        $"unknown key{Suggest(key, keys.Keys)}"));
                    continue;
                }
                config = apply(config, new ValueReader(keyValue.Value, path, LineOf(keyValue), located, errors));
            }
        }
        return config;
    }

    /// <summary>NETWORK_EVENT_LOG_LEVEL and NETWORK_EVENT_LOG_FORMAT win over the file.</summary>
    public static BrokerConfiguration ApplyEnvironment(BrokerConfiguration config, Func<string, string?> environment, List<ConfigurationError> errors)
    {
        var level = environment(LogLevelVariable);
        if (!string.IsNullOrWhiteSpace(level))
        {
            if (LogLevelNames.TryParseLevel(level, out var parsed))
                config = config with { LogLevel = parsed };
            else
                errors.Add(new ConfigurationError("environment", 0, LogLevelVariable,
                    $"unknown value \"{level}\" (expected debug, info, warn, error or fatal)"));
        }

        var format = environment(LogFormatVariable);
        if (!string.IsNullOrWhiteSpace(format))
        {
            if (LogLevelNames.TryParseFormat(format, out var parsed))
                config = config with { LogFormat = parsed };
            else
                errors.Add(new ConfigurationError("environment", 0, LogFormatVariable,
                    $"unknown value \"{format}\" (expected text or json)"));
        }
        return config;
    }

    private static int LineOf(SyntaxNode node) => node.Span.Start.Line + 1;

    private static string? KeyText(KeySyntax? key)
    {
        if (key?.Key is null)
            return null;
        var text = SimpleKey(key.Key);
        foreach (var dotted in key.DotKeys)
            text += "." + SimpleKey(dotted.Key!);
        return text;
    }

    private static string? SimpleKey(BareKeyOrStringValueSyntax key) => key switch
    {
        BareKeySyntax bare => bare.Key?.Text,
        StringValueSyntax quoted => quoted.Value,
        _ => null,
    };

    /// <summary>A hint for a key spelt with the wrong case or a letter off (UseDomains for UseDomain, systemd.network's spelling).</summary>
    private static string Suggest(string? given, IEnumerable<string> known) =>
        given is not null && Cli.NearestWord.Find(given, known) is { } match ? $" (did you mean {match}?)" : "";

    /// <summary>
    /// The configuration looks like systemd's but is TOML, where a string needs quotes: for a line such as
    /// <c>LogLevel=debug</c> that the parser refused, the way to write it.
    /// </summary>
    private static string QuotingHint(string text, int line)
    {
        var lines = text.Split('\n');
        if (line < 1 || line > lines.Length)
            return "";
        var match = BareValue().Match(lines[line - 1].TrimEnd('\r'));
        return match.Success ? $" (TOML strings are quoted: write {match.Groups[1].Value} = \"{match.Groups[2].Value}\")" : "";
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*([A-Za-z_][^\s""'#=]*(?: [^\s""'#=]+)*)\s*(?:#.*)?$")]
    private static partial System.Text.RegularExpressions.Regex BareValue();
}
