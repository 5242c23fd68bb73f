using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using NetworkBroker.Cli;
using NetworkBroker.Configuration;
using NetworkBroker.DBus;
using NetworkBroker.Netlink;
using NetworkBroker.Networkd;
using NetworkBroker.Routing;
using NetworkBroker.Scripts;

namespace NetworkBroker.Commands;

/// <summary>
/// <c>network-broker status</c>: the running daemon's own counters (over its control socket, when it runs),
/// then what the broker would see and do now, read straight from the kernel and networkd (so it works
/// whether the daemon runs or not): links and their states, the script directories that would run for
/// each, the policy-routing rules and routes the broker owns, the effective configuration.
/// </summary>
public static class StatusCommand
{
    public static async Task<int> RunAsync(CommandLine command)
    {
        BrokerConfiguration config;
        try
        {
            config = ConfigurationLoader.Load(command.ConfigPath, Environment.GetEnvironmentVariable, out _, mustExist: command.ConfigGiven);
        }
        catch (ConfigurationException e)
        {
            foreach (var error in e.Errors)
                Console.Error.WriteLine(error);
            return ExitCodes.Config;
        }

        using var kernel = RtnetlinkClient.Open();
        var links = kernel.DumpLinks().OrderBy(l => l.Index).ToList();
        var addresses = kernel.DumpAddresses();
        var (states, networkdNote) = await NetworkdStatesAsync();
        var uid = Native.Libc.geteuid();
        var (daemon, daemonError, notRunning) = await DaemonAsync();
        var rules = kernel.DumpRules().Where(r => r.Protocol == PolicyRoutingTags.Protocol).Select(r => PolicyRule.Of(r)?.ToString()).OfType<string>()
            .Order(StringComparer.Ordinal).ToList();
        var routes = kernel.DumpRoutes().Where(r => r.Protocol == PolicyRoutingTags.Protocol).Select(r => PolicyRoute.Of(r).ToString())
            .Order(StringComparer.Ordinal).ToList();
        var linkViews = links.Select(link =>
        {
            var linkStates = states.GetValueOrDefault(link.Index) ?? ImmutableDictionary<string, string>.Empty;
            var operational = linkStates.GetValueOrDefault("OperationalState");
            var administrative = linkStates.GetValueOrDefault("AdministrativeState");
            var global = addresses.Where(a => a.Index == link.Index && a.Scope == RouteScope.Universe).Select(a => $"{a.Address}/{a.PrefixLength}").ToList();
            var directories = new[] { operational, administrative }.OfType<string>().Distinct().Select(state => Directory(config, state, uid)).ToList();
            return new LinkView(link.Index, link.Name, operational, administrative, config.Links.Matches(link.Name), global, directories);
        }).ToList();

        if (command.Json)
            Console.Out.WriteLine(Json(daemon, daemonError, linkViews, networkdNote, rules, routes, config));
        else
            Console.Out.Write(Text(daemon, daemonError, linkViews, networkdNote, rules, routes, command.Verbose ? config : null));
        // As systemctl status: 0 running, 3 not running; 1 when the daemon could not be asked.
        return daemon is not null ? ExitCodes.Success : notRunning ? ExitCodes.NotRunning : ExitCodes.Failure;
    }

    private sealed record LinkView(int IfIndex, string Name, string? Operational, string? Administrative, bool Selected,
        List<string> Addresses, List<DirectoryView> Directories);

    private sealed record DirectoryView(string State, string? Problem, List<string> Runs, int Skipped);

