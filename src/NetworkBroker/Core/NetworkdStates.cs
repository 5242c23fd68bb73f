using System.Collections.Immutable;
using NetworkBroker.Events;
using NetworkBroker.Networkd;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>A link's state property took a new value that selects a script directory.</summary>
/// <param name="States">Every tracked state of the link as of this event.</param>
public sealed record LinkTransition(int IfIndex, string Property, string Value, ImmutableDictionary<string, string> States) : BrokerEvent
{
    /// <summary>Every state property whose value this signal (or read) changed, space-separated, in its order: CHANGED_PROPERTIES.</summary>
    public string ChangedProperties { get; init; } = Property;
}

/// <summary>The manager's properties changed (manager.d runs once per change).</summary>
public sealed record ManagerTransition(ImmutableArray<KeyValuePair<string, string>> Changed, ImmutableDictionary<string, string> States) : BrokerEvent;

/// <summary>
/// What the broker knows of networkd: every link's states and the manager's, updated by signals in the
/// order they came. Pure: each update returns the transitions it makes, so "a transition fires
/// exactly once" is a property of this class, tested without a bus.
/// </summary>
public sealed class NetworkdStates
{
    // Immutable, so that what is remembered across restarts is taken without a copy.
    private ImmutableDictionary<int, ImmutableDictionary<string, string>> _links = ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty;
    private ImmutableDictionary<int, string> _names = ImmutableDictionary<int, string>.Empty;
    private ImmutableDictionary<string, string> _manager = ImmutableDictionary<string, string>.Empty;

    public ImmutableDictionary<string, string>? Link(int index) => _links.GetValueOrDefault(index);

    public int LinkCount => _links.Count;

    /// <summary>networkd's name for a link (from its snapshot), for links the kernel model has not named.</summary>
    public string? NameOf(int index) => _names.GetValueOrDefault(index);

    public ImmutableDictionary<string, string> Manager => _manager;

    /// <param name="selecting">StateProperties=: the properties whose new value selects a directory.</param>
    public IReadOnlyList<BrokerEvent> Apply(LinkStatesChanged change, IReadOnlyList<string>? selecting = null)
    {
        selecting ??= Configuration.BrokerConfiguration.DefaultStateProperties;
        if (change.IfIndex == 0)
        {
            _manager = _manager.SetItems(change.Changed);
            return [new ManagerTransition(change.Changed, _manager)];
        }

        var before = _links.GetValueOrDefault(change.IfIndex) ?? ImmutableDictionary<string, string>.Empty;
        var after = before.SetItems(change.Changed.Where(c => ScriptVariables.LinkStates.Contains(c.Key)));
        _links = _links.SetItem(change.IfIndex, after);
        var transitions = new List<BrokerEvent>(1);
        var changed = ChangedProperties(change.Changed, before);
        foreach (var (property, value) in change.Changed)
        {
            // A repeated value (networkd re-sends a property with others) is not a transition, and one signal
            // runs a directory once even when several properties name it (OperationalState and AddressState
            // both "routable").
            if (selecting.Contains(property) && before.GetValueOrDefault(property) != value && !Selects(transitions, value))
                transitions.Add(new LinkTransition(change.IfIndex, property, value, after) { ChangedProperties = changed });
            before = before.SetItem(property, value);
        }
        return transitions;
    }

    /// <summary>
    /// Takes a fresh read of every state. At start: with <paramref name="replay"/> (RunStartupTriggers=, or the
    /// first start of a boot) every current state fires; with <paramref name="since"/> (a restart) what differs
    /// from the states last run fires; with neither, nothing. After a reconnect or a networkd restart the
    /// differences fire, once each.
    /// </summary>
    public IReadOnlyList<BrokerEvent> Apply(LinkStatesRead snapshot, bool replay, IReadOnlyList<string>? selecting = null,
        RememberedStates? since = null)
    {
        selecting ??= Configuration.BrokerConfiguration.DefaultStateProperties;
        if (!snapshot.Available)
            return [];
        var transitions = new List<BrokerEvent>();
        var initial = snapshot.Reason == LinkStatesReadReason.Initial;
        foreach (var (index, states) in snapshot.Links.OrderBy(l => l.Key))
        {
            var tracked = states.Where(s => ScriptVariables.LinkStates.Contains(s.Key)).ToImmutableDictionary();
            var before = !initial ? _links.GetValueOrDefault(index)
                : replay ? null
                : since?.Link(index, snapshot.Names.GetValueOrDefault(index));
            _links = _links.SetItem(index, tracked);
            if (initial && !replay && since is null)
                continue;
            before ??= ImmutableDictionary<string, string>.Empty;
            var first = transitions.Count;
            var changed = string.Join(' ', ScriptVariables.LinkStates.Where(p => tracked.TryGetValue(p, out var v) && before.GetValueOrDefault(p) != v));
            foreach (var property in selecting)
                if (tracked.TryGetValue(property, out var value) && before.GetValueOrDefault(property) != value && !Selects(transitions.Skip(first), value))
                    transitions.Add(new LinkTransition(index, property, value, tracked) { ChangedProperties = changed });
        }
        _links = _links.RemoveRange(_links.Keys.Where(k => !snapshot.Links.ContainsKey(k)).ToList());
        _names = _names.SetItems(snapshot.Names);

        var managerBefore = initial && !replay && since is not null ? since.Manager : _manager;
        var managerChanged = snapshot.Manager.Where(m => managerBefore.GetValueOrDefault(m.Key) != m.Value).ToImmutableArray();
        _manager = snapshot.Manager;
        var managerRuns = initial ? replay || (since is not null && managerChanged.Length > 0) : managerChanged.Length > 0;
        if (managerRuns && !snapshot.Manager.IsEmpty)
            transitions.Add(new ManagerTransition(initial && replay ? [.. snapshot.Manager] : managerChanged, _manager));
        return transitions;
    }

    /// <summary>
    /// The tracked properties whose value the signal changed, in its order, space-separated. Per signal, so without
    /// LINQ: the usual one property is its own string, several make one string.
    /// </summary>
    private static string ChangedProperties(ImmutableArray<KeyValuePair<string, string>> changes, ImmutableDictionary<string, string> before)
    {
        string? first = null;
        var count = 0;
        var length = 0;
        foreach (var (property, value) in changes)
            if (ScriptVariables.IsLinkState(property) && before.GetValueOrDefault(property) != value)
            {
                first ??= property;
                count++;
                length += property.Length;
            }
        if (count <= 1)
            return first ?? "";
        return string.Create(length + count - 1, (changes, before), static (span, state) =>
        {
            var at = 0;
            foreach (var (property, value) in state.changes)
            {
                if (!ScriptVariables.IsLinkState(property) || state.before.GetValueOrDefault(property) == value)
                    continue;
                if (at > 0)
                    span[at++] = ' ';
                property.AsSpan().CopyTo(span[at..]);
                at += property.Length;
            }
        });
    }

    private static bool Selects(IEnumerable<BrokerEvent> transitions, string value) =>
        transitions.Any(t => t is LinkTransition link && link.Value == value);

    public void Forget(int index)
    {
        _links = _links.Remove(index);
        _names = _names.Remove(index);
    }

    /// <summary>Every link's states and the manager's as of now, for <see cref="StateMemory"/> (no copy).</summary>
    public (ImmutableDictionary<int, ImmutableDictionary<string, string>> Links, ImmutableDictionary<int, string> Names,
        ImmutableDictionary<string, string> Manager) Now => (_links, _names, _manager);
}
