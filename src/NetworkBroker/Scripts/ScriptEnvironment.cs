using System.Text;

namespace NetworkBroker.Scripts;

/// <summary>
/// A script's environment: clean (PATH, LANG and the event's variables, never the daemon's own
/// environment, which may hold NOTIFY_SOCKET, credentials or a debugger's settings), with names only from
/// <see cref="ScriptVariables"/>, and always exec-able: a value too long for one environment string is
/// written to a private file instead.
/// </summary>
public sealed class ScriptEnvironment : IDisposable
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>MAX_ARG_STRLEN: the kernel refuses (E2BIG) any one "NAME=value\0" longer than 32 pages.</summary>
    public const int MaxStringBytes = 32 * 4096;

    private readonly List<string> _spilled = [];

    private ScriptEnvironment(List<string> entries) => Entries = entries;

    /// <summary>"NAME=value" strings, in the order given, each name once (the last value wins).</summary>
    public IReadOnlyList<string> Entries { get; }

    /// <summary>Files written for over-long values; deleted on <see cref="Dispose"/>, after the scripts ran.</summary>
    public IReadOnlyList<string> SpilledFiles => _spilled;

    /// <param name="spill">Called with (name, bytes, file) for each value passed as NAME_FILE instead.</param>
    /// <param name="refused">Called with each name that is not a documented variable (<see cref="ScriptVariables"/>); it is not passed.</param>
    public static ScriptEnvironment Build(IEnumerable<KeyValuePair<string, string>> variables, string spillDirectory,
        Action<string, int, string>? spill = null, Action<string>? refused = null)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = DefaultPath,
            ["LANG"] = System.Environment.GetEnvironmentVariable("LANG") is { Length: > 0 } lang ? lang : "C.UTF-8",
        };
        var order = new List<string> { "PATH", "LANG" };
        foreach (var (name, value) in variables)
        {
            if (!ScriptVariables.IsEventVariable(name))
            {
                refused?.Invoke(name);
                continue;
            }
            if (!values.ContainsKey(name))
                order.Add(name);
            // D-Bus strings cannot hold NUL, but lease files and the command line can: a NUL would cut the value short.
            values[name] = value.Contains('\0') ? value.Replace("\0", "", StringComparison.Ordinal) : value;
        }

        var environment = new ScriptEnvironment([]);
        var entries = (List<string>)environment.Entries;
        try
        {
            foreach (var name in order)
            {
                var value = values[name];
                if (Encoding.UTF8.GetByteCount(name) + 1 + Encoding.UTF8.GetByteCount(value) + 1 <= MaxStringBytes)
                {
                    entries.Add($"{name}={value}");
                    continue;
                }
                var file = environment.Spill(spillDirectory, name, value);
                spill?.Invoke(name, Encoding.UTF8.GetByteCount(value), file);
                entries.Add($"{name}_FILE={file}");
            }
        }
        catch
        {
            environment.Dispose();
            throw;
        }
        return environment;
    }

    private string Spill(string directory, string name, string value)
    {
        Core.LoopGuard.Blocking("write of a large variable's file", name);
        Directory.CreateDirectory(directory);
        for (var attempt = 0; ; attempt++)
        {
            var path = Path.Combine(directory, $"{name.ToLowerInvariant()}-{Environment.ProcessId}-{Random.Shared.Next():x8}");
            try
            {
                // 0600 and O_EXCL: readable by the scripts (same user), by nobody else, and never someone else's file.
                using var file = new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
                _spilled.Add(path);
                file.Write(Encoding.UTF8.GetBytes(value));
                return path;
            }
            catch (IOException) when (attempt < 5 && File.Exists(path))
            {
            }
        }
    }

    /// <summary>Where over-long values go: systemd's RuntimeDirectory=, else /run/network-broker, else the temp directory.</summary>
    public static string DefaultSpillDirectory()
    {
        var run = Control.RuntimeDirectory.Path;
        return Directory.Exists(run) ? run : Path.GetTempPath();
    }

    public void Dispose()
    {
        foreach (var file in _spilled)
        {
            try
            {
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        _spilled.Clear();
    }
}
