using System.Buffers;
using System.Collections.Immutable;

namespace NetworkBroker.Core;

/// <summary>
/// What the states file says now, as <see cref="RememberedStates.Parse"/> would read it: the last whole write, then
/// every line appended since (changes and queued marks). Kept by the file's one writer, so that a new state goes to
/// the file as the lines that changed, appended, instead of a whole new file: beside 1,000 links each write was a
/// 164 KB text formatted, written to a new file and renamed, for one changed line. Pure: the lines go to a buffer.
/// </summary>
public sealed class StatesFileView
{
    private readonly Dictionary<int, (string Name, ImmutableDictionary<string, string> States)> _links = [];
    private ImmutableDictionary<string, string> _manager = ImmutableDictionary<string, string>.Empty;
    private readonly Dictionary<LeaseKey, string> _leases = [];
    private readonly List<int> _goneLinks = [];
    private readonly List<LeaseKey> _goneLeases = [];

    /// <summary>The file was written whole: it says <paramref name="states"/> less what <paramref name="omitted"/> leaves out.</summary>
    public void Reset(RememberedStates states, RememberedStates.Omitted? omitted)
    {
        _links.Clear();
        foreach (var (index, links) in states.Links)
            _links[index] = (states.Names.GetValueOrDefault(index) ?? "", Effective(index, links, omitted));
        _manager = omitted is { Manager: true } ? ImmutableDictionary<string, string>.Empty : states.Manager;
        _leases.Clear();
        foreach (var (key, value) in states.Leases)
            if (omitted is null || !omitted.Interfaces.Contains(key.Interface))
                _leases[key] = value;
        BurstCapacity.TrimAfterBurst(_links);
        BurstCapacity.TrimAfterBurst(_leases);
    }

    /// <summary>A queued mark was appended: a reader forgets what the run stands for.</summary>
    public void Forget(RememberedRun run)
    {
        switch (run.Kind)
        {
            case RememberedRunKind.Manager:
                _manager = ImmutableDictionary<string, string>.Empty;
                break;
            case RememberedRunKind.LinkState when run.Property is { } property && _links.TryGetValue(run.IfIndex, out var link):
                _links[run.IfIndex] = (link.Name, link.States.Remove(property));
                break;
            case RememberedRunKind.Lease:
                _goneLeases.Clear();
                foreach (var key in _leases.Keys)
                    if (key.Interface == run.Name)
                        _goneLeases.Add(key);
                foreach (var key in _goneLeases)
                    _leases.Remove(key);
                _goneLeases.Clear();
                break;
        }
    }

    /// <summary>
    /// Writes to <paramref name="output"/> the lines that bring the file from what it says to <paramref name="states"/>
    /// less what <paramref name="omitted"/> leaves out, and from then on says that. Nothing when nothing changed.
    /// Beside 1,000 links: a look-up per link (their states are shared, immutable, compared by reference first).
    /// </summary>
    public void WriteChanges(IBufferWriter<byte> output, RememberedStates states, RememberedStates.Omitted? omitted)
    {
        foreach (var (index, links) in states.Links)
        {
            var name = states.Names.GetValueOrDefault(index) ?? "";
            var effective = Effective(index, links, omitted);
            if (_links.TryGetValue(index, out var known) && known.Name == name && Same(known.States, effective))
                continue;
            _links[index] = (name, effective);
            RememberedStates.WriteLink(output, index, name, effective);
        }
        // Every link of the states is in the view now: any more are gone.
        if (_links.Count > states.Links.Count)
        {
            _goneLinks.Clear();
            foreach (var index in _links.Keys)
                if (!states.Links.ContainsKey(index))
                    _goneLinks.Add(index);
            foreach (var index in _goneLinks)
            {
                _links.Remove(index);
                RememberedStates.WriteForgetLink(output, index);
            }
            _goneLinks.Clear();
            BurstCapacity.TrimAfterBurst(_goneLinks);
        }

        var manager = omitted is { Manager: true } ? ImmutableDictionary<string, string>.Empty : states.Manager;
        if (!Same(_manager, manager))
        {
            _manager = manager;
            RememberedStates.WriteManager(output, manager);
        }

        _goneLeases.Clear();
        foreach (var key in _leases.Keys)
            if (!states.Leases.ContainsKey(key) || omitted is not null && omitted.Interfaces.Contains(key.Interface))
                _goneLeases.Add(key);
        foreach (var key in _goneLeases)
        {
            _leases.Remove(key);
            RememberedStates.WriteForgetLease(output, key);
        }
        _goneLeases.Clear();
        foreach (var (key, value) in states.Leases)
        {
            if (omitted is not null && omitted.Interfaces.Contains(key.Interface) || _leases.GetValueOrDefault(key) == value)
                continue;
            _leases[key] = value;
            RememberedStates.WriteLease(output, key, value);
        }
    }

    /// <summary>A link's states less the properties whose runs are queued.</summary>
    private static ImmutableDictionary<string, string> Effective(int index, ImmutableDictionary<string, string> states, RememberedStates.Omitted? omitted)
    {
        if (omitted is null || !omitted.Links.Contains(index))
            return states;
        foreach (var property in Scripts.ScriptVariables.LinkStates)
            if (omitted.LinkStates.Contains((index, property)))
                states = states.Remove(property);
        return states;
    }

    private static bool Same(ImmutableDictionary<string, string> a, ImmutableDictionary<string, string> b)
    {
        if (ReferenceEquals(a, b))
            return true;
        if (a.Count != b.Count)
            return false;
        foreach (var (key, value) in a)
            if (!b.TryGetValue(key, out var other) || other != value)
                return false;
        return true;
    }
}
