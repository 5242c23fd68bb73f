using System.Diagnostics;
using System.Text;

namespace NetworkBroker.Tests.Support;

/// <summary>
/// The network-broker program as users run it: the NativeAOT binary named by NETWORK_BROKER_BIN
/// (`make test` sets it to bin/network-broker), else the build output run with `dotnet exec`.
/// </summary>
public sealed class BrokerBinary : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly string? _ownRuntimeDirectory;

    private BrokerBinary(Process process, string runtimeDirectory, string? ownRuntimeDirectory)
    {
        _process = process;
        RuntimeDirectory = runtimeDirectory;
        _ownRuntimeDirectory = ownRuntimeDirectory;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    /// <summary>The RUNTIME_DIRECTORY the program was given (its control socket is "control" in it).</summary>
    public string RuntimeDirectory { get; }

    /// <summary>The environment for a client (status, monitor) of this daemon's control socket.</summary>
    public Dictionary<string, string> ClientEnvironment(IDictionary<string, string>? more = null)
    {
        var environment = new Dictionary<string, string>(more ?? new Dictionary<string, string>()) { ["RUNTIME_DIRECTORY"] = RuntimeDirectory };
        return environment;
    }

    public string StandardOutput { get { lock (_stdout) return _stdout.ToString(); } }

    public string StandardError { get { lock (_stderr) return _stderr.ToString(); } }

    /// <param name="prefix">A command to run the program under (e.g. ip netns exec NAME), its arguments included.</param>
    /// <param name="prepareRuntime">Called with the runtime directory before the program starts (to put a file there).</param>
    public static BrokerBinary Start(IEnumerable<string> args, IDictionary<string, string>? environment = null, IReadOnlyList<string>? prefix = null,
        Action<string>? prepareRuntime = null)
    {
        var native = Environment.GetEnvironmentVariable("NETWORK_BROKER_BIN");
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var program = string.IsNullOrEmpty(native)
            ? new List<string> { "dotnet", "exec", Path.Combine(AppContext.BaseDirectory, "network-broker.dll") }
            : [native];
        var command = (prefix ?? []).Concat(program).ToList();
        info.FileName = command[0];
        foreach (var part in command.Skip(1))
            info.ArgumentList.Add(part);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment.Remove("NETWORK_EVENT_LOG_LEVEL");
        info.Environment.Remove("NETWORK_EVENT_LOG_FORMAT");
        info.Environment.Remove("JOURNAL_STREAM");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        // Each daemon its own control socket: tests run side by side, and /run/network-broker is the host's.
        string? runtime = null;
        if (!info.Environment.ContainsKey("RUNTIME_DIRECTORY"))
        {
            runtime = Directory.CreateTempSubdirectory("nb-run-").FullName;
            File.SetUnixFileMode(runtime, (UnixFileMode)0b111_101_101);
            info.Environment["RUNTIME_DIRECTORY"] = runtime;
        }
        prepareRuntime?.Invoke(info.Environment["RUNTIME_DIRECTORY"]!);
        return new BrokerBinary(Process.Start(info)!, info.Environment["RUNTIME_DIRECTORY"]!, runtime);
    }

    /// <summary>Runs to completion and returns the exit code.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>As an unprivileged user (nobody): what does not depend on the daemon's user being there.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsNobodyAsync(params string[] args) =>
        RunAsync(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"], args);

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IReadOnlyList<string>? prefix, string[] args)
    {
        using var broker = Start(args, prefix: prefix);
        var code = await broker.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, broker.StandardOutput, broker.StandardError);
    }

    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    public void Signal(int signal) => Mono.Kill(_process.Id, signal);

    /// <summary>kill(2) of any process (one the test started through a shell, say).</summary>
    public static void Kill(int pid, int signal) => Mono.Kill(pid, signal);

    /// <summary>Peak RSS in kB (VmHWM), sampled until the process exits; the last sample is the run's peak.</summary>
    public async Task<long> PeakRssUntilExitAsync(TimeSpan within)
    {
        long peak = 0;
        var deadline = DateTime.UtcNow + within;
        while (!_process.HasExited && DateTime.UtcNow < deadline)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        peak = Math.Max(peak, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));
            }
            catch (IOException)
            {
            }
            await Task.Delay(10);
        }
        await WaitForExitAsync(TimeSpan.FromSeconds(10));
        return peak;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
        if (_ownRuntimeDirectory is not null)
        {
            try
            {
                Directory.Delete(_ownRuntimeDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static class Mono
    {
        [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "kill")]
        private static extern int SysKill(int pid, int signal);

        public static void Kill(int pid, int signal) => SysKill(pid, signal);
    }
}
