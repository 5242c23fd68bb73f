using System.Collections.Immutable;

namespace NetworkBroker.Events;

/// <summary>A PropertiesChanged signal of networkd: a link's (IfIndex &gt; 0) or the manager's (IfIndex 0) string properties that changed, in signal order.</summary>
public sealed record NetworkdPropertiesChanged(int IfIndex, ImmutableArray<KeyValuePair<string, string>> Changed) : PeerInput;

public enum NetworkdSnapshotReason
{
    /// <summary>At start: the state we begin from (compared with what was remembered, or replayed: see NetworkdStates).</summary>
    Initial,
    /// <summary>After the bus connection was lost and made again: what changed meanwhile was missed.</summary>
    Reconnected,
    /// <summary>networkd itself restarted (a new owner of org.freedesktop.network1).</summary>
    Restarted,
}

/// <summary>Every link's states and the manager's, read from networkd.</summary>
/// <param name="Names">Link names as networkd knows them (a fallback when the kernel model has not seen the link).</param>
/// <param name="Available">
/// false when networkd was not on the bus to be asked: its links' states are then unknown, not gone, and what
/// was known is kept until networkd answers again (a bus back before networkd must not make every state news).
/// </param>
public sealed record NetworkdSnapshot(
    ImmutableDictionary<int, ImmutableDictionary<string, string>> Links,
    ImmutableDictionary<int, string> Names,
    ImmutableDictionary<string, string> Manager,
    NetworkdSnapshotReason Reason,
    bool Available = true) : PeerInput;
