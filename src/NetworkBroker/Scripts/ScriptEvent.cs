namespace NetworkBroker.Scripts;

/// <summary>
/// One request to run a state directory's scripts: the scripts of <c>&lt;State&gt;.d</c>, for a link
/// (or the manager, when <see cref="Link"/> is null), with the event's variables.
/// </summary>
public sealed record ScriptEvent(string State, string? Link, int IfIndex, IReadOnlyList<KeyValuePair<string, string>> Environment)
{
    /// <summary>Events with the same key run strictly one after another, in the order they were queued.</summary>
    public string OrderingKey => Link ?? "(manager)";
}
