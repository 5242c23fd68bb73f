using System.Collections.Immutable;

namespace NetworkBroker.Configuration;

/// <summary>
/// <c>Links=</c>: which links' events are acted on. Names are matched exactly (<c>eth1</c> never
/// matches <c>eth10</c>) and globs as systemd's Name= does (<see cref="LinkPattern"/>); an empty list
/// means every link.
/// </summary>
public sealed class LinkFilter(ImmutableArray<string> names)
{
    public static readonly LinkFilter All = new([]);

    private readonly HashSet<string> _names = new(names.Where(n => !LinkPattern.IsGlob(n)), StringComparer.Ordinal);
    private readonly string[] _globs = [.. names.Where(LinkPattern.IsGlob)];

    public ImmutableArray<string> Names { get; } = names;

    public bool IsAll => Names.IsEmpty;

    public bool Matches(string? link) => IsAll || (link is not null && (_names.Contains(link) || _globs.Any(g => LinkPattern.Matches(g, link))));

    public override string ToString() => IsAll ? "" : string.Join(' ', Names);
}
