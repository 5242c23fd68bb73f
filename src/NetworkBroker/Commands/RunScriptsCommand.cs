using NetworkBroker.Cli;
using NetworkBroker.Configuration;
using NetworkBroker.Control;
using NetworkBroker.Core;
using NetworkBroker.DBus;
using NetworkBroker.Dhclient;
using NetworkBroker.Events;
using NetworkBroker.Logging;
using NetworkBroker.Netlink;
using NetworkBroker.Networkd;
using NetworkBroker.Scripts;

namespace NetworkBroker.Commands;

/// <summary>
/// <c>network-broker run-scripts --link eth1 --state routable</c>: runs one directory's scripts as the daemon runs
/// them for a real event, so that a script that passes here passes there. With the daemon running, the daemon
/// itself runs them (its control socket): same user, capabilities, environment, ordering. Without it, the same
/// event is built here by the daemon's own code from the kernel's and networkd's state, after becoming User=.
/// Each script's output and exit status are printed.
/// </summary>
public static class RunScriptsCommand
{
    public static async Task<int> RunAsync(CommandLine command)
    {
        if (Startup.Load(command) is not var (config, log))
            return ExitCodes.Config;
        var request = new RunScriptsRequest(command.State!, command.State == StateScripts.ManagerState ? null : command.Link, command.Environment);

        try
        {
            return await AskDaemonAsync(request, RuntimeDirectory.ControlSocket).ConfigureAwait(false);
        }
        catch (ControlClientException e) when (e.NotRunning)
        {
            log.Info("The daemon is not running: running the scripts here, as it would");
        }
        catch (ControlClientException e)
        {
            Console.Error.WriteLine($"network-broker run-scripts: {e.Message}");
            return ExitCodes.Failure;
        }

        // As the daemon runs them: started as root, become User= with only CAP_NET_ADMIN and CAP_SYS_ADMIN first,
        // so a script that passes here does not fail there (EACCES on a 0700 script, a write to /root, ...).
        if (Privileges.PrivilegeDrop.ReexecAsUser(config, log, Environment.GetCommandLineArgs()[1..]) is { } failed)
            return failed;
        return await RunHereAsync(config, log, request).ConfigureAwait(false);
    }

    private static async Task<int> AskDaemonAsync(RunScriptsRequest request, string socket)
    {
        var report = new Report(request.State, " (run by the daemon)");
        await foreach (var line in ControlClient.RequestAsync(socket, request.ToLine(), CancellationToken.None).ConfigureAwait(false))
        {
            using var document = System.Text.Json.JsonDocument.Parse(line);
            var root = document.RootElement;
            string Text(string name) => root.GetProperty(name).GetString()!;
            switch (root.TryGetProperty("event", out var kind) ? kind.GetString() : null)
            {
                case "output": report.Output(Text("script"), Text("stream") == "stderr", Text("line")); break;
                case "result": report.Result(Text("script"), Text("result"), root.GetProperty("succeeded").GetBoolean()); break;
                case "note": report.Note(Text("text")); break;
                case "not-run": report.NotRun(Text("why")); break;
            }
        }
        return report.End();
    }

    /// <summary>The daemon's own broker, fed the kernel's and networkd's (or dhclient's) current state, asked for the event.</summary>
    private static async Task<int> RunHereAsync(BrokerConfiguration config, Logger log, RunScriptsRequest request)
    {
        var runner = new ScriptRunner(Startup.ScriptOptions(config), log);
        await using var dispatcher = new ScriptDispatcher(runner, log);
        // No memory and no replay: the state read here is only the ground the asked event is built on.
        var broker = new Broker(config with { RunStartupTriggers = false }, log, dispatcher);
        using var stop = new CancellationTokenSource();
        var loop = broker.RunAsync(stop.Token);
        try
        {
            using (var client = RtnetlinkClient.Open())
                await broker.Events.WriteAsync(new KernelResynced(KernelSnapshot.Read(client), ResyncReason.Initial)).ConfigureAwait(false);
            if (config.Generator.HasFlag(EventSources.SystemdNetworkd))
            {
                var networkd = new NetworkdSource(broker.Events, log, DBusAddress.SystemBus);
                using var reading = new CancellationTokenSource();
                var running = networkd.RunAsync(reading.Token);
                await networkd.FirstAttempt.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                await reading.CancelAsync().ConfigureAwait(false);
                await running.ConfigureAwait(false);
            }
            using var dhclient = new Disposables(config.Generator.HasFlag(EventSources.DHClient)
                ? DhclientSource.ForEach(config.DHClientLeaseFiles, broker.Events, log)
                : []);

            var observer = new ScriptObserver(request.Environment);
            if (await broker.QueryAsync(b => b.RunOnRequest(request.State, request.Link, observer)).ConfigureAwait(false) is { } refused)
            {
                Console.Error.WriteLine($"network-broker run-scripts: {refused}");
                return ExitCodes.Failure;
            }
            var report = new Report(request.State, "");
            await foreach (var observation in observer.Observations.ReadAllAsync().ConfigureAwait(false))
                switch (observation)
                {
                    case ScriptObservation.Line line: report.Output(line.Script, line.StandardError, line.Text); break;
                    case ScriptObservation.Result result: report.Result(result.Outcome.Path, MonitorEvents.Describe(result.Outcome), result.Outcome.Succeeded); break;
                    case ScriptObservation.Note note: report.Note(note.Text); break;
                    case ScriptObservation.NotRun notRun: report.NotRun(notRun.Why); break;
                }
            return report.End();
        }
        catch (Exception e) when (e is NetlinkException or TimeoutException)
        {
            Console.Error.WriteLine($"network-broker run-scripts: cannot read the network's state: {e.Message}");
            return ExitCodes.Failure;
        }
        finally
        {
            broker.Events.TryComplete();
            await stop.CancelAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(false);
        }
    }

    /// <summary>What the command prints of a run, the daemon's or its own, and the exit status it ends with.</summary>
    private sealed class Report(string state, string by)
    {
        private int _results;
        private int _failures;

        public void Output(string script, bool standardError, string line) =>
            // A script's output may echo a peer's value: its control characters shown as \xNN, as in the log.
            (standardError ? Console.Error : Console.Out).WriteLine($"{Path.GetFileName(script)}: {Netlink.KernelText.DisplayMessage(line)}");

        public void Result(string script, string description, bool succeeded)
        {
            _results++;
            if (!succeeded)
                _failures++;
            Console.WriteLine($"{script}: {description}");
        }

        public void Note(string text) => Console.Error.WriteLine($"network-broker run-scripts: note: {text}");

        public void NotRun(string why)
        {
            Console.Error.WriteLine($"network-broker run-scripts: not run: {why}");
            _failures++;
        }

        public int End()
        {
            if (_results == 0 && _failures == 0)
                Console.WriteLine($"No scripts ran for {state}.d{by}");
            return _failures == 0 ? ExitCodes.Success : ExitCodes.Failure;
        }
    }
}
