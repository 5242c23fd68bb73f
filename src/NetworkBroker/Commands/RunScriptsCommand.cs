using System.Globalization;
using NetworkBroker.Cli;
using NetworkBroker.Scripts;

namespace NetworkBroker.Commands;

/// <summary>
/// <c>network-broker run-scripts --link eth1 --state routable</c>: runs one directory's scripts with a
/// synthesised event, as the daemon would run them (as its user, with its two capabilities, by the same
/// rules), so that admins can test their scripts.
/// </summary>
public static class RunScriptsCommand
{
    public static async Task<int> RunAsync(CommandLine command)
    {
        if (Startup.Load(command) is not var (config, log))
            return ExitCodes.Config;
        // As the daemon runs them: started as root, become User= with only CAP_NET_ADMIN and CAP_SYS_ADMIN first,
        // so a script that passes here does not fail there (EACCES on a 0700 script, a write to /root, ...).
        if (Privileges.PrivilegeDrop.ReexecAsUser(config, log, Environment.GetCommandLineArgs()[1..]) is { } failed)
            return failed;

        var link = command.Link!;
        var ifindex = ReadIfIndex(link);
        if (ifindex == 0)
            log.ForLink(link).Warn("No such link in this network namespace; LINKINDEX=0");

        var variables = new List<KeyValuePair<string, string>>
        {
            new("LINK", link),
            new("LINKINDEX", ifindex.ToString(CultureInfo.InvariantCulture)),
            new("STATE", command.State!),
        };
        variables.AddRange(command.Environment);

        var runner = new ScriptRunner(Startup.ScriptOptions(config), log);
        var results = await runner.RunAsync(new ScriptEvent(command.State!, link, ifindex, variables));
        if (results.Count == 0)
            log.ForLink(link, ifindex).Info($"No scripts ran from {ScriptDirectories.PathOf(config.Directory, command.State!)}");
        return results.All(r => r.Succeeded) ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>The link's ifindex from sysfs, 0 when it does not exist here.</summary>
    private static int ReadIfIndex(string link)
    {
        if (link.Contains('/') || link is "." or "..")
            return 0;
        try
        {
            return int.TryParse(File.ReadAllText($"/sys/class/net/{link}/ifindex").Trim(), NumberStyles.None,
                CultureInfo.InvariantCulture, out var index) ? index : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
