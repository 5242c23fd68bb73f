using System.Text;

namespace NetworkBroker.DBus;

/// <summary>
/// A match rule for org.freedesktop.DBus.AddMatch, rendered as the D-Bus specification writes it ("Match Rules"):
/// <c>key='value'</c> pairs separated by commas. Inside single quotes a backslash is itself and an apostrophe ends
/// the quote, so an apostrophe in a value is written <c>'\''</c> (leave the quote, a backslash-escaped apostrophe,
/// enter again); a comma needs nothing inside quotes. Every value is quoted.
/// <para>
/// A rule only asks the bus what to route to us. It is not a filter we can rely on: a signal addressed to our
/// unique name reaches us whatever our rules say, and <c>sender=</c> with a well-known name is resolved by the bus
/// at delivery. A handler still checks who sent what it acts on (against the name's owner it asked the bus for).
/// </para>
/// </summary>
public sealed record DBusMatchRule
{
    /// <summary>The spec leaves the length open; dbus-daemon refuses rules longer than this.</summary>
    public const int MaxLength = 1024;

    public DBusMessageType? Type { get; init; }
    public string? Sender { get; init; }
    public string? Interface { get; init; }
    public string? Member { get; init; }
    public string? Path { get; init; }
    /// <summary>The path itself and every path below it (not with <see cref="Path"/>).</summary>
    public string? PathNamespace { get; init; }
    public string? Destination { get; init; }
    /// <summary>The first argument, a string equal to this.</summary>
    public string? Arg0 { get; init; }

    /// <summary>The rule as AddMatch takes it; an ArgumentException for a rule the bus would refuse for its form.</summary>
    public override string ToString()
    {
        if (Path is not null && PathNamespace is not null)
            throw new ArgumentException("a match rule takes path or path_namespace, not both");
        foreach (var path in (ReadOnlySpan<string?>)[Path, PathNamespace])
            if (path is not null && !DBusObjectPath.IsValid(path))
                throw new ArgumentException($"\"{path}\" is not an object path");

        var rule = new StringBuilder();
        Append(rule, "type", Type switch
        {
            null => null,
            DBusMessageType.Signal => "signal",
            DBusMessageType.MethodCall => "method_call",
            DBusMessageType.MethodReturn => "method_return",
            DBusMessageType.Error => "error",
            var other => throw new ArgumentException($"message type {(byte)other} has no name in a match rule"),
        });
        Append(rule, "sender", Sender);
        Append(rule, "interface", Interface);
        Append(rule, "member", Member);
        Append(rule, "path", Path);
        Append(rule, "path_namespace", PathNamespace);
        Append(rule, "destination", Destination);
        Append(rule, "arg0", Arg0);
        if (rule.Length > MaxLength)
            throw new ArgumentException($"a match rule of {rule.Length} characters is longer than the bus takes ({MaxLength})");
        return rule.ToString();
    }

    private static void Append(StringBuilder rule, string key, string? value)
    {
        if (value is null)
            return;
        if (value.Contains('\0'))
            throw new ArgumentException($"a match rule's {key} cannot hold NUL");
        if (rule.Length > 0)
            rule.Append(',');
        rule.Append(key).Append("='").Append(value.Replace("'", @"'\''", StringComparison.Ordinal)).Append('\'');
    }
}
