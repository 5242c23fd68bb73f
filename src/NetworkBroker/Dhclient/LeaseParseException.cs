namespace NetworkBroker.Dhclient;

/// <summary>A lease file that does not parse; <see cref="Incomplete"/> when it merely ends early (a writer is mid-write).</summary>
public sealed class LeaseParseException(string path, int line, string message, bool incomplete = false)
    : Exception($"{path}:{line}: {message}")
{
    public int Line { get; } = line;
    public bool Incomplete { get; } = incomplete;
}
