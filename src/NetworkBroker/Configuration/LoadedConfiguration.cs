using System.Collections.Immutable;

namespace NetworkBroker.Configuration;

/// <summary>Where a key's effective value was written: a file and line, or an environment variable (line 0).</summary>
public sealed record ConfigurationOrigin(string Where, int Line)
{
    public override string ToString() => Line > 0 ? $"{Where}:{Line}" : Where;
}

/// <summary>
/// The configuration as read: the effective value, and what an admin needs to understand it: whether the main
/// file exists, the drop-ins read after it (in order), which of them set each key, and the warnings (old idioms
/// that are accepted but likely not meant).
/// </summary>
public sealed record LoadedConfiguration(
    BrokerConfiguration Config,
    bool MainFileExists,
    ImmutableArray<string> DropIns,
    ImmutableDictionary<string, ConfigurationOrigin> Origins,
    ImmutableArray<ConfigurationError> Warnings)
{
    /// <summary>The drop-in directory of a configuration file, systemd's way: <c>FILE.d/</c> beside it.</summary>
    public static string DropInDirectory(string path) => path.TrimEnd('/') + ".d";

    /// <summary>"[Section] Key", the name an origin and an error are filed under.</summary>
    public static string KeyName(string section, string key) => $"[{section}] {key}";
}
