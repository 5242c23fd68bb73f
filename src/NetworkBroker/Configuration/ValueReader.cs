using System.Collections.Immutable;
using Tomlyn.Syntax;

namespace NetworkBroker.Configuration;

/// <summary>
/// Reads one key's value with the conversions the configuration allows, recording any problem
/// against the key's line. Each reader returns false (and records why) when the value is unusable,
/// so the default stays in force and every error in the file is reported in one pass. A value that is
/// accepted but likely not meant is recorded as a warning.
/// </summary>
internal sealed class ValueReader(ValueSyntax? value, string path, int line, string key, List<ConfigurationError> errors,
    List<ConfigurationError>? warnings = null)
{
    public delegate bool TryParse<T>(string text, out T result);

    public bool Boolean(out bool result)
    {
        switch (value)
        {
            case BooleanValueSyntax boolean:
                result = boolean.Value;
                return true;
            case StringValueSyntax text when TryParseBoolean(text.Value, out result):
                return true;
            case IntegerValueSyntax { Value: 0 or 1 } number:
                result = number.Value == 1;
                return true;
            default:
                result = false;
                return Fail($"expected a boolean (true or false; \"yes\"/\"no\"/\"1\"/\"0\" are accepted too), got {Describe()}");
        }
    }

    public static bool TryParseBoolean(string? text, out bool result)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "true" or "yes" or "1" or "on":
                result = true;
                return true;
            case "false" or "no" or "0" or "off":
                result = false;
                return true;
            default:
                result = false;
                return false;
        }
    }

    public bool Integer(long min, long max, out long result)
    {
        result = 0;
        switch (value)
        {
            case IntegerValueSyntax number:
                result = number.Value;
                break;
            case StringValueSyntax text when long.TryParse(text.Value?.Trim(), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var parsed):
                result = parsed;
                break;
            default:
                return Fail($"expected an integer, got {Describe()}");
        }
        return result >= min && result <= max || Fail($"{result} is out of range ({min} to {max})");
    }

    public bool Enum<T>(string expected, TryParse<T> parse, out T result)
    {
        result = default!;
        if (value is not StringValueSyntax { Value: { } text })
            return Fail($"expected a string ({expected}), got {Describe()}");
        return parse(text, out result) || Fail($"unknown value \"{text}\" (expected {expected})");
    }

    public bool Generators(out EventSources result)
    {
        result = EventSources.None;
        if (!Words(out var words))
            return false;
        foreach (var word in words)
        {
            switch (word)
            {
                case EventSourceNames.SystemdNetworkd: result |= EventSources.SystemdNetworkd; break;
                case EventSourceNames.DHClient: result |= EventSources.DHClient; break;
                // A near miss is read as what it nearly names: the Go project's own README sample says "systemd-networks".
                case var typo when Cli.NearestWord.Find(typo, [EventSourceNames.SystemdNetworkd, EventSourceNames.DHClient]) is { } meant:
                    result |= meant == EventSourceNames.DHClient ? EventSources.DHClient : EventSources.SystemdNetworkd;
                    Warn(meant == EventSourceNames.SystemdNetworkd
                        ? $"unknown generator \"{typo}\", read as {meant}; the Go network-event-broker read any value without " +
                          $"\"{meant}\" as dhclient: write \"{meant}\", or \"{EventSourceNames.DHClient}\" if that is what ran"
                        : $"unknown generator \"{typo}\", read as {meant}: write \"{meant}\"");
                    break;
                default:
                    return Fail($"unknown generator \"{word}\" (expected {EventSourceNames.SystemdNetworkd} and/or {EventSourceNames.DHClient})");
            }
        }
        return result != EventSources.None || Fail("at least one generator is needed");
    }

    /// <summary>networkd link properties (of <see cref="Scripts.ScriptVariables.LinkStates"/>), separated by spaces.</summary>
    public bool StateProperties(out ImmutableArray<string> result)
    {
        result = [];
        if (!Words(out var words))
            return false;
        foreach (var word in words)
            if (!Scripts.ScriptVariables.LinkStates.Contains(word))
                return Fail($"\"{word}\" is not a networkd link state property (expected some of {string.Join(' ', Scripts.ScriptVariables.LinkStates)})");
        if (words.Count == 0)
            return Fail("at least one property is needed");
        result = [.. words.Distinct(StringComparer.Ordinal)];
        return true;
    }

    public bool LinkNames(out ImmutableArray<string> result)
    {
        result = [];
        if (!Words(out var words))
            return false;
        foreach (var word in words)
        {
            // The Go network-event-broker's configurations often say "eth0,eth1".
            if (word.Contains(',', StringComparison.Ordinal))
                return Fail($"\"{word}\": names are separated by spaces, not commas (write \"{string.Join(' ', word.Split(',', StringSplitOptions.RemoveEmptyEntries))}\")");
            if (!LinkName.IsValid(word))
                return Fail($"\"{word}\" is not a valid interface name or glob");
            if (LinkPattern.IsNameStem(word))
                Warn($"\"{word}\" matches only a link named exactly {word}; for every link whose name begins with {word}, write \"{word}*\"");
        }
        result = [.. words.Distinct(StringComparer.Ordinal)];
        return true;
    }

    public bool UserName(out string result)
    {
        result = "";
        if (value is not StringValueSyntax { Value: { } text } || (text = text.Trim()).Length == 0)
            return Fail($"expected a user name, got {Describe()}");
        if (text.Length > 32 || text.Any(c => c is ':' or '/' || char.IsWhiteSpace(c) || char.IsControl(c)))
            return Fail($"\"{text}\" is not a valid user name");
        result = text;
        return true;
    }

    /// <summary>Absolute directories separated by spaces (or an array of strings), at least one.</summary>
    public bool AbsolutePaths(out ImmutableArray<string> result)
    {
        result = [];
        if (!Words(out var words))
            return false;
        if (words.Count == 0)
            return Fail("at least one path is needed");
        foreach (var word in words)
            if (!word.StartsWith('/') || word.Contains('\0'))
                return Fail($"\"{word}\" is not an absolute path");
        result = [.. words.Select(w => w.Length > 1 ? w.TrimEnd('/') : w).Distinct(StringComparer.Ordinal)];
        return true;
    }

    public bool AbsolutePath(out string result)
    {
        result = "";
        if (value is not StringValueSyntax { Value: { } text } || text.Length == 0)
            return Fail($"expected a path, got {Describe()}");
        if (!text.StartsWith('/'))
            return Fail($"\"{text}\" is not an absolute path");
        result = text;
        return true;
    }

    /// <summary>A whitespace-separated string (the Go network-event-broker's form) or an array of strings.</summary>
    private bool Words(out List<string> words)
    {
        words = [];
        switch (value)
        {
            case StringValueSyntax { Value: { } text }:
                words.AddRange(text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                return true;
            case ArraySyntax array:
                foreach (var item in array.Items)
                {
                    if (item.Value is not StringValueSyntax { Value: { } element })
                        return Fail("expected an array of strings");
                    words.AddRange(element.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                }
                return true;
            default:
                return Fail($"expected a whitespace-separated string, got {Describe()}");
        }
    }

    private string Describe() => value switch
    {
        null => "nothing",
        StringValueSyntax s => $"\"{s.Value}\"",
        BooleanValueSyntax b => b.Value ? "true" : "false",
        IntegerValueSyntax i => i.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        FloatValueSyntax => "a float",
        ArraySyntax => "an array",
        InlineTableSyntax => "a table",
        DateTimeValueSyntax => "a date",
        _ => "an unsupported value",
    };

    private void Warn(string message) => warnings?.Add(new ConfigurationError(path, line, key, message));

    private bool Fail(string message)
    {
        errors.Add(new ConfigurationError(path, line, key, message));
        return false;
    }
}
