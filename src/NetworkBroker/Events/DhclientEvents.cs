using NetworkBroker.Dhclient;

namespace NetworkBroker.Events;

/// <summary>The current (unexpired, last per interface) leases of one dhclient lease file, read after it changed.</summary>
/// <param name="Initial">Read at start: the state we begin from.</param>
public sealed record DhclientLeases(string Path, IReadOnlyList<DhcpLease> Current, bool Initial) : PeerInput;
