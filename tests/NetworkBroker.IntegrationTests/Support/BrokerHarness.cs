using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>The broker with its kernel watcher living in a test's namespace, and a record of what it observed.</summary>
public sealed class BrokerHarness : IAsyncDisposable
{
    private readonly List<BrokerEvent> _observed = [];
    private readonly CancellationTokenSource _cancel = new();
    private Task _loop = Task.CompletedTask;
    private Task _networkd = Task.CompletedTask;
    private NetworkBroker.Dhclient.DhclientSource? _dhclient;

    private BrokerHarness(NetworkNamespace ns, BrokerConfiguration config, Broker broker, ScriptDispatcher scripts, TempDirectory directory, MemoryLog log)
    {
        Namespace = ns;
        Config = config;
        Broker = broker;
        Scripts = scripts;
        Directory = directory;
        Log = log;
    }

    public NetworkNamespace Namespace { get; }
    public BrokerConfiguration Config { get; }
    public Broker Broker { get; }
    public ScriptDispatcher Scripts { get; }
    public TempDirectory Directory { get; }
    public MemoryLog Log { get; }
    public KernelWatcher Watcher { get; private set; } = null!;
    public NetworkBroker.Networkd.NetworkdSource? NetworkdSource { get; private set; }

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
        var scripts = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions
        {
            ScriptRoot = directory.Path,
            SpillDirectory = directory.Combine("spill"),
        }, log.Logger), log.Logger);
        var broker = new Broker(config, log.Logger, scripts, networkd is null ? null : new NetworkBroker.Networkd.NetworkdFiles(netifDirectory ?? networkd.NetifDirectory, log.Logger), resolver,
            // The host's udev (if any) knows the host's links, not the namespace's: a test's own directory, absent unless given.
            udev: new NetworkBroker.Udev.UdevDatabase(udevDirectory ?? directory.Combine("udev"), log.Logger))
        {
            RoutesWindow = routesWindow ?? RoutesScripts.DefaultWindow,
        };
        var harness = new BrokerHarness(ns, config, broker, scripts, directory, log);
        beforeStart?.Invoke(harness);

        var initial = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        broker.Observed += e =>
        {
            lock (harness._observed)
                harness._observed.Add(e);
            if (e is KernelResynced { Reason: ResyncReason.Initial })
                initial.TrySetResult();
            observe?.Invoke(e);
        };
        harness.Watcher = ns.Enter(() => new KernelWatcher(broker.Events, log.Logger, receiveBuffer));
        broker.Attach(harness.Watcher, policyRouting ? harness.Watcher : null);
        harness._loop = broker.RunAsync(harness._cancel.Token);
        harness.Watcher.Start();
        await initial.Task.WaitAsync(TimeSpan.FromSeconds(30));
        if (dhclientLeaseFile is not null)
        {
            harness._dhclient = new NetworkBroker.Dhclient.DhclientSource(broker.Events, log.Logger, dhclientLeaseFile);
            harness._dhclient.Start();
        }
        if (networkd is not null)
        {
            harness.NetworkdSource = new NetworkBroker.Networkd.NetworkdSource(broker.Events, log.Logger, networkd.Bus.Address);
            harness._networkd = harness.NetworkdSource.RunAsync(harness._cancel.Token);
            await WaitForAsync(() => harness.Observed.OfType<NetworkdSnapshot>().Any());
        }
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

    /// <summary>Stops the broker as the daemon does on SIGTERM (policy routing kept unless RemoveRulesOnStop).</summary>
    public async ValueTask DisposeAsync()
    {
        Broker.Events.TryComplete();
        await _cancel.CancelAsync();
        await _loop;
        await Broker.StopPolicyRoutingAsync();
        await _cancel.CancelAsync();
        Watcher.Dispose();
        _dhclient?.Dispose();
        await _networkd;
        await _loop;
        await Scripts.DisposeAsync();
        Directory.Dispose();
        _cancel.Dispose();
    }
}
