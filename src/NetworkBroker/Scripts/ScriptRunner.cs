using System.Diagnostics;
using System.Globalization;
using NetworkBroker.Logging;
using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

public sealed record ScriptRunnerOptions
{
    /// <summary>The directory holding the <c>&lt;state&gt;.d</c> directories (the config file's directory).</summary>
    public required string ScriptRoot { get; init; }
    /// <summary>Later directories of ScriptDirectories=: a script name in an earlier one overrides theirs.</summary>
    public IReadOnlyList<string> MoreScriptRoots { get; init; } = [];
    /// <summary><c>ScriptTimeoutSec=</c>: a script still running then is sent SIGTERM with its process group.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Between SIGTERM and SIGKILL.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long output is still awaited once a script exited (a background child may hold the stream open).</summary>
    public TimeSpan OutputDrain { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Besides root, the owner a script may have.</summary>
    public uint DaemonUid { get; init; } = Libc.geteuid();
    public string SpillDirectory { get; init; } = ScriptEnvironment.DefaultSpillDirectory();
}

/// <summary>The outcome of one script of a run.</summary>
public sealed record ScriptResult(string Path, ScriptExit? Exit, bool TimedOut, string? Error)
{
    public bool Succeeded => Error is null && !TimedOut && Exit is { Succeeded: true };
}

/// <summary>
/// Runs the scripts of one event's directory, one after another in lexical order, each with the
/// event's environment and under the timeout. It does not order events: <see cref="ScriptDispatcher"/> does.
/// Its awaits resume in the caller's context (the dispatcher's <see cref="ScriptThread"/>; the pool elsewhere).
/// </summary>
public sealed class ScriptRunner(ScriptRunnerOptions initialOptions, Logger log)
{
    private ScriptRunnerOptions options = initialOptions;

    // A skipped script is reported once per reason, not on every event (a flapping link would flood the log).
    private readonly RepeatFilter _reportedSkips = new();

    private readonly EmptyDirectories _empty = new();

    /// <summary>The state directories known to be empty (<see cref="EmptyDirectories"/>).</summary>
    internal EmptyDirectories EmptyDirectories => _empty;

    /// <summary>The states known to hold nothing to run until a directory changes (<see cref="ScriptDirectoryWatch"/>); null: looked at every run.</summary>
    internal ScriptDirectoryWatch? Watch { get; init; }

    /// <summary>Replaced on reload (ScriptTimeoutSec=); a running script keeps the timeout it started with.</summary>
    public ScriptRunnerOptions Options
    {
        get => options;
        set
        {
            options = value;
            // What was known was known of the old roots.
            Watch?.ForgetAll();
        }
    }

    /// <summary>Whether <paramref name="state"/> is known to hold nothing to run, as of now (safe from any thread, never waits).</summary>
    public bool HoldsNothing(string state) => Watch?.HoldsNothing(state) == true;

    /// <summary>An event found to hold nothing before it was queued (<see cref="ScriptDispatcher.Enqueue"/>): said as a run would.</summary>
    internal void Skipped(ScriptEvent scriptEvent) => Write(scriptEvent, LogLevel.Debug, NothingKnown(scriptEvent.State));

    /// <summary>The debug line of an event whose state is known to hold nothing, wherever it is dropped.</summary>
    internal static string NothingKnown(string state) => $"No scripts to run for {state}.d (its directories are unchanged since they held none)";

    private IEnumerable<string> Roots => [options.ScriptRoot, .. options.MoreScriptRoots];