    private static string Text(Control.DaemonStatus? daemon, string? daemonError, List<LinkView> links, string? networkdNote,
        List<string> rules, List<string> routes, BrokerConfiguration? config)
    {
        var text = new StringBuilder();
        text.Append("Daemon\n").Append(daemon?.Render(DateTime.UtcNow) ?? $"  {daemonError}\n").Append('\n');
        text.Append("Links").Append(networkdNote is null ? "" : $" ({networkdNote})").Append('\n');
        foreach (var link in links)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"  {link.IfIndex,3} {KernelText.Display(link.Name),-16} operational {link.Operational ?? "-",-12} administrative {link.Administrative ?? "-",-12}");
            text.Append(link.Selected ? "" : " (not in Links=)").Append('\n');
            if (link.Addresses.Count > 0)
                text.Append("      addresses ").Append(string.Join(' ', link.Addresses)).Append('\n');
            foreach (var directory in link.Directories)
                text.Append("      ").Append(directory.Problem is { } problem ? $"{directory.State}{(problem == NotAState ? "" : ".d")}: {problem}"
                    : $"{directory.State}.d: {directory.Runs.Count} script(s) would run{(directory.Runs.Count > 0 ? " (" + string.Join(' ', directory.Runs) + ")" : "")}" +
                      $"{(directory.Skipped > 0 ? $", {directory.Skipped} skipped" : "")}").Append('\n');
        }

        text.Append("\nPolicy routing (protocol ").Append(PolicyRoutingTags.Protocol).Append(": the broker's own)\n");
        foreach (var rule in rules)
            text.Append("  rule ").Append(rule).Append('\n');
        foreach (var route in routes)
            text.Append("  route ").Append(route).Append('\n');
        if (rules.Count + routes.Count == 0)
            text.Append("  none\n");
        if (config is not null)
            text.Append('\n').Append(ConfigurationFormatter.Format(config));
        return text.ToString();
    }

    /// <summary>One object with stable keys (documented in network-broker(8)); the daemon's part is its control-socket reply.</summary>
    private static string Json(Control.DaemonStatus? daemon, string? daemonError, List<LinkView> links, string? networkdNote,
        List<string> rules, List<string> routes, BrokerConfiguration config)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteBoolean("running", daemon is not null);
            if (daemon is not null)
            {
                json.WritePropertyName("daemon");
                json.WriteRawValue(daemon.ToJson());
            }
            else
                json.WriteString("daemon_error", daemonError);
            if (networkdNote is not null)
                json.WriteString("networkd_error", networkdNote);
            json.WriteStartArray("links");
            foreach (var link in links)
            {
                json.WriteStartObject();
                json.WriteNumber("ifindex", link.IfIndex);
                json.WriteString("name", KernelText.Display(link.Name));
                json.WriteString("operational_state", link.Operational);
                json.WriteString("administrative_state", link.Administrative);
                json.WriteBoolean("selected", link.Selected);
                json.WriteStartArray("addresses");
                foreach (var address in link.Addresses)
                    json.WriteStringValue(address);
                json.WriteEndArray();
                json.WriteStartArray("directories");
                foreach (var directory in link.Directories)
                {
                    json.WriteStartObject();
                    json.WriteString("state", directory.State);
                    if (directory.Problem is not null)
                        json.WriteString("problem", directory.Problem);
                    json.WriteStartArray("scripts");
                    foreach (var script in directory.Runs)
                        json.WriteStringValue(script);
                    json.WriteEndArray();
                    json.WriteNumber("skipped", directory.Skipped);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("policy_routing");
            json.WriteStartArray("rules");
            foreach (var rule in rules)
                json.WriteStringValue(rule);
            json.WriteEndArray();
            json.WriteStartArray("routes");
            foreach (var route in routes)
                json.WriteStringValue(route);
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteString("config", config.Path);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The running daemon's own counters over its control socket, or why there are none.</summary>
    private static async Task<(Control.DaemonStatus? Status, string? Error, bool NotRunning)> DaemonAsync()
    {
        var path = Control.RuntimeDirectory.ControlSocket;
        try
        {
            return (await Control.ControlClient.StatusAsync(path, TimeSpan.FromSeconds(5)), null, false);
        }
        catch (Control.ControlClientException e)
        {
            return (null, e.NotRunning ? e.Message : $"not reachable: {e.Message}", e.NotRunning);
        }
    }

    private const string NotAState = "not a state name";

    /// <summary>What <c>&lt;state&gt;.d</c> would run (a script from a later directory of ScriptDirectories= with its path), or why nothing would.</summary>
    private static DirectoryView Directory(BrokerConfiguration config, string state, uint uid)
    {
        if (!ScriptVariables.IsStateWord(state))
            return new DirectoryView(state, NotAState, [], 0);
        var directories = config.ScriptRoots.Select(root => ScriptDirectories.PathOf(root, state)).Where(System.IO.Directory.Exists).ToList();
        if (directories.Count == 0)
            return new DirectoryView(state, "no such directory", [], 0);
        var winners = ScriptSelection.Merge(directories.Select(d => (d, ScriptFileSystem.List(d, uid))));
        var first = ScriptDirectories.PathOf(config.ScriptRoots[0], state);
        var considered = winners.Where(w => !ScriptSelection.IsMasked(w.Facts)).ToList();
        var runs = considered.Where(w => ScriptSelection.SkipReason(w.Facts, uid) is null)
            .Select(w => w.Directory == first ? w.Facts.Name : Path.Combine(w.Directory, w.Facts.Name)).ToList();
        var skipped = considered.Count - runs.Count;
        return new DirectoryView(state, null, runs, skipped);
    }

    private static async Task<(Dictionary<int, ImmutableDictionary<string, string>> States, string? Note)> NetworkdStatesAsync()
    {
        var states = new Dictionary<int, ImmutableDictionary<string, string>>();
        try
        {
            await using var bus = await DBusConnection.ConnectAsync(DBusAddress.SystemBus, _ => { });
            if (await bus.GetNameOwnerAsync(NetworkdBus.Service) is not { } owner)
                return (states, "networkd is not on the bus");
            var list = await bus.CallAsync(owner, NetworkdBus.ManagerPath, NetworkdBus.ManagerInterface, "ListLinks", timeout: TimeSpan.FromSeconds(5));
            foreach (var (index, _, path) in NetworkdBus.ReadLinks(list))
            {
                (states[index], _) = await NetworkdSource.GetAllAsync(bus, owner, path, NetworkdBus.LinkInterface,
                    CancellationToken.None, TimeSpan.FromSeconds(5));
            }
            return (states, null);
        }
        catch (Exception e) when (e is DBusConnectionException or DBusErrorException or TimeoutException or DBusFormatException)
        {
            return (states, $"networkd not reachable: {e.Message}");
        }
    }
}
