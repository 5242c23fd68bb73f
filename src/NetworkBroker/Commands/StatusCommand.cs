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
            config = ConfigurationLoader.Load(command.ConfigPath, Environment.GetEnvironmentVariable, out _);
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

        var text = new StringBuilder();
        text.Append("Daemon\n").Append(await DaemonSectionAsync()).Append('\n');
        text.Append("Links").Append(networkdNote is null ? "" : $" ({networkdNote})").Append('\n');
        foreach (var link in links)
        {
            var linkStates = states.GetValueOrDefault(link.Index) ?? ImmutableDictionary<string, string>.Empty;
            var operational = linkStates.GetValueOrDefault("OperationalState");
            var administrative = linkStates.GetValueOrDefault("AdministrativeState");
            text.Append(CultureInfo.InvariantCulture, $"  {link.Index,3} {link.Name,-16} operational {operational ?? "-",-12} administrative {administrative ?? "-",-12}");
            text.Append(config.Links.Matches(link.Name) ? "" : " (not in Links=)").Append('\n');
            var global = addresses.Where(a => a.Index == link.Index && a.Scope == RouteScope.Universe).Select(a => $"{a.Address}/{a.PrefixLength}").ToList();
            if (global.Count > 0)
                text.Append("      addresses ").Append(string.Join(' ', global)).Append('\n');
            foreach (var state in new[] { operational, administrative }.OfType<string>().Distinct())
                text.Append("      ").Append(Directory(config, state, uid)).Append('\n');
        }

        text.Append("\nPolicy routing (protocol ").Append(PolicyRoutingTags.Protocol).Append(": the broker's own)\n");
        var rules = kernel.DumpRules().Where(r => r.Protocol == PolicyRoutingTags.Protocol).Select(r => PolicyRule.Of(r)?.ToString()).OfType<string>().ToList();
        var routes = kernel.DumpRoutes().Where(r => r.Protocol == PolicyRoutingTags.Protocol).Select(r => PolicyRoute.Of(r).ToString()).ToList();
        foreach (var rule in rules.Order(StringComparer.Ordinal))
            text.Append("  rule ").Append(rule).Append('\n');
        foreach (var route in routes.Order(StringComparer.Ordinal))
            text.Append("  route ").Append(route).Append('\n');
        if (rules.Count + routes.Count == 0)
            text.Append("  none\n");

        text.Append('\n').Append(ConfigurationFormatter.Format(config));
        Console.Out.Write(text.ToString());
        return ExitCodes.Success;
    }

    /// <summary>The running daemon's own counters over its control socket, or why there are none.</summary>
    private static async Task<string> DaemonSectionAsync()
    {
        var path = Control.RuntimeDirectory.ControlSocket;
        try
        {
            var status = await Control.ControlClient.StatusAsync(path, TimeSpan.FromSeconds(5));
            return status.Render(DateTime.UtcNow);
        }
        catch (Control.ControlClientException e)
        {
            return e.NotRunning ? $"  {e.Message}\n" : $"  not reachable: {e.Message}\n";
        }
    }

    /// <summary>"routable.d: 2 scripts (10-a 20-b)", or why nothing would run.</summary>
    private static string Directory(BrokerConfiguration config, string state, uint uid)
    {
        if (!ScriptVariables.IsStateWord(state))
            return $"{state}: not a state name";
        var path = ScriptDirectories.PathOf(config.Directory, state);
        if (!System.IO.Directory.Exists(path))
            return $"{state}.d: no such directory";
        var verdicts = ScriptSelection.Select(ScriptFileSystem.List(path, uid), uid);
        var runs = verdicts.Where(v => v.Runs).Select(v => v.Name).ToList();
        var skipped = verdicts.Count - runs.Count;
        return $"{state}.d: {runs.Count} script(s) would run{(runs.Count > 0 ? " (" + string.Join(' ', runs) + ")" : "")}{(skipped > 0 ? $", {skipped} skipped" : "")}";
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
            foreach (object[] entry in (object[])list.BodyReader().ReadValue("a(iso)"))
            {
                (states[(int)entry[0]], _) = await NetworkdSource.GetAllAsync(bus, owner, (string)entry[2], NetworkdBus.LinkInterface,
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