    /// <param name="cancellation">Stops the run before its next script (shutdown); a script already running keeps its timeout.</param>
    /// <param name="cutShort">Called when the cancellation left scripts of the event not started.</param>
    public async Task<IReadOnlyList<ScriptResult>> RunAsync(ScriptEvent scriptEvent, CancellationToken cancellation = default, Action? cutShort = null)
    {
        var scripts = Select(scriptEvent);
        if (scripts.Count == 0)
            return [];

        var results = new List<ScriptResult>(scripts.Count);
        using var environment = ScriptEnvironment.Build(Variables(scriptEvent), options.SpillDirectory,
            (name, bytes, file) => Write(scriptEvent, LogLevel.Info,
                $"{name} is {bytes} bytes, over the kernel's limit of {ScriptEnvironment.MaxStringBytes} for one variable: passed as {name}_FILE={file}"),
            name => Write(scriptEvent, LogLevel.Warn, $"Not passing variable \"{PeerText.Excerpt(name)}\": not a documented script variable"));
        foreach (var (path, directory) in scripts)
        {
            if (cancellation.IsCancellationRequested)
            {
                Write(scriptEvent, LogLevel.Info, $"{scriptEvent.State}.d/{Path.GetFileName(path)} not started: shutting down");
                cutShort?.Invoke();
                break;
            }
            // The first script starts right after its directory was walked; a later one after the scripts before it ran.
            var result = await RunScriptAsync(scriptEvent, path, results.Count == 0 ? directory : null, environment.Entries);
            scriptEvent.Observer?.Finished(result);
            results.Add(result);
        }
        return results;
    }

    /// <summary>
    /// The scripts to run, as paths with the facts of the directory that holds each: the state's directory in every
    /// script root, merged (<see cref="ScriptSelection.Merge"/>). Each directory is walked once per run; its entries are
    /// looked up in it (<see cref="ScriptFileSystem.FactsIn"/>) here and before the first script starts.
    /// </summary>
    private List<(string Path, ScriptFileFacts Directory)> Select(ScriptEvent scriptEvent)
    {
        if (HoldsNothing(scriptEvent.State))
        {
            Skipped(scriptEvent);
            return [];
        }
        var directories = new List<(string, IEnumerable<ScriptFileFacts>)>();
        var trusted = new Dictionary<string, ScriptFileFacts>(StringComparer.Ordinal);
        var anyEntry = false;
        foreach (var root in Roots)
        {
            var directory = ScriptDirectories.PathOf(root, scriptEvent.State);
            if (Entries(directory, scriptEvent) is { } entries)
            {
                directories.Add((directory, entries.Entries));
                trusted[directory] = entries.Directory;
                anyEntry |= entries.Entries.Count > 0;
            }
        }

        var runnable = new List<(string, ScriptFileFacts)>();
        foreach (var (directory, facts) in ScriptSelection.Merge(directories))
        {
            var path = Path.Combine(directory, facts.Name);
            if (ScriptSelection.IsMasked(facts))
                Write(scriptEvent, LogLevel.Debug, $"{path} is masked (a link to /dev/null)");
            else if (ScriptSelection.SkipReason(facts, options.DaemonUid) is { } reason)
                ReportSkip(scriptEvent, Path.Combine(directory, PeerText.Excerpt(facts.Name)), reason, "script");
            else
                runnable.Add((path, trusted[directory]));
        }
        if (runnable.Count == 0)
        {
            Write(scriptEvent, LogLevel.Debug, $"No scripts to run for {scriptEvent.State}.d");
            if (!anyEntry && Watch is { } watch)
                LearnNothing(watch, scriptEvent);
        }
        return runnable;
    }

    /// <summary>
    /// No root's directory of the state had an entry: each watched (<see cref="ScriptDirectoryWatch.Watch"/>), then looked
    /// at again, and the state known to hold nothing when every one is still missing or empty and no change came between.
    /// Once per change; the runs after it find the state known.
    /// </summary>
    private void LearnNothing(ScriptDirectoryWatch watch, ScriptEvent scriptEvent)
    {
        var generation = watch.Begin();
        foreach (var root in Roots)
        {
            // The root too: renamed away with a new one made in its place, its state directory is another one.
            if (watch.Watch(root) is null)
                return;
            var directory = ScriptDirectories.PathOf(root, scriptEvent.State);
            var holdsNothing = watch.Watch(directory) switch
            {
                WatchedPath.Missing => ScriptFileSystem.LookUp(directory).Missing,
                WatchedPath.Directory => ScriptFileSystem.HasNoEntry(directory),
                _ => false,
            };
            if (!holdsNothing)
                return;
        }
        if (watch.Learn(scriptEvent.State, generation))
            Write(scriptEvent, LogLevel.Debug, $"{scriptEvent.State}.d holds nothing in any script directory; looked at again once one changes");
    }

