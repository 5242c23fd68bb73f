using NetworkBroker.Configuration;
using NetworkBroker.Control;
using NetworkBroker.Core;
using NetworkBroker.Dhclient;
using NetworkBroker.Kernel;
using NetworkBroker.Logging;
using NetworkBroker.Networkd;
using NetworkBroker.Scripts;
using NetworkBroker.Systemd;

namespace NetworkBroker.Hosting;

/// <summary>
/// The composition root: every component of the daemon, in the order they start (they stop in reverse), wired to
/// one broker and one activity stream. The daemon command and the integration tests both compose it; only
/// <see cref="DaemonOptions"/> differs.
/// </summary>
public sealed class Daemon
{
    private readonly ComponentHost _host;
    private readonly DaemonOptions _options;
    private readonly Logger _log;
    private readonly ScriptRunner _runner;
    private readonly List<DhclientSource> _dhclient = [];
    private readonly CancellationTokenSource _cancel = new();
    private readonly DateTime _started = DateTime.UtcNow;
    // Looked up here, not on the loop at every status: getpwuid opens /etc/passwd (or asks NSS).
    private readonly string _user = Environment.UserName;

    private Daemon(DaemonOptions options)
    {
        _options = options;
        _log = options.Log;
        _host = new ComponentHost(_log);
        _runner = new ScriptRunner(options.ScriptRunner, _log) { Watch = ScriptDirectoryWatch.Open() };
        Scripts = new ScriptDispatcher(_runner, _log);
        // Kept across restarts in the runtime directory: a restart runs only what changed while stopped.
        Memory = options.RuntimeDirectory is { } runtime ? new StateMemory(runtime, StateMemory.CurrentBootId(), _log) : null;
        Broker = new Broker(options.Config, _log, Scripts, options.NetworkdFiles, options.Resolver, Memory, options.Udev)
        {
            RoutesWindow = options.RoutesWindow ?? RoutesScripts.DefaultWindow,
        };

        Broker.Observed += Activity.Observed;
        Scripts.Completed += Activity.ScriptsRan;
        QuietCollection = new QuietCollection(log: _log);
        Activity.Subscribe(QuietCollection);
        if (options.Resolver is ResolverPusher pusher)
            pusher.Pushed += Activity.Pushed;
        Activity.Subscribe(new MonitorFeed(Monitors, i => Broker.Kernel.Link(i)?.Name ?? Broker.Networkd.NameOf(i)));
        if (options.Systemd)
            Systemd = new SystemdComponent(this, _log);

        Compose();
    }

    public Broker Broker { get; }

    public ScriptDispatcher Scripts { get; }

    public StateMemory? Memory { get; }

    /// <summary>The GC's memory returned when events quiet down (enabled after the start's own collection).</summary>
    public QuietCollection QuietCollection { get; }

    public ActivityStream Activity { get; } = new();

    public MonitorHub Monitors { get; } = new();

    public KernelWatcher? Kernel { get; private set; }

    public NetworkdSource? Networkd { get; private set; }

    public ControlServer? Control { get; private set; }

    public SystemdComponent? Systemd { get; }

    public static Daemon Compose(DaemonOptions options) => new(options);

    /// <summary>Starts every component in order; throws what the first failing one threw, after stopping the others.</summary>
    public Task StartAsync() => _host.StartAsync(_cancel.Token);

    /// <summary>Waits (at most <paramref name="timeout"/>) for the kernel's and networkd's first state; then the daemon is ready.</summary>
    public Task<bool> WaitReadyAsync(TimeSpan timeout) => _host.WaitReadyAsync(timeout);

    /// <summary>Stops every component in reverse order: what runs may finish within its timeout, nothing new starts.</summary>
    public async Task StopAsync()
    {
        await _host.StopAsync().ConfigureAwait(false);
        _cancel.Dispose();
    }

    /// <summary>
    /// Applies a checked configuration: the keys that need a restart are named, every component applies its part
    /// (in registration order), and User= is reported by the caller, who knows how the daemon was started.
    /// </summary>
    public async Task ReloadAsync(BrokerConfiguration config)
    {
        foreach (var key in RestartKeys.Changed(Broker.Config, config))
            _log.Warn($"Reload: {key}= changed; that takes effect at the next restart");
        await _host.ReloadAsync(config).ConfigureAwait(false);
        _log.Info($"Reloaded {config.Path}");
    }

    /// <summary>What `status` shows, read on the broker's loop.</summary>
    public Task<DaemonStatus> StatusAsync() => Broker.QueryAsync(b => DaemonStatus.Of(b, Scripts.Statistics, Monitors.Count, _started, _user,
        Networkd?.Rejected ?? 0, (_options.Resolver as ResolverPusher)?.Statistics ?? default, Kernel?.Overruns ?? 0));

