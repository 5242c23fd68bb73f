using System.Threading.Channels;
using NetworkBroker.Configuration;
using NetworkBroker.Events;
using NetworkBroker.Kernel;
using NetworkBroker.Logging;
using NetworkBroker.Scripts;

namespace NetworkBroker.Hosting;

/// <summary>
/// What differs between the daemon as installed and the daemon composed by a test: where its sources listen, where
/// it keeps its files, and whether systemd is there. <see cref="ForService"/> gives the installed daemon's.
/// </summary>
public sealed record DaemonOptions(BrokerConfiguration Config, Logger Log)
{
    public required ScriptRunnerOptions ScriptRunner { get; init; }

    /// <summary>The runtime directory (restart memory, control socket); null: neither (embedded, tests).</summary>
    public string? RuntimeDirectory { get; init; }

    /// <summary>The bus networkd is listened to on; null: no networkd source.</summary>
    public string? NetworkdBus { get; init; }

    /// <summary>dhclient's lease files to watch; empty: no dhclient source.</summary>
    public IReadOnlyList<string> DhclientLeaseFiles { get; init; } = [];

    /// <summary>Where DHCP results are pushed (resolved, hostnamed); null: nowhere. Disposed with the daemon when <see cref="OwnsResolver"/>.</summary>
    public Dhclient.IResolverPusher? Resolver { get; init; }

    public bool OwnsResolver { get; init; }

    /// <summary>Opens the kernel socket (a test opens it inside its network namespace).</summary>
    public required Func<ChannelWriter<BrokerEvent>, KernelWatcher> Kernel { get; init; }

    /// <summary>Whether the kernel's rules and routes are reconciled (RoutingPolicyRules=).</summary>
    public bool PolicyRouting { get; init; } = true;

    public Networkd.NetworkdFiles? NetworkdFiles { get; init; }

    public Udev.UdevDatabase? Udev { get; init; }

    public TimeSpan? RoutesWindow { get; init; }

    /// <summary>Whether systemd is told READY=1, STATUS=, RELOADING=1, STOPPING=1 and pinged for WatchdogSec=.</summary>
    public bool Systemd { get; init; }

    /// <summary>The daemon as the unit runs it: system bus, runtime directory, sources from Generator=.</summary>
    public static DaemonOptions ForService(BrokerConfiguration config, Logger log) => new(config, log)
    {
        ScriptRunner = Commands.Startup.ScriptOptions(config),
        RuntimeDirectory = Control.RuntimeDirectory.Path,
        NetworkdBus = config.Generator.HasFlag(EventSources.SystemdNetworkd) ? DBus.DBusAddress.SystemBus : null,
        DhclientLeaseFiles = config.Generator.HasFlag(EventSources.DHClient) ? config.DHClientLeaseFiles : [],
        // Always there (it connects at its first call, and only the Use*= keys make calls): a reload may turn them on.
        Resolver = new Dhclient.ResolverPusher(DBus.DBusAddress.SystemBus, log),
        OwnsResolver = true,
        Kernel = events => new KernelWatcher(events, log),
        Systemd = true,
    };
}
