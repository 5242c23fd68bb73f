namespace NetworkBroker.Configuration;

/// <summary>One problem in a configuration file, located so that a user can go and fix it.</summary>
/// <param name="Line">1-based; 0 when the problem has no line (an unreadable file, an environment variable).</param>
/// <param name="Key">"[Section] Key", or null when the problem is not about one key.</param>
public sealed record ConfigurationError(string Path, int Line, string? Key, string Message)
{
    public override string ToString()
    {
        var where = Line > 0 ? $"{Path}:{Line}" : Path;
        return Key is null ? $"{where}: {Message}" : $"{where}: {Key}: {Message}";
    }
}

/// <summary>Thrown where a configuration error must stop the program (start-up, check-config).</summary>
public sealed class ConfigurationException(IReadOnlyList<ConfigurationError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ConfigurationError> Errors { get; } = errors;
}