    private void Compose()
    {
        if (Memory is { } memory)
        {
            // A queued run's mark is a step of the script thread just before the run (no thread switch of its own).
            memory.MarkOn = Scripts.Post;
            Scripts.Enqueued += e =>
            {
                if (e.Remembers is { } run)
                    memory.Queued(run);
            };
            Scripts.Completed += (e, _) =>
            {
                if (e.Remembers is { } run)
                    memory.Ran(run);
            };
            // Stops last: the runs dropped at stop are forgotten, so the next start runs them.
            _host.Add(new DelegateComponent("restart memory")
            {
                OnStop = () => memory.StopAsync(Scripts.NotRun.Where(e => e.Remembers is not null).Select(e => e.Remembers!.Value)),
            });
        }

        // Before the scripts, so stopped after them: a run-scripts client gets its scripts' results while they drain.
        // (Its status requests then find the loop stopped, and are answered that the daemon is stopping.)
        if (_options.RuntimeDirectory is { } directory)
            _host.Add(new DelegateComponent("control socket")
            {
                OnStart = _ =>
                {
                    Control = ControlServer.Start(Path.Combine(directory, RuntimeDirectory.ControlSocketName), StatusAsync, Monitors, _log,
                        runScripts: (request, observer) => Broker.QueryAsync(b => b.RunOnRequest(request.State, request.Link, observer)));
                    return Task.CompletedTask;
                },
                OnStop = async () =>
                {
                    if (Control is { } control)
                        await control.DisposeAsync().ConfigureAwait(false);
                },
            });

        _host.Add(new DelegateComponent("scripts")
        {
            // Graceful: what runs may finish within its timeout, nothing new starts, not even queued events.
            OnStopping = Scripts.Stop,
            OnStop = async () =>
            {
                if (Scripts.Statistics.Running > 0)
                    _log.Info($"Waiting for {Scripts.Statistics.Running} running script event(s) to finish");
                try
                {
                    await Scripts.DisposeAsync().ConfigureAwait(false);
                }
                finally
                {
                    _runner.Watch?.Dispose();
                }
            },
            OnReload = config =>
            {
                _runner.Options = _runner.Options with { Timeout = config.ScriptTimeout };
                return Task.CompletedTask;
            },
        });

        if (_options is { Resolver: IAsyncDisposable resolver, OwnsResolver: true })
            _host.Add(new DelegateComponent("DHCP pushes") { OnStop = () => resolver.DisposeAsync().AsTask() });

        // Before the loop, stopped after it: the loop's last policy-routing changes go through this socket.
        _host.Add(new DelegateComponent("kernel")
        {
            OnStart = _ =>
            {
                Kernel = _options.Kernel(Broker.Events);
                Broker.Attach(Kernel, _options.PolicyRouting ? Kernel : null);
                Kernel.Start();
                _log.Debug($"rtnetlink receive buffer: {Kernel.ReceiveBufferSize} bytes");
                return Task.CompletedTask;
            },
            WhenReady = () => Broker.KernelLoaded,
            OnStop = () =>
            {
                Kernel?.Dispose();
                return Task.CompletedTask;
            },
        });

        Task loop = Task.CompletedTask;
        _host.Add(new DelegateComponent("broker loop")
        {
            OnStart = cancellation =>
            {
                loop = Broker.RunAsync(cancellation);
                return Task.CompletedTask;
            },
            OnStop = async () =>
            {
                // Complete first: a writer waiting on a full channel must see the end, not wait for ever.
                Broker.Events.TryComplete();
                await _cancel.CancelAsync().ConfigureAwait(false);
                await loop.ConfigureAwait(false);
                await Broker.StopPolicyRoutingAsync().ConfigureAwait(false);
            },
            OnReload = Broker.ReloadAsync,
        });

        if (_options.DhclientLeaseFiles.Count > 0)
            _host.Add(new DelegateComponent("dhclient")
            {
                OnStart = _ =>
                {
                    _dhclient.AddRange(DhclientSource.ForEach(_options.DhclientLeaseFiles, Broker.Events, _log));
                    return Task.CompletedTask;
                },
                OnStop = () =>
                {
                    foreach (var source in _dhclient)
                        source.Dispose();
                    return Task.CompletedTask;
                },
            });

        if (_options.NetworkdBus is { } bus)
        {
            Task networkd = Task.CompletedTask;
            var stop = new CancellationTokenSource();
            CancellationTokenSource? linked = null;
            _host.Add(new DelegateComponent("networkd")
            {
                OnStart = cancellation =>
                {
                    Networkd = new NetworkdSource(Broker.Events, _log, bus);
                    linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, stop.Token);
                    networkd = Networkd.RunAsync(linked.Token);
                    return Task.CompletedTask;
                },
                WhenReady = () => Networkd?.FirstAttempt ?? Task.CompletedTask,
                OnStop = async () =>
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    await networkd.ConfigureAwait(false);
                    linked?.Dispose();
                    stop.Dispose();
                },
            });
        }

        // Last: READY=1 once every source listens and has its first state; STOPPING=1 before anything stops.
        if (Systemd is { } systemd)
            _host.Add(systemd);
    }
}
