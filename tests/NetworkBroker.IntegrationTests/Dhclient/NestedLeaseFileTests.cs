using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Dhclient;

/// <summary>
/// A lease file of blocks nested far deeper than dhclient writes, read by the program as users run it: at start
/// (where every start reads it again) and when one appears while the daemon runs. Each is an error naming the file
/// and line; the daemon goes on and the next good lease runs its scripts.
/// </summary>
public class NestedLeaseFileTests : DaemonInNamespace
{
    private static string Lease(string address) =>
        $"lease {{\n  interface \"eth0\";\n  fixed-address {address};\n  option subnet-mask 255.255.255.0;\n  expire never;\n}}\n";

    /// <summary>Written aside and renamed into place, as dhclient does: the daemon never reads half of it.</summary>
    private static void Replace(string path, string text)
    {
        File.WriteAllText(path + ".new", text);
        File.Move(path + ".new", path, overwrite: true);
    }

    [Fact]
    public async Task A_lease_file_nested_300000_deep_is_an_error_with_its_line_at_start_and_while_running_and_the_next_lease_runs()
    {
        Ns.Ip("link add eth0 type veth peer name peer0");
        Ns.Ip("link set eth0 up");
        var leases = Dir.Combine("leases");
        Directory.CreateDirectory(leases);
        var lease = Path.Combine(leases, "dhclient.eth0.leases");
        // 300 KB of '{' after a lease's first lines: the parser's stack would have gone with the process.
        var nested = "lease {\n  interface \"eth0\";\n" + new string('{', 300_000) + "\n";
        File.WriteAllText(lease, nested);
        var runs = Dir.Combine("runs");
        Dir.Script("routable", "10-record", $"#!/bin/sh\necho \"$LINK $DHCP_LEASE\" >> {runs}\n");
        string[] Runs() => File.Exists(runs) ? File.ReadAllLines(runs) : [];

        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(Config(leaseFile: lease), notify);
        var error = $"dhclient: ignoring {lease}: {lease}:3: blocks nest deeper than 8 levels";
        int Errors() => broker.StandardError.Split('\n').Count(l => l.Contains(error));
        await BrokerHarness.WaitForAsync(() => Errors() == 1);

        Replace(lease, Lease("10.0.0.5"));
        await BrokerHarness.WaitForAsync(() => Runs().Length == 1);
        Assert.StartsWith("eth0 ADDRESS=10.0.0.5,", Runs()[0]);

        // The same again while it runs: an error, and the lease it had stays.
        Replace(lease, nested);
        await BrokerHarness.WaitForAsync(() => Errors() == 2);
        Assert.Single(Runs());
        Replace(lease, Lease("10.0.0.6"));
        await BrokerHarness.WaitForAsync(() => Runs().Length == 2);
        Assert.StartsWith("eth0 ADDRESS=10.0.0.6,", Runs()[1]);

        Assert.False(broker.HasExited);
        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
