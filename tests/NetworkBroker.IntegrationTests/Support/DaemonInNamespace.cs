using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>
/// For tests of the network-broker program in a namespace of the test's own: the namespace, a directory for
/// the configuration and the scripts, a configuration that listens to the kernel alone (dhclient with no
/// lease file), and the daemon started in the namespace and ready.
/// </summary>
public abstract class DaemonInNamespace : IDisposable
{
    protected NetworkNamespace Ns { get; } = NetworkNamespace.Create();
    protected TempDirectory Dir { get; } = new();

    /// <summary>
    /// Writes network-broker.toml: [System] with User= and the kernel as the only busy source (unless a
    /// <paramref name="leaseFile"/> is given), then <paramref name="more"/>.
    /// </summary>
    protected string Config(string user = "root", string system = "", string more = "", string? leaseFile = null) => Dir.Write("network-broker.toml",
        $"[System]\nUser = \"{user}\"\nGenerator = \"dhclient\"\nDHClientLeaseFile = \"{leaseFile ?? Dir.Combine("none", "x.leases")}\"\n{system}{more}");

    /// <summary>Starts the daemon in the namespace and waits for its READY=1 on <paramref name="notify"/>.</summary>
    protected async Task<BrokerBinary> StartAsync(string config, NotifySocket notify)
    {
        var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path },
            prefix: ["ip", "netns", "exec", Ns.Name]);
        Assert.StartsWith("READY=1", await notify.NextAsync(60));
        return broker;
    }

    public virtual void Dispose()
    {
        Ns.Dispose();
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }
}
