using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NetworkBroker.Control;

/// <summary>
/// The running daemon's own view, which only it can tell: who and what it is, how many links it watches,
/// the rules and routes it manages, what its scripts did. Sent over the control socket as one JSON object
/// (the <c>status</c> request), and summarised in systemd's STATUS= line.
/// </summary>
public sealed record DaemonStatus
{
    public int Pid { get; init; }
    public string Version { get; init; } = "";
    public uint Uid { get; init; }
    public string User { get; init; } = "";
    public DateTime Started { get; init; }
    public string Config { get; init; } = "";
    public string Generator { get; init; } = "";
    /// <summary>Links in the kernel model, and of those the ones Links= selects.</summary>
    public int Links { get; init; }
    public int LinksSelected { get; init; }
    public int NetworkdLinks { get; init; }
    public int PolicyRules { get; init; }
    public int PolicyRoutes { get; init; }
    public int PolicyRoutingFailed { get; init; }
    public long Events { get; init; }
    public long ScriptEvents { get; init; }
    public long Scripts { get; init; }
    public long ScriptsFailed { get; init; }
    public long ScriptsTimedOut { get; init; }
    public int ScriptsRunning { get; init; }
    public int Monitors { get; init; }
    /// <summary>D-Bus signals dropped because their sender was not the peer they claimed to be (networkd).</summary>
    public long SignalsRejected { get; init; }
    /// <summary>dhclient's lease data sent to systemd-resolved and systemd-hostnamed, and the calls refused or unanswered.</summary>
    public long DhcpPushes { get; init; }
    public long DhcpPushesFailed { get; init; }
    /// <summary>Times the kernel's notifications overran the receive buffer (each made the daemon re-read the kernel's state).</summary>
    public long KernelOverruns { get; init; }
    /// <summary>Calls that may block made on the broker's loop (<see cref="Core.LoopGuard"/>): 0 unless there is a bug.</summary>
    public long LoopBlockingCalls { get; init; }

    /// <summary>Reads the broker's model; call it on the broker's loop (<see cref="Core.Broker.QueryAsync{T}"/>).</summary>
    /// <param name="user">The daemon's user name, looked up once off the loop: getpwuid reads /etc/passwd (or asks NSS).</param>
    public static DaemonStatus Of(Core.Broker broker, Scripts.ScriptStatistics scripts, int monitors, DateTime started, string user,
        long signalsRejected = 0, (long Pushes, long Failed) dhcpPushes = default, long kernelOverruns = 0)
    {
        var config = broker.Config;
        var links = broker.Kernel.Links;
        var policy = broker.PolicyRouting;
        return new DaemonStatus
        {
            Pid = Environment.ProcessId,
            Version = BuildInfo.Version,
            Uid = Native.Libc.geteuid(),
            User = user,
            Started = started,
            Config = config.Path,
            Generator = Configuration.EventSourceNames.Format(config.Generator),
            Links = links.Count,
            LinksSelected = links.Count(l => config.Links.Matches(l.Name)),
            NetworkdLinks = broker.Networkd.LinkCount,
            PolicyRules = policy is null ? 0 : policy.Desired.Rules.Count,
            PolicyRoutes = policy is null ? 0 : policy.Desired.Routes.Count,
            PolicyRoutingFailed = policy?.Failed ?? 0,
            Events = broker.EventsHandled,
            ScriptEvents = scripts.Events,
            Scripts = scripts.Scripts,
            ScriptsFailed = scripts.Failed,
            ScriptsTimedOut = scripts.TimedOut,
            ScriptsRunning = scripts.Running,
            Monitors = monitors,
            SignalsRejected = signalsRejected,
            DhcpPushes = dhcpPushes.Pushes,
            DhcpPushesFailed = dhcpPushes.Failed,
            KernelOverruns = kernelOverruns,
            LoopBlockingCalls = Core.LoopGuard.Violations,
        };
    }

