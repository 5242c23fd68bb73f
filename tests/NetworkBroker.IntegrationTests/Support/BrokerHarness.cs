using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Hosting;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>
/// The daemon's own composition (<see cref="Daemon"/>) with its kernel socket in a test's namespace, its scripts in a
/// temporary directory, no control socket, restart memory or systemd, and a record of what the broker observed.
/// </summary>
public sealed class BrokerHarness : IAsyncDisposable
{
    private readonly List<BrokerEvent> _observed = [];

    private BrokerHarness(NetworkNamespace ns, BrokerConfiguration config, Daemon daemon, TempDirectory directory, MemoryLog log)
    {
        Namespace = ns;
        Config = config;
        Daemon = daemon;
        Directory = directory;
        Log = log;
    }

    public NetworkNamespace Namespace { get; }
    public BrokerConfiguration Config { get; }
    public Daemon Daemon { get; }
    public Broker Broker => Daemon.Broker;
    public ScriptDispatcher Scripts => Daemon.Scripts;
    public TempDirectory Directory { get; }
    public MemoryLog Log { get; }
    public KernelWatcher Watcher => Daemon.Kernel!;
    public NetworkBroker.Networkd.NetworkdSource? NetworkdSource => Daemon.Networkd;

    /// <param name="configure">Adjusts the configuration (its Path is set to the harness's temp directory).</param>
    /// <param name="netifDirectory">Where the broker reads networkd's state and lease files, if not networkd's own.</param>
    public static async Task<BrokerHarness> StartAsync(NetworkNamespace ns, Func<BrokerConfiguration, BrokerConfiguration>? configure = null,
        int receiveBuffer = NetlinkMonitor.DefaultReceiveBuffer, TimeSpan? routesWindow = null, Action<BrokerEvent>? observe = null,
        NetworkdSandbox? networkd = null, Action<BrokerHarness>? beforeStart = null, bool policyRouting = false,
        string? dhclientLeaseFile = null, NetworkBroker.Dhclient.IResolverPusher? resolver = null, string? netifDirectory = null,
        string? udevDirectory = null)
    {
        var directory = new TempDirectory();
        var config = (configure ?? (c => c))(new BrokerConfiguration { Path = directory.Combine("network-broker.toml") });
        var log = new MemoryLog(Logging.LogLevel.Debug);
        var daemon = Daemon.Compose(new DaemonOptions(config, log.Logger)
        {
            ScriptRunner = new ScriptRunnerOptions { ScriptRoot = directory.Path, SpillDirectory = directory.Combine("spill") },
            Kernel = events => ns.Enter(() => new KernelWatcher(events, log.Logger, receiveBuffer)),
            PolicyRouting = policyRouting,
            NetworkdBus = networkd?.Bus.Address,
            NetworkdFiles = networkd is null ? null : new NetworkBroker.Networkd.NetworkdFiles(netifDirectory ?? networkd.NetifDirectory, log.Logger),
            DhclientLeaseFiles = dhclientLeaseFile is null ? [] : [dhclientLeaseFile],
            Resolver = resolver,
            // The host's udev (if any) knows the host's links, not the namespace's: a test's own directory, absent unless given.
            Udev = new NetworkBroker.Udev.UdevDatabase(udevDirectory ?? directory.Combine("udev"), log.Logger),
            RoutesWindow = routesWindow,
        });
        var harness = new BrokerHarness(ns, config, daemon, directory, log);
        beforeStart?.Invoke(harness);

        var initial = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        daemon.Broker.Observed += e =>
        {
            lock (harness._observed)
                harness._observed.Add(e);
            if (e is KernelResynced { Reason: ResyncReason.Initial })
                initial.TrySetResult();
            observe?.Invoke(e);
        };
        await daemon.StartAsync();
        await initial.Task.WaitAsync(TimeSpan.FromSeconds(30));
        if (networkd is not null)
            await WaitForAsync(() => harness.Observed.OfType<LinkStatesRead>().Any());
        return harness;
    }

    public IReadOnlyList<BrokerEvent> Observed
    {
        get
        {
            lock (_observed)
                return [.. _observed];
        }
    }

    public IReadOnlyList<KernelChange> ChangesOf(int ifindex) =>
        Observed.OfType<KernelChange>().Where(c => c.IfIndex == ifindex).ToList();

    /// <summary>Waits until the broker's loop has handled what is queued and every script it started has run.</summary>
    public async Task IdleAsync()
    {
        await Broker.QueryAsync(_ => 0);
        await Scripts.WhenIdle().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits until the broker has handled everything the kernel reported so far: a marker address on lo must come through.</summary>
    public async Task SettleAsync()
    {
        var marker = $"127.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}";
        Namespace.Ip($"addr add {marker}/32 dev lo");
        await WaitForAsync(() => Observed.OfType<AddressAdded>().Any(a => a.Address.Address.ToString() == marker));
        Namespace.Ip($"addr del {marker}/32 dev lo");
        await WaitForAsync(() => Observed.OfType<AddressRemoved>().Any(a => a.Address.Address.ToString() == marker));
    }

    public static async Task WaitForAsync(Func<Task<bool>> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("condition not met within " + seconds + " s");
            await Task.Delay(20);
        }
    }

    public static async Task WaitForAsync(Func<bool> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("condition not met within " + seconds + " s");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Until the daemon program <paramref name="broker"/> (asked through its control socket) runs no script and its
    /// counts of events and runs stay the same across 300 ms.
    /// </summary>
    public static Task WaitForIdleAsync(BrokerBinary broker)
    {
        var socket = Path.Combine(broker.RuntimeDirectory, "control");
        return WaitForAsync(async () =>
        {
            var first = await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10));
            await Task.Delay(300);
            var second = await Control.ControlClient.StatusAsync(socket, TimeSpan.FromSeconds(10));
            return second.ScriptsRunning == 0 && second.ScriptEvents == first.ScriptEvents && second.Events == first.Events;
        });
    }

    /// <summary>Stops the components as the daemon does on SIGTERM (policy routing kept unless RemoveRulesOnStop).</summary>
    public async ValueTask DisposeAsync()
    {
        await Daemon.StopAsync();
        Directory.Dispose();
    }
}
