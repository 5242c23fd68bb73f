using System.Collections.Immutable;

namespace NetworkBroker.Events;

/// <summary>
/// The link states a peer reports: a link's (IfIndex &gt; 0) or the manager's (IfIndex 0) states that changed, in the
/// order the peer gave them, in the core's vocabulary (OperationalState, AdministrativeState, CarrierState, ...;
/// <see cref="Scripts.ScriptVariables.LinkStates"/>). networkd's PropertiesChanged signal maps onto it
/// (<see cref="Networkd.NetworkdSignals"/>); another network manager's source would make the same event.
/// </summary>
public sealed record LinkStatesChanged(int IfIndex, ImmutableArray<KeyValuePair<string, string>> Changed) : PeerInput;

/// <summary>Why the peer's states were read in full.</summary>
public enum LinkStatesReadReason
{
    /// <summary>At start: the state we begin from (compared with what was remembered, or replayed: see NetworkdStates).</summary>
    Initial,
    /// <summary>After the bus connection was lost and made again: what changed meanwhile was missed.</summary>
    Reconnected,
    /// <summary>The peer itself restarted (networkd: a new owner of org.freedesktop.network1).</summary>
    Restarted,
}

/// <summary>Every link's states and the manager's, read from the peer in full (networkd's ListLinks and GetAll).</summary>
/// <param name="Names">Link names as networkd knows them (a fallback when the kernel model has not seen the link).</param>
/// <param name="Available">
/// false when the peer (networkd) was not on the bus to be asked: its links' states are then unknown, not gone, and what
/// was known is kept until networkd answers again (a bus back before networkd must not make every state news).
/// </param>
public sealed record LinkStatesRead(
    ImmutableDictionary<int, ImmutableDictionary<string, string>> Links,
    ImmutableDictionary<int, string> Names,
    ImmutableDictionary<string, string> Manager,
    LinkStatesReadReason Reason,
    bool Available = true) : PeerInput;
