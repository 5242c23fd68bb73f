using System.Runtime.InteropServices;
using NetworkBroker.Cli;
using NetworkBroker.Configuration;
using NetworkBroker.Control;
using NetworkBroker.Core;
using NetworkBroker.DBus;
using NetworkBroker.Events;
using NetworkBroker.Dhclient;
using NetworkBroker.Kernel;
using NetworkBroker.Netlink;
using NetworkBroker.Networkd;
using NetworkBroker.Scripts;
using NetworkBroker.Systemd;

namespace NetworkBroker.Commands;

/// <summary><c>network-broker [--config FILE]</c>: the daemon, in the foreground until SIGTERM or SIGINT.</summary>
public static class DaemonCommand
{
    // Raw signal numbers (Linux): PosixSignal names only the portable ones.
    private const PosixSignal SIGUSR1 = (PosixSignal)10;
    private const PosixSignal SIGUSR2 = (PosixSignal)12;

    public static async Task<int> RunAsync(CommandLine command)
    {
        // A stop asked for while starting is honoured once started, never by the signal's default action.
        var stop = new TaskCompletionSource<PosixSignal>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        if (Startup.Load(command, forDaemon: true) is not var (config, log))
            return ExitCodes.Config;
        // The directories first, while still root; then, started as root, become User= before any other work.
        ScriptDirectories.EnsureCreated(config.ScriptRoots[0], log);
        Privileges.PrivilegeDrop.PrepareRuntimeDirectory(config, log);
        if (Privileges.PrivilegeDrop.ReexecAsUser(config, log, Environment.GetCommandLineArgs()[1..]) is { } failed)
            return failed;

        log.Info($"network-broker {BuildInfo.Version} starting: configuration {config.Path}, scripts in {config.Directory}, " +
                 $"generator {EventSourceNames.Format(config.Generator)}, links {(config.Links.IsAll ? "all" : config.Links.ToString())}");
        // Who runs the scripts and why, said once; a User= in the file that the unit overrules is a warning, not silence.
        var startedAs = Privileges.PrivilegeDrop.Current();
        var startedAsRoot = startedAs.Uid == 0 || startedAs.Reexecuted;
        var user = Privileges.PrivilegeDrop.Decide(config);
        log.Write(user.Level, null, 0, user.Report);
        Privileges.PrivilegeDrop.CheckCapabilities(config, log);

        // SIGUSR1 and SIGUSR2 would end the process by default (a stray `kill -USR1` is not a stop request):
        // USR1 logs what the daemon knows, USR2 is ignored. SIGPIPE the runtime already ignores.
        Func<Task>? dumpState = null;
        using var user1 = PosixSignalRegistration.Create(SIGUSR1, context =>
        {
            context.Cancel = true;
            if (dumpState is { } dump)
                _ = Task.Run(dump);
        });
        using var user2 = PosixSignalRegistration.Create(SIGUSR2, context => context.Cancel = true);

        var runner = new ScriptRunner(Startup.ScriptOptions(config), log);
        await using var scripts = new ScriptDispatcher(runner, log);
        await using var resolver = config.UseDNS || config.UseDomain || config.UseHostname ? new ResolverPusher(DBusAddress.SystemBus, log) : null;
        // Kept across restarts in the runtime directory: a restart runs only what changed while stopped.
        var memory = new StateMemory(RuntimeDirectory.Path, StateMemory.CurrentBootId(), log);
        var broker = new Broker(config, log, scripts, resolver: resolver, memory: memory);
        // Only state and lease runs are remembered (not routes.d, not what run-scripts asked for).
        static bool Remembered(ScriptEvent e) => e.State != RoutesScripts.State && e.Observer is null;
        scripts.Enqueued += e =>
        {
            if (Remembered(e))
                memory.Queued(e.Link, e.IfIndex);
        };
        var started = DateTime.UtcNow;
        var monitors = new MonitorHub();
        using var systemd = new SystemdNotifier();
        NetworkdSource? networkdSource = null;
        Task<DaemonStatus> Status() => broker.QueryAsync(b => DaemonStatus.Of(b, scripts.Statistics, monitors.Count, started, networkdSource?.Rejected ?? 0,
            resolver?.Statistics ?? default));
        var statusLine = new StatusReporter(systemd, async () => (await Status()).StatusLine(), TimeSpan.FromSeconds(1));
        // The monitor's lines and the STATUS= line follow what the broker sees (on its loop) and what scripts did.
        broker.Observed += e =>
        {
            if (monitors.HasSubscribers)
                monitors.Publish(MonitorEvents.Format(e, i => broker.Kernel.Link(i)?.Name ?? broker.Networkd.NameOf(i), DateTime.UtcNow));
            if (e is KernelChange or PolicyRoutingReconciled)
                statusLine.Poke();
        };
        if (resolver is not null)
            resolver.Pushed += (link, what, error) =>
            {
                if (monitors.HasSubscribers)
                    monitors.Publish(MonitorEvents.FormatPush(link, what, error, DateTime.UtcNow));
                if (error is not null)
                    statusLine.Poke();
            };
        scripts.Completed += (e, results) =>
        {
            if (Remembered(e))
                memory.Ran(e.Link, e.IfIndex);
            if (monitors.HasSubscribers)
                monitors.Publish(MonitorEvents.FormatScripts(e, results, DateTime.UtcNow));
            statusLine.Poke();
        };
        ControlServer? control;
        try
        {
            control = ControlServer.Start(RuntimeDirectory.ControlSocket, Status, monitors, log,
                runScripts: (request, observer) => broker.QueryAsync(b => b.RunOnRequest(request.State, request.Link, observer)));
        }
        catch (ControlSocketInUseException e)
        {
            log.Fatal($"Not starting: {e.Message}; two daemons would run every script twice and fight over the same rules");
            return ExitCodes.Failure;
        }
        await using var controlServer = control;
        KernelWatcher kernel;
        try
        {
            kernel = new KernelWatcher(broker.Events, log);
        }
        catch (NetlinkException e)
        {
            log.Fatal($"Cannot listen to the kernel: {e.Message}");
            return ExitCodes.Failure;
        }

        using var cancel = new CancellationTokenSource();
        Task loop;
        using (kernel)
        {
            broker.Attach(kernel, kernel);
            loop = broker.RunAsync(cancel.Token);
            kernel.Start();
            log.Debug($"rtnetlink receive buffer: {kernel.ReceiveBufferSize} bytes");
            using var dhclient = new Disposables(config.Generator.HasFlag(EventSources.DHClient)
                ? DhclientSource.ForEach(config.DHClientLeaseFiles, broker.Events, log)
                : []);
            networkdSource = config.Generator.HasFlag(EventSources.SystemdNetworkd) ? new NetworkdSource(broker.Events, log, DBusAddress.SystemBus) : null;
            var networkd = networkdSource?.RunAsync(cancel.Token) ?? Task.CompletedTask;

            // Ready once every source listens and the kernel's and networkd's states are in: events from now on are news.
            try
            {
                await Task.WhenAll(broker.KernelLoaded, networkdSource?.FirstAttempt ?? Task.CompletedTask).WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                log.Warn("Sources not ready after 10 s; reporting ready anyway, they keep trying");
            }
            statusLine.Send("READY=1", (await Status()).StatusLine());
            log.Debug("Ready");
            // A large start's garbage, collected once the start's work (after READY too) has quieted.
            _ = StartupGarbage.CollectWhenQuietAsync(cancel.Token);

            dumpState = async () =>
            {
                try
                {
                    var (status, links) = await broker.QueryAsync(b => (DaemonStatus.Of(b, scripts.Statistics, monitors.Count, started, networkdSource?.Rejected ?? 0),
                        b.Kernel.Links.OrderBy(l => l.Index).Select(l => (l.Name, l.Index, b.Networkd.Link(l.Index))).ToList()))
                        .WaitAsync(TimeSpan.FromSeconds(5));
                    log.Info($"SIGUSR1: {status.StatusLine()}; {status.Events} events handled, {status.SignalsRejected} D-Bus signals rejected");
                    foreach (var (name, index, states) in links)
                        log.ForLink(name, index).Info($"SIGUSR1: {(states is null ? "not known to networkd" : string.Join(' ', states.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}")))}");
                }
                catch (Exception e) when (e is TimeoutException or System.Threading.Channels.ChannelClosedException)
                {
                    log.Warn("SIGUSR1: the broker's loop did not answer within 5 s");
                }
            };

            // WatchdogSec=: ping at half the interval, and only when the broker's loop answers: a stuck loop gets restarted.
            var watchdog = WatchdogAsync(systemd, broker, log, cancel.Token);

            // SIGHUP: re-read the configuration and apply it; a broken file keeps the running one.
            using var reloads = new SemaphoreSlim(1, 1);
            using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = Task.Run(async () =>
                {
                    await reloads.WaitAsync();
                    try
                    {
                        systemd.Notify($"RELOADING=1\nMONOTONIC_USEC={Environment.TickCount64 * 1000}");
                        try
                        {
                            var loaded = ConfigurationLoader.Read(command.ConfigPath, Environment.GetEnvironmentVariable, forDaemon: true, command.ConfigGiven);
                            Startup.LogReading(loaded, log);
                            var reloaded = loaded.Config;
                            runner.Options = runner.Options with { Timeout = reloaded.ScriptTimeout };
                            await broker.ReloadAsync(reloaded);
                            if (Privileges.ScriptUser.OnReload(reloaded.User, reloaded.UserGiven, reloaded.Path, Privileges.PrivilegeDrop.Current(), startedAsRoot,
                                    Privileges.PrivilegeDrop.AllCapabilities(), File.Exists(Privileges.ScriptUser.FullHostCommand)) is { } userChange)
                                log.Warn(userChange);
                        }
                        catch (ConfigurationException e)
                        {
                            foreach (var error in e.Errors)
                                log.Error($"Reload refused, keeping the running configuration: {error}");
                        }
                        catch (Exception e)
                        {
                            log.Error($"Reload failed, keeping the running configuration: {e.Message}");
                        }
                    }
                    finally
                    {
                        // Always: systemd waits for READY=1 after RELOADING=1, whatever became of the reload.
                        try
                        {
                            statusLine.Send("READY=1", (await Status().WaitAsync(TimeSpan.FromSeconds(5))).StatusLine());
                        }
                        catch (Exception e) when (e is TimeoutException or OperationCanceledException or System.Threading.Channels.ChannelClosedException)
                        {
                            systemd.Notify("READY=1");
                        }
                        reloads.Release();
                    }
                });
            });

            var signal = await stop.Task;
            log.Info($"Received {signal}, stopping; running scripts may finish within their timeout");
            systemd.Notify("STOPPING=1");
            // Graceful: what runs may finish within its timeout, nothing new starts, not even queued events.
            scripts.Stop();
            // Complete first: a source waiting on a full channel must see the end, not wait for ever.
            broker.Events.TryComplete();
            await cancel.CancelAsync();
            await watchdog;
            await networkd;
            await loop;
            await broker.StopPolicyRoutingAsync();
        }
        if (scripts.Statistics.Running > 0)
            log.Info($"Waiting for {scripts.Statistics.Running} running script event(s) to finish");
        await scripts.DisposeAsync();
        await memory.StopAsync(scripts.NotRun.Where(Remembered).Select(e => (e.Link, e.IfIndex)));
        log.Info("Stopped");
        return ExitCodes.Success;

        static async Task WatchdogAsync(SystemdNotifier systemd, Broker broker, Logging.Logger log, CancellationToken cancellation)
        {
            if (!long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) || usec <= 0 || !systemd.Enabled)
                return;
            var interval = TimeSpan.FromMicroseconds(usec / 2.0);
            try
            {
                while (true)
                {
                    await Task.Delay(interval, cancellation);
                    try
                    {
                        await broker.QueryAsync(_ => true).WaitAsync(interval, cancellation);
                        systemd.Notify("WATCHDOG=1");
                    }
                    catch (TimeoutException)
                    {
                        log.Error($"The broker's loop did not answer within {interval.TotalMilliseconds:0} ms; not pinging the watchdog");
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult(context.Signal);
        }
    }
}