    /// <summary>The STATUS= line: short, and changing only when something worth a look changed (a failed DHCP push is).</summary>
    public string StatusLine() => string.Create(CultureInfo.InvariantCulture,
        $"Watching {Links} links ({LinksSelected} selected); {PolicyRules} rules, {PolicyRoutes} routes managed; {Scripts} scripts run, {ScriptsFailed} failed{(DhcpPushesFailed > 0 ? $"; {DhcpPushesFailed} DHCP pushes failed" : "")}");

    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("pid", Pid);
            json.WriteString("version", Version);
            json.WriteNumber("uid", Uid);
            json.WriteString("user", User);
            json.WriteString("started", Started);
            json.WriteString("config", Config);
            json.WriteString("generator", Generator);
            json.WriteNumber("links", Links);
            json.WriteNumber("links_selected", LinksSelected);
            json.WriteNumber("networkd_links", NetworkdLinks);
            json.WriteNumber("policy_rules", PolicyRules);
            json.WriteNumber("policy_routes", PolicyRoutes);
            json.WriteNumber("policy_routing_failed", PolicyRoutingFailed);
            json.WriteNumber("events", Events);
            json.WriteNumber("script_events", ScriptEvents);
            json.WriteNumber("scripts", Scripts);
            json.WriteNumber("scripts_failed", ScriptsFailed);
            json.WriteNumber("scripts_timed_out", ScriptsTimedOut);
            json.WriteNumber("scripts_running", ScriptsRunning);
            json.WriteNumber("monitors", Monitors);
            json.WriteNumber("signals_rejected", SignalsRejected);
            json.WriteNumber("dhcp_pushes", DhcpPushes);
            json.WriteNumber("dhcp_pushes_failed", DhcpPushesFailed);
            json.WriteNumber("kernel_overruns", KernelOverruns);
            json.WriteNumber("loop_blocking_calls", LoopBlockingCalls);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <exception cref="JsonException">Not a status object.</exception>
    public static DaemonStatus Parse(string text)
    {
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("pid", out _))
            throw new JsonException("not a status reply");
        string S(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        long N(string name) => !root.TryGetProperty(name, out var v) ? 0
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n
            : throw new JsonException($"\"{name}\" is not an integer");
        return new DaemonStatus
        {
            Pid = (int)N("pid"),
            Version = S("version"),
            Uid = (uint)N("uid"),
            User = S("user"),
            Started = root.TryGetProperty("started", out var started) && started.TryGetDateTime(out var time) ? time.ToUniversalTime() : default,
            Config = S("config"),
            Generator = S("generator"),
            Links = (int)N("links"),
            LinksSelected = (int)N("links_selected"),
            NetworkdLinks = (int)N("networkd_links"),
            PolicyRules = (int)N("policy_rules"),
            PolicyRoutes = (int)N("policy_routes"),
            PolicyRoutingFailed = (int)N("policy_routing_failed"),
            Events = N("events"),
            ScriptEvents = N("script_events"),
            Scripts = N("scripts"),
            ScriptsFailed = N("scripts_failed"),
            ScriptsTimedOut = N("scripts_timed_out"),
            ScriptsRunning = (int)N("scripts_running"),
            Monitors = (int)N("monitors"),
            SignalsRejected = N("signals_rejected"),
            DhcpPushes = N("dhcp_pushes"),
            DhcpPushesFailed = N("dhcp_pushes_failed"),
            KernelOverruns = N("kernel_overruns"),
            LoopBlockingCalls = N("loop_blocking_calls"),
        };
    }

    /// <summary>The "Daemon" section of <c>network-broker status</c>.</summary>
    public string Render(DateTime utcNow)
    {
        var up = utcNow - Started;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"  running: pid {Pid}, network-broker {Version}, user {User} (uid {Uid}), since {Started:yyyy-MM-dd HH:mm:ss} UTC (up {Uptime(up)})\n");
        text.Append(CultureInfo.InvariantCulture, $"  configuration {Config}, sources {Generator}\n");
        text.Append(CultureInfo.InvariantCulture,
            $"  watching {Links} links ({LinksSelected} selected by Links=, {NetworkdLinks} known to networkd); {Events} events handled\n");
        text.Append(CultureInfo.InvariantCulture,
            $"  policy routing: {PolicyRules} rules and {PolicyRoutes} routes managed{(PolicyRoutingFailed > 0 ? $", {PolicyRoutingFailed} changes failed at the last run" : "")}\n");
        text.Append(CultureInfo.InvariantCulture,
            $"  scripts: {Scripts} run for {ScriptEvents} events, {ScriptsFailed} failed, {ScriptsTimedOut} timed out, {ScriptsRunning} running now; {Monitors} monitor(s) attached\n");
        if (DhcpPushes > 0)
            text.Append(CultureInfo.InvariantCulture,
                $"  dhcp pushes: {DhcpPushes} to systemd-resolved and systemd-hostnamed, {DhcpPushesFailed} failed{(DhcpPushesFailed > 0 ? " (see the log)" : "")}\n");
        if (KernelOverruns > 0)
            text.Append(CultureInfo.InvariantCulture,
                $"  kernel: {KernelOverruns} overrun(s) of the netlink receive buffer, each followed by a re-read of its state\n");
        if (SignalsRejected > 0)
            text.Append(CultureInfo.InvariantCulture,
                $"  security: {SignalsRejected} D-Bus signal(s) rejected: not sent by systemd-networkd (see the log)\n");
        if (LoopBlockingCalls > 0)
            text.Append(CultureInfo.InvariantCulture,
                $"  bug: {LoopBlockingCalls} blocking call(s) made on the event loop (the log names the first ones)\n");
        return text.ToString();
    }

    private static string Uptime(TimeSpan span) => span.TotalDays >= 1
        ? $"{(int)span.TotalDays}d {span.Hours}h"
        : span.TotalHours >= 1 ? $"{(int)span.TotalHours}h {span.Minutes}m" : $"{(int)span.TotalMinutes}m {span.Seconds}s";
}
