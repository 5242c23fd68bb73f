using System.Runtime.InteropServices;
using NetworkBroker.Cli;
using NetworkBroker.Configuration;
using NetworkBroker.Control;
using NetworkBroker.Netlink;
using NetworkBroker.Hosting;
using NetworkBroker.Scripts;

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
        if (Native.Libc.geteuid() == Configuration.ConfigurationLoader.OverflowUid)
        {
            // Started as nobody (a unit's User=nobody): what becoming it would share, User = "nobody" is refused for.
            log.Fatal("Not starting as nobody (uid 65534): every process running as nobody would share the daemon's scripts, files " +
                      "and control socket; start it as root, or as a user of its own (the package's network-broker)");
            return ExitCodes.Config;
        }
        // The directories first, while still root; then, started as root, become User= before any other work.
        ScriptDirectories.EnsureCreated(config.ScriptRoots[0], Privileges.PrivilegeDrop.DaemonUid(config), log);
        Privileges.PrivilegeDrop.PrepareRuntimeDirectory(config, log);
        if (Privileges.PrivilegeDrop.ReexecAsUser(config, log, Environment.GetCommandLineArgs()[1..]) is { } failed)
            return failed;

        Core.TimerThread.Unhandled = e => log.Error($"A timed step failed: {e}");
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

        var daemon = Daemon.Compose(DaemonOptions.ForService(config, log));
        // Before READY=1: a SIGUSR1 sent as soon as systemd says the daemon started gets its dump.
        dumpState = async () =>
        {
            try
            {
                var status = await daemon.StatusAsync().WaitAsync(TimeSpan.FromSeconds(5));
                var links = await daemon.Broker.QueryAsync(b => b.Kernel.Links.OrderBy(l => l.Index).Select(l => (l.Name, l.Index, b.Networkd.Link(l.Index))).ToList())
                    .WaitAsync(TimeSpan.FromSeconds(5));
                log.Info($"SIGUSR1: {status.StatusLine()}; {status.Events} events handled, {status.SignalsRejected} D-Bus signals rejected, {status.KernelOverruns} kernel overruns");
                foreach (var (name, index, states) in links)
                    log.ForLink(name, index).Info($"SIGUSR1: {(states is null ? "not known to networkd" : string.Join(' ', states.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}")))}");
            }
            catch (Exception e) when (e is TimeoutException or System.Threading.Channels.ChannelClosedException)
            {
                log.Warn("SIGUSR1: the broker's loop did not answer within 5 s");
            }
        };

        try
        {
            await daemon.StartAsync();
        }
        catch (ControlSocketInUseException e)
        {
            log.Fatal($"Not starting: {e.Message}; two daemons would run every script twice and fight over the same rules");
            return ExitCodes.Failure;
        }
        catch (NetlinkException e)
        {
            log.Fatal($"Cannot listen to the kernel: {e.Message}");
            return ExitCodes.Failure;
        }

        // Ready once every source listens and the kernel's and networkd's states are in: events from now on are news.
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(10));
        // A large start's garbage, collected once the start's work (after READY too) has quieted; then the pages of
        // the binary the start touched are unmapped, so that only what later events touch is mapped again. From then
        // on, the garbage of each burst of events is collected when it quiets (QuietCollection).
        using var stopping = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            var quieted = await StartupGarbage.CollectWhenQuietAsync(stopping.Token);
            if (!stopping.IsCancellationRequested)
                daemon.QuietCollection.Enable();
            if (!quieted || Environment.ProcessPath is not { } executable)
                return;
            try
            {
                var released = Native.CodePages.Release(executable);
                log.Debug($"{executable}: the start has quieted; unmapped {released.Mappings} read-only mappings ({released.Bytes / 1024} KiB), mapped again page by page as used");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Debug($"{executable}: its pages stay mapped: /proc/self/smaps: {e.Message}");
            }
        });

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
                    daemon.Systemd?.Reloading();
                    try
                    {
                        var loaded = ConfigurationLoader.Read(command.ConfigPath, Environment.GetEnvironmentVariable, forDaemon: true, command.ConfigGiven);
                        Startup.LogReading(loaded, log);
                        await daemon.ReloadAsync(loaded.Config);
                        if (Privileges.ScriptUser.OnReload(loaded.Config.User, loaded.Config.UserGiven, loaded.Config.Path, Privileges.PrivilegeDrop.Current(), startedAsRoot,
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
                    if (daemon.Systemd is { } systemd)
                        await systemd.ReloadedAsync();
                    reloads.Release();
                }
            });
        });

        var signal = await stop.Task;
        log.Info($"Received {signal}, stopping; running scripts may finish within their timeout");
        await stopping.CancelAsync();
        await daemon.StopAsync();
        log.Info("Stopped");
        return ExitCodes.Success;

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult(context.Signal);
        }
    }
}
