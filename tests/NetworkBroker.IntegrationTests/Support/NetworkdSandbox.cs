using System.Collections.Immutable;
using System.Diagnostics;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>
/// The test bed: a private system bus, a "node" namespace whose eth1 is managed by the real
/// systemd-networkd, and a "peer" namespace holding the other end (veth0) that the test flaps. networkd's
/// /run/systemd is a directory of the test's, so leases and state files can be read from outside.
/// </summary>
public sealed class NetworkdSandbox : IDisposable
{
    private Process? _networkd;
    private Process? _server;
    private PrivateBus? _serverBus;

    /// <param name="prepare">Runs once both namespaces and eth1 exist, before networkd starts: more links, more .network files.</param>
    public NetworkdSandbox(string nodeNetwork, string? peerNetwork = null, Action<NetworkdSandbox>? prepare = null)
    {
        Directory = new TempDirectory();
        Bus = new PrivateBus(Directory.Combine("bus"));
        Node = NetworkNamespace.Create();
        Peer = NetworkNamespace.Create();
        try
        {
            Build(nodeNetwork, peerNetwork, prepare);
        }
        catch
        {
            // A constructor that throws gets no Dispose: remove what was made so far here.
            Dispose();
            throw;
        }
    }

    private void Build(string nodeNetwork, string? peerNetwork, Action<NetworkdSandbox>? prepare)
    {
        Peer.Ip("link add veth0 type veth peer name eth1");
        Peer.Ip($"link set eth1 netns {Node.Name}");
        WriteNetwork("node-network", "10-eth1.network", nodeNetwork);
        if (peerNetwork is null)
        {
            Peer.Ip("addr add 10.231.0.1/24 dev veth0");
            Peer.Ip("link set veth0 up");
        }
        else
        {
            // A second networkd (DHCP server) needs a bus of its own: both would claim org.freedesktop.network1.
            WriteNetwork("peer-network", "10-veth0.network", peerNetwork);
            _serverBus = new PrivateBus(Directory.Combine("server-bus"));
            _server = StartNetworkd(Peer, "peer", _serverBus);
        }
        prepare?.Invoke(this);
        StartNodeNetworkd();
    }

    public TempDirectory Directory { get; }
    public PrivateBus Bus { get; }
    public NetworkNamespace Node { get; }
    public NetworkNamespace Peer { get; }

    /// <summary>networkd's /run/systemd/netif, as seen from outside its mount namespace.</summary>
    public string NetifDirectory => Directory.Combine("node-run", "netif");

    /// <summary>
    /// Writes, into a daemon's runtime directory, the states networkd's state files show now, as a daemon that
    /// ran for them would have remembered them: the daemon started then behaves as after a restart with nothing
    /// changed (its start runs nothing), where a test is about what comes after the start.
    /// </summary>
    public void RememberCurrentStates(string runtimeDirectory)
    {
        var keys = new Dictionary<string, string>
        {
            ["OPER_STATE"] = "OperationalState", ["ADMIN_STATE"] = "AdministrativeState", ["CARRIER_STATE"] = "CarrierState",
            ["ADDRESS_STATE"] = "AddressState", ["IPV4_ADDRESS_STATE"] = "IPv4AddressState", ["IPV6_ADDRESS_STATE"] = "IPv6AddressState",
            ["ONLINE_STATE"] = "OnlineState",
        };
        System.Collections.Immutable.ImmutableDictionary<string, string> Read(string file) =>
            File.ReadAllLines(file).Select(l => l.Split('=', 2)).Where(f => f.Length == 2 && keys.ContainsKey(f[0]) && f[1].Length > 0)
                .ToImmutableDictionary(f => keys[f[0]], f => f[1]);
        var links = global::System.IO.Directory.GetFiles(Path.Combine(NetifDirectory, "links"))
            .ToImmutableDictionary(f => int.Parse(Path.GetFileName(f)), Read);
        var memory = new global::NetworkBroker.Core.RememberedStates(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(), links,
            System.Collections.Immutable.ImmutableDictionary<int, string>.Empty,
            Read(Path.Combine(NetifDirectory, "state")).Remove("AdministrativeState"),
            System.Collections.Immutable.ImmutableDictionary<global::NetworkBroker.Core.LeaseKey, string>.Empty);
        File.WriteAllText(Path.Combine(runtimeDirectory, global::NetworkBroker.Core.StateMemory.FileName), memory.Format());
    }

