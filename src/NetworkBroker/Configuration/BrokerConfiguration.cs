using System.Collections.Immutable;
using NetworkBroker.Logging;

namespace NetworkBroker.Configuration;

/// <summary>
/// The effective configuration: <c>network-broker.toml</c> with defaults filled in and the
/// environment overrides applied. Immutable; a reload builds a new one.
/// </summary>
public sealed record BrokerConfiguration
{
    public const string DefaultPath = "/etc/network-broker/network-broker.toml";
    public const uint DefaultRouteTableBase = 9999;
    /// <summary>Before <c>main</c> (32766) so that the per-address rules win; after the range admins hand-place rules in.</summary>
    public const uint DefaultRoutingPolicyRulePriority = 32000;

    /// <summary>The file this was read from (it may not exist: then everything is a default).</summary>
    public string Path { get; init; } = DefaultPath;

    // [System]
    public LogLevel LogLevel { get; init; } = LogLevel.Info;
    public LogFormat LogFormat { get; init; } = LogFormat.Text;
    public EventSources Generator { get; init; } = EventSources.SystemdNetworkd;
    public string User { get; init; } = "network-broker";
    /// <summary>User= is written in the file: under systemd only then does it speak against the unit's User=.</summary>
    public bool UserGiven { get; init; }
    /// <summary>
    /// dhclient's lease files, space-separated paths with a glob allowed in the file name. The default covers
    /// Debian and Ubuntu (/var/lib/dhcp) and Red Hat and Photon OS (/var/lib/dhclient).
    /// </summary>
    public string DHClientLeaseFile { get; init; } = DefaultLeaseFiles;

    public const string DefaultLeaseFiles = "/var/lib/dhcp/dhclient*.leases /var/lib/dhclient/*.leases";

    public IReadOnlyList<string> DHClientLeaseFiles => DHClientLeaseFile.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    public TimeSpan ScriptTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public bool RunStartupTriggers { get; init; }
    /// <summary>ScriptDirectories= as written; null: the default (<see cref="ScriptRoots"/>).</summary>
    public ImmutableArray<string>? ScriptDirectories { get; init; }

    // [Network]
    public LinkFilter Links { get; init; } = LinkFilter.All;
    public ImmutableArray<string> RoutingPolicyRules { get; init; } = [];
    public bool UseDNS { get; init; }
    public bool UseDomain { get; init; }
    public bool UseHostname { get; init; }
    public bool EmitJSON { get; init; } = true;
    public bool EmitNetworkdDispatcherJSON { get; init; }
    public uint RouteTableBase { get; init; } = DefaultRouteTableBase;
    public uint RoutingPolicyRulePriority { get; init; } = DefaultRoutingPolicyRulePriority;
    public bool RemoveRulesOnStop { get; init; }
    /// <summary>The networkd link properties whose new values select &lt;value&gt;.d (networkd-dispatcher's pair by default).</summary>
    public ImmutableArray<string> StateProperties { get; init; } = DefaultStateProperties;

    public static readonly ImmutableArray<string> DefaultStateProperties = ["OperationalState", "AdministrativeState"];

    /// <summary>The directory holding the config file, and so the <c>&lt;state&gt;.d</c> script directories.</summary>
    public string Directory => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? "/";

    /// <summary>Where packages put their hooks; the admin's (beside the configuration) override them by name.</summary>
    public const string PackageScriptDirectory = "/usr/lib/network-broker";

    /// <summary>The directories holding &lt;state&gt;.d, earlier first: ScriptDirectories=, else the configuration's directory, then the packages'.</summary>
    public IReadOnlyList<string> ScriptRoots => ScriptDirectories is { IsDefaultOrEmpty: false } roots ? roots : [Directory, PackageScriptDirectory];
}
