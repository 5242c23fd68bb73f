using System.Collections.Immutable;

namespace NetworkBroker.Configuration;

/// <summary>
/// <c>Links=</c>: which links' events are acted on. Names are matched exactly (<c>eth1</c> never
/// matches <c>eth10</c>); an empty list means every link.
/// </summary>
public sealed class LinkFilter(ImmutableArray<string> names)
{
    public static readonly LinkFilter All = new([]);

    private readonly HashSet<string> _names = new(names, StringComparer.Ordinal);

    public ImmutableArray<string> Names { get; } = names;

    public bool IsAll => Names.IsEmpty;

    public bool Matches(string? link) => IsAll || (link is not null && _names.Contains(link));

    public override string ToString() => IsAll ? "" : string.Join(' ', Names);
}
