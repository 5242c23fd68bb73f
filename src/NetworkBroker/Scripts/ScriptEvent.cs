namespace NetworkBroker.Scripts;

/// <summary>
/// One request to run a state directory's scripts: the scripts of <c>&lt;State&gt;.d</c>, for a link
/// (or the manager, when <see cref="Link"/> is null), with the event's variables.
/// </summary>
public sealed record ScriptEvent(string State, string? Link, int IfIndex, IReadOnlyList<KeyValuePair<string, string>> Environment)
{
    /// <summary>
    /// Variables that take reading files to know (a lease, networkd's state file, sysfs): computed when the
    /// event's scripts are about to run, on the dispatcher, never on the broker's loop, and not at all when the
    /// directory has nothing to run. Shared by the events of one signal, so it is computed once for them.
    /// </summary>
    public Lazy<IReadOnlyList<KeyValuePair<string, string>>>? Deferred { get; init; }

    /// <summary>
    /// What this run stands for in the restart memory (a link's state property, the manager, an interface's leases),
    /// or null for runs that are not remembered: routes.d, and what run-scripts asked for.
    /// </summary>
    public Core.RememberedRun? Remembers { get; init; }

    /// <summary>Someone waiting on this event's runs (run-scripts), or null.</summary>
    public ScriptObserver? Observer { get; init; }

    /// <summary>Events with the same key run strictly one after another, in the order they were queued.</summary>
    public string OrderingKey => Link ?? "(manager)";
}
