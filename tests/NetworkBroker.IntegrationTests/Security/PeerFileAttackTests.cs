using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using static NetworkBroker.IntegrationTests.Networkd.NetworkdScripts;

namespace NetworkBroker.IntegrationTests.Security;

/// <summary>
/// networkd's user controls /run/systemd/netif: here it plants a FIFO, a link to a root-only file, a giant and
/// a file of another user where the broker reads a link's state and lease, while the real networkd flaps the link.
/// </summary>
public class PeerFileAttackTests : IDisposable
{
    private const string Secret = "root:$y$j9T$SECRETHASH:19000:0:99999:7:::";
    private readonly NetworkdSandbox _sandbox = new(StaticNetwork);
    private readonly TempDirectory _netif = new();
    private readonly TempDirectory _private = new();

    public void Dispose()
    {
        _sandbox.Dispose();
        _netif.Dispose();
        _private.Dispose();
    }

    private const string AsNetworkd = "setpriv --reuid=systemd-network --regid=systemd-network --clear-groups";

    private void Plant(string relative, string command)
    {
        var path = _netif.Combine(relative);
        Shell.Run("sh", "-c", $"rm -f {path} && {command.Replace("{}", path)}");
    }

    [Fact]
    public async Task A_FIFO_a_link_to_a_secret_a_giant_and_a_strangers_file_are_refused_and_the_link_is_still_served()
    {
        var eth1 = _sandbox.Node.IfIndex("eth1");
        var secret = _private.Write("shadow", Secret + "\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead);
        foreach (var sub in new[] { "links", "leases" })
            Directory.CreateDirectory(_netif.Combine(sub));
        Shell.Run("chown", "-R", "systemd-network:systemd-network", _netif.Path);
        Plant($"links/{eth1}", $"{AsNetworkd} mkfifo {{}}");
        Plant($"leases/{eth1}", $"{AsNetworkd} ln -s {secret} {{}}");

        await using var broker = await BrokerHarness.StartAsync(_sandbox.Node, networkd: _sandbox, netifDirectory: _netif.Path, beforeStart: Install);
        await WaitForNetworkdState(broker, eth1, "OperationalState", "routable");
        await broker.IdleAsync();

        async Task FlapAndCheck(string expectedRefusal)
        {
            var before = Record(broker).Length;
            _sandbox.Carrier(false);
            await WaitForNetworkdState(broker, eth1, "OperationalState", "no-carrier");
            await WaitForNetworkdState(broker, eth1, "IPv4AddressState", "off");
            _sandbox.Carrier(true);
            await WaitForNetworkdState(broker, eth1, "OperationalState", "routable");
            // The loop answers at once: a read of the planted file never blocks it.
            await broker.Broker.QueryAsync(b => b.EventsHandled).WaitAsync(TimeSpan.FromSeconds(5));
            await broker.IdleAsync();
            var runs = Record(broker)[before..].Select(l => l.Split('|')).Where(f => f[0] == f[3] && f[1] == "eth1").ToList();
            Assert.Equal("no-carrier", runs[0][0]);
            Assert.Equal("routable", runs[^1][0]);
            Assert.All(runs, f => Assert.Equal("", f[8])); // no DHCP_LEASE from anything refused
            Assert.All(runs, f => Assert.Equal("json", f[9])); // the link is still described, from the kernel
            Assert.Contains(broker.Log.Lines, l => l.Contains(expectedRefusal));
        }

        await FlapAndCheck($"not reading {_netif.Combine("links", eth1.ToString())}: a FIFO, not a regular file");
        Assert.Contains(broker.Log.Lines, l => l.Contains($"not reading {_netif.Combine("leases", eth1.ToString())}: a symbolic link"));

        // A 5 MB lease file of networkd's user, then a lease file of another user.
        Plant($"leases/{eth1}", $"{AsNetworkd} truncate -s 5M {{}}");
        await FlapAndCheck("5242880 bytes, over the limit of 1048576");
        // Written aside and renamed into place: written in place, it is root's (and so trusted) until the chown, and a
        // run that starts in that moment (networkd's late "configured") rightly reads it.
        Plant($"leases/{eth1}", $"echo ADDRESS=10.9.9.9 > {{}}.new && chown nobody {{}}.new && mv {{}}.new {{}}");
        await FlapAndCheck("owned by uid 65534, not by root or systemd-network");

        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains("SECRETHASH"));
        Assert.All(Directory.GetFiles(broker.Directory.Path, "lease-*"), f => Assert.DoesNotContain("SECRETHASH", File.ReadAllText(f)));
        Assert.Empty(Directory.GetFiles(broker.Directory.Path, "lease-*"));
    }
}
