using NetworkBroker.Events;
using NetworkBroker.Hosting;
using NetworkBroker.Logging;
using NetworkBroker.Scripts;

namespace NetworkBroker.Systemd;

/// <summary>
/// Everything the daemon tells systemd, in one place: READY=1 once every source has its first state, STATUS= kept
/// current from the activity stream, RELOADING=1 and READY=1 around a reload, STOPPING=1 before anything stops, and
/// WATCHDOG=1 only while the broker's loop answers (a stuck loop gets the daemon restarted). The loop never waits
/// on the kernel or a file (policy routing and reads run beside it), so a long reconcile cannot starve the ping.
/// </summary>
public sealed class SystemdComponent : Component, IActivityObserver
{
    private readonly Daemon _daemon;
    private readonly Logger _log;
    private readonly SystemdNotifier _notifier = new();
    private readonly StatusReporter _status;
    private readonly CancellationTokenSource _stopping = new();
    private Task _watchdog = Task.CompletedTask;

    public SystemdComponent(Daemon daemon, Logger log) : base("systemd")
    {
        _daemon = daemon;
        _log = log;
        _status = new StatusReporter(_notifier, async () => (await daemon.StatusAsync().ConfigureAwait(false)).StatusLine(), TimeSpan.FromSeconds(1));
        daemon.Activity.Subscribe(this);
    }

    /// <summary>The STATUS= line last sent.</summary>
    public string Status => _status.Last;

    public override async Task StartedAsync()
    {
        _status.Send("READY=1", (await _daemon.StatusAsync().ConfigureAwait(false)).StatusLine());
        _log.Debug("Ready");
        _watchdog = WatchdogAsync(_stopping.Token);
    }

    /// <summary>A reload begins (systemd then waits for READY=1: <see cref="ReloadedAsync"/>).</summary>
    public void Reloading() => _notifier.Notify($"RELOADING=1\nMONOTONIC_USEC={Environment.TickCount64 * 1000}");

    /// <summary>Whatever became of the reload: systemd waits for READY=1 after RELOADING=1.</summary>
    public async Task ReloadedAsync()
    {
        try
        {
            _status.Send("READY=1", (await _daemon.StatusAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false)).StatusLine());
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            _notifier.Notify("READY=1");
        }
    }

    public override void Stopping()
    {
        _notifier.Notify("STOPPING=1");
        _stopping.Cancel();
    }

    public override async Task StopAsync()
    {
        await _watchdog.ConfigureAwait(false);
        _stopping.Dispose();
        _notifier.Dispose();
    }

    void IActivityObserver.Observed(BrokerEvent brokerEvent)
    {
        if (brokerEvent is KernelChange or PolicyRoutingReconciled)
            _status.Poke();
    }

    void IActivityObserver.ScriptsRan(ScriptEvent scriptEvent, IReadOnlyList<ScriptResult> results) => _status.Poke();

    void IActivityObserver.Pushed(string link, string what, string? error)
    {
        if (error is not null)
            _status.Poke();
    }

    /// <summary>WatchdogSec=: ping at half the interval, and only when the broker's loop answers within it.</summary>
    private async Task WatchdogAsync(CancellationToken cancellation)
    {
        if (!long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) || usec <= 0 || !_notifier.Enabled)
            return;
        var interval = TimeSpan.FromMicroseconds(usec / 2.0);
        try
        {
            while (true)
            {
                await Task.Delay(interval, cancellation).ConfigureAwait(false);
                try
                {
                    await _daemon.Broker.QueryAsync(_ => true).WaitAsync(interval, cancellation).ConfigureAwait(false);
                    _notifier.Notify("WATCHDOG=1");
                }
                catch (TimeoutException)
                {
                    _log.Error($"The broker's loop did not answer within {interval.TotalMilliseconds:0} ms; not pinging the watchdog");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
