using System.Collections.Immutable;
using NetworkBroker.Logging;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace NetworkBroker.Configuration;

/// <summary>
/// Reads <c>network-broker.toml</c>. Works on Tomlyn's syntax tree rather than its object model
/// so that every error names the line of the key, and so that quoted booleans (the Go network-event-broker's own
/// example writes <c>UseDNS="true"</c>) can be accepted where a TOML boolean is expected.
/// Unknown sections and keys are errors: a typo must never silently become a default. Old idioms that
/// are accepted (from the Go network-event-broker's files) are warnings: check-config prints them, the
/// daemon logs them, neither fails.
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
            ["DHClientLeaseFile"] = (c, v) => v.AbsolutePaths(out var p) ? c with { DHClientLeaseFile = string.Join(' ', p) } : c,
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
            ["EmitNetworkdDispatcherJSON"] = (c, v) => v.Boolean(out var b) ? c with { EmitNetworkdDispatcherJSON = b } : c,
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
    /// invalid one throws <see cref="ConfigurationException"/> with every error found. Drop-ins apply as in <see cref="Read"/>.
    /// </summary>
    /// <param name="forDaemon">Also check what only the daemon's start needs (User= exists when started as root): for the
    /// daemon, its reload and check-config, not for status or run-scripts.</param>
    /// <param name="mustExist">The path was given on the command line: a missing file is an error, not the defaults.</param>
    public static BrokerConfiguration Load(string path, Func<string, string?> environment, out bool fileExists, bool forDaemon = false,
        bool mustExist = false)
    {
        var loaded = Read(path, environment, forDaemon, mustExist);
        fileExists = loaded.MainFileExists;
        return loaded.Config;
    }

    /// <summary>
    /// Reads FILE, then the drop-ins <c>FILE.d/*.toml</c> in lexical order, each setting only the keys it names (a
    /// later one wins), then the environment. The drop-ins apply even when FILE is absent. Every file gets the main
    /// file's checks (regular, at most 1 MiB, a FIFO refused at once); every error of every file is thrown at once.
    /// </summary>
    public static LoadedConfiguration Read(string path, Func<string, string?> environment, bool forDaemon = false, bool mustExist = false)
    {
        // The admin's file, so a link is followed; but a FIFO or a device must not hang start-up or check-config.
        var file = Security.PeerFile.Read(path, AdminFile);
        var fileExists = file.Refusal != Security.PeerFileRefusal.Missing;
        if (!fileExists && mustExist)
            throw new ConfigurationException([new ConfigurationError(path, 0, null,
                "no such file (given with --config; only the default configuration file may be absent, meaning the defaults)")]);
        if (fileExists && !file.IsRead)
            throw new ConfigurationException([new ConfigurationError(path, 0, null, $"cannot read: {file.Reason}")]);

        var reading = new Reading(path);
        var config = new BrokerConfiguration { Path = path };
        if (file.IsRead && Trusted(path, reading.Errors))
            config = Parse(config, file.Text, path, reading);
        var dropInDirectory = LoadedConfiguration.DropInDirectory(path);
        var dropIns = Trusted(dropInDirectory, reading.Errors) ? DropIns(dropInDirectory, reading.Errors) : [];
        foreach (var dropIn in dropIns)
        {
            var text = Security.PeerFile.Read(dropIn, AdminFile);
            if (!text.IsRead)
                reading.Errors.Add(new ConfigurationError(dropIn, 0, null, $"cannot read: {text.Reason}"));
            else if (Trusted(dropIn, reading.Errors))
                config = Parse(config, text.Text, dropIn, reading);
        }
        config = ApplyEnvironment(config, environment, reading.Errors, reading.Origins);
        // Only for files that parsed: otherwise the defaults stand in for what they say.
        if (forDaemon && reading.Errors.Count == 0)
            CheckUser(config, reading);
        if (reading.Errors.Count > 0)
            throw new ConfigurationException(reading.Errors);
        return new LoadedConfiguration(config, fileExists, [.. dropIns], reading.Origins.ToImmutableDictionary(), [.. reading.Warnings]);
    }

    private static readonly Security.PeerFileRules AdminFile = new() { FollowLink = true };

    /// <summary>
    /// The configuration says which user the daemon runs as and which directories it runs scripts from: whoever can change a
    /// file of it, or a directory on its way, could have their own commands run with the daemon's capabilities. So each is
    /// held to the rule scripts are held to (<see cref="Scripts.ScriptFileSystem.Untrusted"/>): owned by root (or whoever
    /// reads it, when that is not root) and writable by nobody else. An untrusted one is an error, and is not read.
    /// </summary>
    private static bool Trusted(string path, List<ConfigurationError> errors)
    {
        // Absolute, but with its ".." left for the walk: text would drop "link/.." where the kernel follows the link.
        var absolute = Path.IsPathRooted(path) ? path : Path.Combine(Environment.CurrentDirectory, path);
        if (Scripts.ScriptFileSystem.Untrusted(absolute, Native.Libc.geteuid()) is not { } why)
            return true;
        errors.Add(new ConfigurationError(path, 0, null,
            $"not trusted: {why} (whoever can change it could make the daemon run their commands with its capabilities)"));
        return false;
    }

    /// <summary>More drop-ins than any configuration management writes; a bound on the time a directory can cost.</summary>
    internal const int MaxDropIns = 256;

    /// <summary>
    /// The drop-ins of DIRECTORY in lexical (byte) order, as systemd orders them: files named *.toml, not hidden
    /// (an editor's or a package manager's leftovers never end in .toml, or begin with a dot). One linked to
    /// /dev/null is masked, systemd's convention. A missing directory has none.
    /// </summary>
    private static List<string> DropIns(string directory, List<ConfigurationError> errors)
    {
        if (!Directory.Exists(directory))
        {
            if (Path.Exists(directory))
                errors.Add(new ConfigurationError(directory, 0, null, "not a directory (drop-ins go in a directory of *.toml files)"));
            return [];
        }
        List<string> names;
        try
        {
            names = [.. Directory.EnumerateFileSystemEntries(directory)
                .Select(Path.GetFileName)
                .OfType<string>()
                .Where(name => name.EndsWith(".toml", StringComparison.Ordinal) && !name.StartsWith('.'))
                .Take(MaxDropIns + 1)
                .Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add(new ConfigurationError(directory, 0, null, $"cannot list the drop-ins: {Logging.PeerText.Excerpt(e.Message)}"));
            return [];
        }
        if (names.Count > MaxDropIns)
        {
            errors.Add(new ConfigurationError(directory, 0, null, $"more than {MaxDropIns} drop-ins"));
            return [];
        }
        return [.. names.Select(name => Path.Combine(directory, name)).Where(path => !IsMasked(path))];
    }

    private static bool IsMasked(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName == "/dev/null";
        }
        catch (IOException)
        {
            return false; // a dangling or looping link: reading it reports why
        }
    }

    /// <summary>What reading the files gathers besides the values.</summary>
    private sealed class Reading(string mainPath)
    {
        public string MainPath { get; } = mainPath;
        public List<ConfigurationError> Errors { get; } = [];
        public List<ConfigurationError> Warnings { get; } = [];
        public Dictionary<string, ConfigurationOrigin> Origins { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>
    /// What start-up would refuse, so that check-config's exit 0 means the daemon accepts the file: started as
    /// root, the daemon becomes User=, which must exist.
    /// </summary>
    private static void CheckUser(BrokerConfiguration config, Reading reading)
    {
        if (Native.Libc.geteuid() != 0 || config.User == "root")
            return;
        var origin = reading.Origins.GetValueOrDefault(LoadedConfiguration.KeyName("System", "User"));
        string? problem = null;
        if (!Privileges.PrivilegeDrop.LookUp(config.User, out var uid, out _))
            problem = $"user \"{config.User}\" does not exist{(origin is null ? " (the default)" : "")}: create it (the package's sysusers.d/network-broker.conf does) or set User = \"root\"";
        else if (config.User == "nobody" || uid == OverflowUid)
            // The daemon trusts its own user's files (scripts, leases) and lets it use the control socket.
            problem = $"user \"{config.User}\" (uid {uid}) is shared by every process that runs as nobody, and the daemon trusts its user's " +
                      "scripts, files and control socket: give it a user of its own (the package's sysusers.d/network-broker.conf makes network-broker)";
        if (problem is not null)
            reading.Errors.Add(new ConfigurationError(origin?.Where ?? reading.MainPath, origin?.Line ?? 0, "[System] User", problem));
    }

    /// <summary>nobody's uid on Linux (the kernel's overflowuid): what an unmapped user becomes.</summary>
    public const uint OverflowUid = 65534;

    /// <summary>Parses the text of a configuration file; problems are added to <paramref name="errors"/>, never thrown.</summary>
    public static BrokerConfiguration Parse(string text, string path, List<ConfigurationError> errors) => Parse(text, path, errors, []);

    /// <summary>As <see cref="Parse(string, string, List{ConfigurationError})"/>, with the warnings (old idioms) too.</summary>
    public static BrokerConfiguration Parse(string text, string path, List<ConfigurationError> errors, List<ConfigurationError> warnings)
    {
        var reading = new Reading(path);
        var config = Parse(new BrokerConfiguration { Path = path }, text, path, reading);
        errors.AddRange(reading.Errors);
        warnings.AddRange(reading.Warnings);
        return config;
    }

    /// <summary>Applies the keys that the file at <paramref name="path"/> names onto <paramref name="config"/>; the others keep their value.</summary>
    private static BrokerConfiguration Parse(BrokerConfiguration config, string text, string path, Reading reading)
    {
        try
        {
            return ParseDocument(config, text, path, reading);
        }
        catch (Tomlyn.TomlException e)
        {
            // The parser gives up rather than recurse without bound (more than 64 nested arrays or inline tables).
            var deep = e.Message.Contains("maximum depth", StringComparison.Ordinal);
            reading.Errors.Add(new ConfigurationError(path, e.Line ?? (deep ? LineNestedTooDeep(text) : 0), null,
                deep ? "nested deeper than 64 levels of arrays or inline tables" : Logging.PeerText.Excerpt(e.Message)));
            return config;
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

    private static BrokerConfiguration ParseDocument(BrokerConfiguration config, string text, string path, Reading reading)
    {
        var errors = reading.Errors;
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
                if (key is not null && GoIgnoredKeys.TryGetValue(located, out var why))
                {
                    reading.Warnings.Add(new ConfigurationError(path, LineOf(keyValue), located, why));
                    continue;
                }
                if (key is null || !keys.TryGetValue(key, out var apply))
                {
                    errors.Add(new ConfigurationError(path, LineOf(keyValue), located,
                        $"unknown key{Suggest(key, keys.Keys)}"));
                    continue;
                }
                var before = errors.Count;
                config = apply(config, new ValueReader(keyValue.Value, path, LineOf(keyValue), located, errors, reading.Warnings));
                if (errors.Count == before)
                    reading.Origins[located] = new ConfigurationOrigin(path, LineOf(keyValue));
            }
        }
        return config;
    }

    /// <summary>
    /// Keys the Go network-event-broker's own files wrote where it ignored them; ignored here too, with a warning, so
    /// that those files pass unchanged. Its shipped conf/network-broker.toml put Generator= in [Network], where its
    /// reader (a struct without that field) dropped it: the default, systemd-networkd, ran.
    /// </summary>
    private static readonly Dictionary<string, string> GoIgnoredKeys = new(StringComparer.Ordinal)
    {
        ["[Network] Generator"] = "ignored: Generator= belongs in [System] (the Go network-event-broker ignored it here too, " +
            "so systemd-networkd ran; move it to [System] to have it count)",
    };

    /// <summary>NETWORK_EVENT_LOG_LEVEL and NETWORK_EVENT_LOG_FORMAT win over the file.</summary>
    public static BrokerConfiguration ApplyEnvironment(BrokerConfiguration config, Func<string, string?> environment, List<ConfigurationError> errors) =>
        ApplyEnvironment(config, environment, errors, new Dictionary<string, ConfigurationOrigin>());

    private static BrokerConfiguration ApplyEnvironment(BrokerConfiguration config, Func<string, string?> environment, List<ConfigurationError> errors,
        Dictionary<string, ConfigurationOrigin> origins)
    {
        var level = environment(LogLevelVariable);
        if (!string.IsNullOrWhiteSpace(level))
        {
            if (LogLevelNames.TryParseLevel(level, out var parsed))
            {
                config = config with { LogLevel = parsed };
                origins[LoadedConfiguration.KeyName("System", "LogLevel")] = new ConfigurationOrigin($"environment {LogLevelVariable}", 0);
            }
            else
                errors.Add(new ConfigurationError("environment", 0, LogLevelVariable,
                    $"unknown value \"{level}\" (expected debug, info, warn, error or fatal)"));
        }

        var format = environment(LogFormatVariable);
        if (!string.IsNullOrWhiteSpace(format))
        {
            if (LogLevelNames.TryParseFormat(format, out var parsed))
            {
                config = config with { LogFormat = parsed };
                origins[LoadedConfiguration.KeyName("System", "LogFormat")] = new ConfigurationOrigin($"environment {LogFormatVariable}", 0);
            }
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
