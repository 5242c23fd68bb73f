using System.Collections.Frozen;

namespace NetworkBroker.Scripts;

/// <summary>
/// Every variable a script can be given, by name: those <see cref="EventEnvironment"/> makes (the README's tables)
/// and networkd's states under their property names, and nothing else. A peer's words
/// (a networkd property, a lease option) never become a variable name: a name that is not here is dropped
/// before exec, so a forged "PATH" or "LD_PRELOAD" cannot reach a script. PATH and LANG are the daemon's
/// own fixed values (<see cref="ScriptEnvironment"/>).
/// </summary>
public static class ScriptVariables
{
    /// <summary>The link states networkd publishes (org.freedesktop.network1(5)), passed as Name=value.</summary>
    public static readonly IReadOnlyList<string> LinkStates =
        ["OperationalState", "AdministrativeState", "CarrierState", "AddressState", "IPv4AddressState", "IPv6AddressState", "OnlineState"];

    /// <summary>The manager's string properties (the same states, without AdministrativeState).</summary>
    public static readonly IReadOnlyList<string> ManagerStates =
        ["OperationalState", "CarrierState", "AddressState", "IPv4AddressState", "IPv6AddressState", "OnlineState"];

    /// <summary>The event's own variables (link, state, lease, description, routes; networkd-dispatcher's): <see cref="EventEnvironment.Names"/>.</summary>
    public static IReadOnlyList<string> EventVariables => EventEnvironment.Names;

    /// <summary>Set by the daemon itself, never from an event.</summary>
    public static readonly IReadOnlyList<string> ProcessVariables = ["PATH", "LANG"];

    private static readonly FrozenSet<string> Allowed = EventVariables.Concat(LinkStates).ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> LinkStateSet = LinkStates.ToFrozenSet(StringComparer.Ordinal);

    // The words networkd's states take (networkctl(1), org.freedesktop.network1(5)).
    private static readonly FrozenSet<string> KnownStateWords = new[]
    {
        "missing", "off", "no-carrier", "dormant", "degraded-carrier", "carrier", "degraded", "enslaved", "routable",
        "offline", "partial", "online", "pending", "initialized", "configuring", "configured", "unmanaged", "failed", "linger",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="name"/> is one of networkd's link state properties (no allocation).</summary>
    public static bool IsLinkState(string name) => LinkStateSet.Contains(name);

    /// <summary>Whether an event may set <paramref name="name"/>.</summary>
    public static bool IsEventVariable(string name) => Allowed.Contains(name);

    /// <summary>
    /// The one instance of a known state word (the value itself when it is not one): every link holds its states for
    /// as long as it exists, seven words each, which beside 1,000 links were 7,000 copies of some twenty words.
    /// </summary>
    public static string SharedStateWord(string word) => KnownStateWords.TryGetValue(word, out var shared) ? shared : word;

    /// <summary>
    /// The instance in <paramref name="known"/> (<see cref="LinkStates"/>, <see cref="ManagerStates"/>) that is
    /// <paramref name="name"/>, or null when none is (no allocation): a state property's name, held as long as its link.
    /// </summary>
    public static string? KnownName(IReadOnlyList<string> known, ReadOnlySpan<char> name)
    {
        foreach (var candidate in known)
            if (name.SequenceEqual(candidate))
                return candidate;
        return null;
    }

    /// <summary>
    /// networkd's state vocabulary, the only values a state property may take: a lower-case word or words
    /// joined by '-' ("no-carrier", "degraded-carrier"), at most 32 characters. It also names a directory
    /// (&lt;value&gt;.d), so nothing that could be a path ("..", "/") passes.
    /// </summary>
    public static bool IsStateWord(string value)
    {
        if (value.Length is 0 or > 32 || value[0] is < 'a' or > 'z')
            return false;
        foreach (var c in value)
            if (c is not (>= 'a' and <= 'z' or >= '0' and <= '9' or '-'))
                return false;
        return true;
    }
}