    /// <summary>A state directory's facts and entries, or null when it is missing, empty, or cannot be trusted (said once).</summary>
    private (ScriptFileFacts Directory, List<ScriptFileFacts> Entries)? Entries(string directory, ScriptEvent scriptEvent)
    {
        var lookUp = ScriptFileSystem.LookUp(directory, stamp: _empty.Remembers(directory));
        if (_empty.IsEmpty(directory, lookUp.Stamp))
        {
            Write(scriptEvent, LogLevel.Debug, $"{directory} is empty, nothing to run");
            return null;
        }
        var facts = ScriptFileSystem.Facts(directory, options.DaemonUid, lookUp);
        if ((facts.PathProblem ?? (facts.Kind == ScriptFileKind.Directory ? ScriptSelection.UnsafeOwnership(facts.Mode, facts.Uid, options.DaemonUid) : null))
            is { } unsafeDirectory)
        {
            ReportSkip(scriptEvent, directory, unsafeDirectory, "directory");
            return null;
        }
        if (facts.Kind != ScriptFileKind.Directory)
        {
            Write(scriptEvent, LogLevel.Debug, $"{directory} does not exist, nothing to run");
            return null;
        }
        try
        {
            List<ScriptFileFacts> entries = [.. ScriptFileSystem.List(directory, options.DaemonUid, facts)];
            if (entries.Count == 0)
                LearnEmpty(directory, facts);
            return (facts, entries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Write(scriptEvent, LogLevel.Error, $"Cannot read {directory}: {ErrorText.Of(e)}");
            return null;
        }
    }

    /// <summary>
    /// A listing found nothing: listed once more between two stamps, the clock read before both, so that what is
    /// remembered (<see cref="EmptyDirectories.Listed"/>) is a stamp no change came between. Once per change of the
    /// directory; a run after that finds it empty by its stamp alone.
    /// </summary>
    private void LearnEmpty(string directory, ScriptFileFacts facts)
    {
        var listedAt = _empty.Now();
        if (ScriptFileSystem.LookUp(directory, stamp: true).Stamp is { } before
            && !ScriptFileSystem.List(directory, options.DaemonUid, facts).Any()
            && ScriptFileSystem.LookUp(directory, stamp: true).Stamp is { } after)
            _empty.Listed(directory, listedAt, before, after);
    }

    /// <summary>The event's variables, the deferred ones computed now (off the broker's loop); a failure there costs only them.</summary>
    private IEnumerable<KeyValuePair<string, string>> Variables(ScriptEvent scriptEvent)
    {
        var requested = scriptEvent.Observer?.Overrides ?? [];
        try
        {
            return EventEnvironment.Complete(scriptEvent.Environment, scriptEvent.Deferred?.Value, requested);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            Write(scriptEvent, LogLevel.Warn, $"Some variables could not be made ({ErrorText.Of(e)}); running without them");
            return EventEnvironment.Complete(scriptEvent.Environment, null, requested);
        }
    }

    private void ReportSkip(ScriptEvent scriptEvent, string path, string reason, string what) =>
        Write(scriptEvent, _reportedSkips.IsNew(path, reason) ? LogLevel.Warn : LogLevel.Debug, $"Skipping {what} {path}: {reason}");

    /// <param name="directory">The facts of the directory walked just before; null: the whole path is walked again.</param>
    private async Task<ScriptResult> RunScriptAsync(ScriptEvent scriptEvent, string path, ScriptFileFacts? directory, IReadOnlyList<string> environment)
    {
        var name = $"{scriptEvent.State}.d/{Path.GetFileName(path)}";
        // Checked again now, not only when the directory was listed, and the file executed is the one checked: every
        // link on the way resolved, every directory trusted. Right after the directory's walk, looked up in it; after
        // earlier scripts ran for a while, walked again (a directory on the way may have been replaced meanwhile:
        // tmpfiles ageing a root directory out of a sticky one, and another user making one in its place).
        var facts = directory is { } walked ? ScriptFileSystem.FactsIn(walked, Path.GetFileName(path), options.DaemonUid)
            : ScriptFileSystem.Facts(path, options.DaemonUid);
        if (ScriptSelection.SkipReason(facts, options.DaemonUid) is { } reason)
        {
            ReportSkip(scriptEvent, path, reason, "script");
            return new ScriptResult(path, null, false, $"skipped: {reason}");
        }
        var started = Stopwatch.GetTimestamp();
        ScriptProcess process;
        try
        {
            process = ScriptProcess.Start(facts.Resolved!, environment);
        }
        catch (Exception e) when (e is ScriptStartException or IOException)
        {
            Write(scriptEvent, LogLevel.Error, $"{name}: {e.Message}", new LogField("SCRIPT", path));
            return new ScriptResult(path, null, false, e.Message);
        }

        Write(scriptEvent, LogLevel.Debug, $"{name}: started as pid {process.Pid}", new LogField("SCRIPT", path));
        // Every line a script prints carries SCRIPT= too, so `journalctl SCRIPT=...` shows what it said, not only how it ended.
        var observer = scriptEvent.Observer;
        var stdout = process.ReadOutput(standardError: false, line =>
        {
            Write(scriptEvent, LogLevel.Info, $"{name}: {line}", new LogField("SCRIPT", path));
            observer?.Output(path, false, line);
        });
        var stderr = process.ReadOutput(standardError: true, line =>
        {
            Write(scriptEvent, LogLevel.Warn, $"{name}: {line}", new LogField("SCRIPT", path));
            observer?.Output(path, true, line);
        });

        var timedOut = false;
        // An exit that waited for the script thread (blocked in a log write) while the timeout passed is no timeout.
        if (!await CompletesWithin(process.Exited, options.Timeout) && !process.HasExited)
        {
            timedOut = true;
            Write(scriptEvent, LogLevel.Error,
                $"{name}: timed out after {Seconds(options.Timeout)}, sending SIGTERM to its process group", new LogField("SCRIPT", path));
            process.SignalGroup(Libc.SIGTERM);
            if (!await CompletesWithin(process.Exited, options.KillGrace) && !process.HasExited)
            {
                Write(scriptEvent, LogLevel.Error,
                    $"{name}: still running {Seconds(options.KillGrace)} after SIGTERM, sending SIGKILL to its process group", new LogField("SCRIPT", path));
                process.SignalGroup(Libc.SIGKILL);
            }
        }
        var exit = await process.Exited;
        if (timedOut)
            // Whatever the script left in its group dies with it, whichever signal ended the leader.
            process.SignalGroup(Libc.SIGKILL);

        // Let the output catch up, but never wait on a background child that inherited the streams.
        var output = Task.WhenAll(stdout, stderr);
        if (await CompletesWithin(output, options.OutputDrain))
        {
            var dropped = stdout.Result + stderr.Result;
            if (dropped > 0)
                Write(scriptEvent, LogLevel.Warn, $"{name}: {dropped} more bytes of output were not logged");
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var fields = new[] { new LogField("SCRIPT", path), new LogField("EXIT_CODE", exit.Signal != 0 ? "killed" : "exited"),
            new LogField("EXIT_STATUS", (exit.Signal != 0 ? exit.Signal : exit.ExitCode).ToString(CultureInfo.InvariantCulture)) };
        if (exit.Succeeded)
            Write(scriptEvent, LogLevel.Info, $"{name} succeeded ({elapsed.TotalMilliseconds:0} ms)", fields);
        else
            Write(scriptEvent, LogLevel.Warn, $"{name} failed: {exit} ({elapsed.TotalMilliseconds:0} ms)", fields);
        return new ScriptResult(path, exit, timedOut, null);
    }

    /// <summary>Waits with a timer that is released as soon as the task completes (a Task.Delay would linger for its whole span).</summary>
    private static async Task<bool> CompletesWithin(Task task, TimeSpan span)
    {
        try
        {
            await task.WaitAsync(span);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static string Seconds(TimeSpan span) =>
        span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    /// <summary>Every line about a script carries the state directory (STATE= in the journal) besides the link.</summary>
    private void Write(ScriptEvent scriptEvent, LogLevel level, string message, params ReadOnlySpan<LogField> fields)
    {
        if (!log.IsEnabled(level))
            return;
        var all = new LogField[fields.Length + 1];
        all[0] = new LogField("STATE", scriptEvent.State);
        fields.CopyTo(all.AsSpan(1));
        log.Write(level, scriptEvent.Link, scriptEvent.IfIndex, message, all);
    }
}
