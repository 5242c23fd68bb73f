using NetworkBroker.Dhclient;

namespace NetworkBroker.Events;

/// <summary>
/// The current (unexpired, last per interface) DHCP leases of one lease file, read after it changed (dhclient's today;
/// a DHCP client's source other than dhclient's would make the same event).
/// </summary>
/// <param name="Initial">Read at start: the state we begin from.</param>
public sealed record LeasesRead(string Path, IReadOnlyList<DhcpLease> Current, bool Initial) : PeerInput;
