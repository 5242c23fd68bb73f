using NetworkBroker.IntegrationTests.Support;

namespace NetworkBroker.IntegrationTests.Networkd;

/// <summary>Recording scripts for the state directories: each run appends one line to a file.</summary>
public static class NetworkdScripts
{
    /// <summary>No router advertisements to wait for, so networkd reaches "configured".</summary>
    public const string StaticNetwork = "[Match]\nName=eth1\n[Network]\nAddress=10.231.0.2/24\nGateway=10.231.0.1\nIPv6AcceptRA=no\n";

    public const string DhcpClientNetwork = "[Match]\nName=eth1\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n";

    public const string DhcpServerNetwork = "[Match]\nName=veth0\n[Network]\nAddress=10.232.0.1/24\nDHCPServer=yes\nIPv6AcceptRA=no\n[DHCPServer]\nPoolOffset=10\nPoolSize=20\n";

    public static readonly string[] States =
        ["no-carrier", "carrier", "degraded", "routable", "configuring", "configured", "off", "dormant", "degraded-carrier", "enslaved", "failed", "pending", "unmanaged", "linger", "initialized"];

    /// <summary>STATE|LINK|LINKINDEX|OperationalState|AdministrativeState|CarrierState|AddressState|OnlineState|lease?|json?</summary>
    public static void Install(BrokerHarness broker)
    {
        foreach (var state in States)
            broker.Directory.Script(state, "10-record",
                $"#!/bin/sh\necho \"$STATE|$LINK|$LINKINDEX|$OperationalState|$AdministrativeState|$CarrierState|$AddressState|$OnlineState|${{DHCP_LEASE:+lease}}|${{JSON:+json}}\" >> {broker.Directory.Path}/record\n" +
                $"[ -n \"$DHCP_LEASE\" ] && printf '%s' \"$DHCP_LEASE\" > {broker.Directory.Path}/lease-$STATE\n" +
                $"[ -n \"$JSON\" ] && printf '%s' \"$JSON\" > {broker.Directory.Path}/json-$STATE\n" +
                "exit 0\n");
        broker.Directory.Script("manager", "10-record",
            $"#!/bin/sh\necho \"manager|$STATE|$OperationalState|$CarrierState|$AddressState\" >> {broker.Directory.Path}/manager-record\n");
    }

    public static string[] Record(BrokerHarness broker, string file = "record")
    {
        var path = broker.Directory.Combine(file);
        return File.Exists(path) ? File.ReadAllLines(path) : [];
    }

    /// <summary>The runs selected by OperationalState (STATE equal to it), as their values: from the record's line
    /// <paramref name="from"/> on, and only <paramref name="link"/>'s when given.</summary>
    public static string[] OperationalRuns(BrokerHarness broker, int from = 0, string? link = null) =>
        Record(broker)[from..].Select(l => l.Split('|')).Where(f => f[0] == f[3] && (link is null || f[1] == link)).Select(f => f[0]).ToArray();

    public static async Task WaitForNetworkdState(BrokerHarness broker, int ifindex, string property, string value, int seconds = 30)
    {
        try
        {
            await BrokerHarness.WaitForAsync(() =>
                broker.Broker.QueryAsync(b => b.Networkd.Link(ifindex)?.GetValueOrDefault(property)).GetAwaiter().GetResult() == value, seconds);
        }
        catch (TimeoutException)
        {
            var now = await broker.Broker.QueryAsync(b => b.Networkd.Link(ifindex)?.GetValueOrDefault(property));
            throw new TimeoutException($"ifindex {ifindex} {property} is {now ?? "unknown"}, not {value}, after {seconds} s. Broker log:\n{broker.Log.Text}");
        }
    }
}