    /// <summary>networkd's state file of <paramref name="ifindex"/> says routable and configured: what a daemon started now reads.</summary>
    public Task WaitForConfiguredAsync(int ifindex)
    {
        var stateFile = Path.Combine(NetifDirectory, "links", ifindex.ToString());
        return BrokerHarness.WaitForAsync(() => File.Exists(stateFile) && File.ReadAllText(stateFile) is var state
            && state.Contains("OPER_STATE=routable") && state.Contains("ADMIN_STATE=configured"));
    }

    /// <summary>
    /// The daemon binary in the node's namespace on this sandbox's bus, started with <paramref name="config"/> and ready
    /// (READY=1 on <paramref name="notify"/>); with the states networkd shows now remembered (<see cref="RememberCurrentStates"/>)
    /// unless told otherwise. <paramref name="environment"/> adds to the bus's address and NOTIFY_SOCKET.
    /// </summary>
    public async Task<BrokerBinary> StartBrokerAsync(string config, NotifySocket notify, bool rememberStates = true,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var variables = new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = Bus.Address, ["NOTIFY_SOCKET"] = notify.Path };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            variables[name] = value;
        var broker = BrokerBinary.Start(["--config", config], variables, prefix: ["ip", "netns", "exec", Node.Name],
            prepareRuntime: rememberStates ? RememberCurrentStates : null);
        try
        {
            Xunit.Assert.StartsWith("READY=1", await notify.NextAsync(60));
            return broker;
        }
        catch
        {
            broker.Dispose();
            throw;
        }
    }

    public int NetworkdPid => _networkd?.Id ?? 0;

    /// <summary>Another .network file for the node's networkd (read when it starts, or on its Reload).</summary>
    public void WriteNodeNetwork(string file, string contents) => WriteNetwork("node-network", file, contents);

    private void WriteNetwork(string directory, string file, string contents)
    {
        System.IO.Directory.CreateDirectory(Directory.Combine(directory));
        File.WriteAllText(Directory.Combine(directory, file), contents);
    }

    public void StartNodeNetworkd() => _networkd = StartNetworkd(Node, "node", Bus);

    private Process StartNetworkd(NetworkNamespace ns, string name, PrivateBus bus)
    {
        var run = Directory.Combine($"{name}-run");
        System.IO.Directory.CreateDirectory(run);
        var script = $"""
            mount --bind {run} /run/systemd
            mount -o remount,ro,bind /sys
            mount --bind {Directory.Combine($"{name}-network")} /etc/systemd/network
            mkdir -p /run/systemd/netif && chown systemd-network:systemd-network /run/systemd/netif
            exec /lib/systemd/systemd-networkd
            """;
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "netns", "exec", ns.Name, "unshare", "-m", "--propagation", "private", "sh", "-c", script })
            info.ArgumentList.Add(arg);
        info.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = bus.Address;
        info.Environment["SYSTEMD_LOG_LEVEL"] = "info";
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (NetworkdLog) NetworkdLog.Add($"{name}: {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public List<string> NetworkdLog { get; } = [];

    public void KillNetworkd()
    {
        if (_networkd is { HasExited: false })
        {
            _networkd.Kill();
            _networkd.WaitForExit();
        }
        _networkd?.Dispose();
        _networkd = null;
    }

    /// <summary>Stops (SIGSTOP) or lets go on (SIGCONT) the node's networkd: a networkd that hangs, its netlink and bus sockets left open.</summary>
    public void PauseNetworkd(bool paused) => Shell.Run("kill", paused ? "-STOP" : "-CONT", NetworkdPid.ToString());

    /// <summary>Carrier down/up seen by eth1: the peer's end goes down or up.</summary>
    public void Carrier(bool up) => Peer.Ip($"link set veth0 {(up ? "up" : "down")}");

    public void Dispose()
    {
        KillNetworkd();
        if (_server is { HasExited: false })
            _server.Kill();
        _server?.Dispose();
        _serverBus?.Dispose();
        Bus.Dispose();
        Node.Dispose();
        Peer.Dispose();
        Directory.Dispose();
    }
}
