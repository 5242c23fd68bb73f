using System.Diagnostics;

namespace NetworkBroker.IntegrationTests.Support;

public static class Shell
{
    /// <summary>Runs a command; a non-zero exit fails the test with its stderr.</summary>
    public static string Run(string file, params string[] args) => Run(null, file, args);

    /// <summary>Runs a command with extra environment variables.</summary>
    public static string Run(IReadOnlyDictionary<string, string>? environment, string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {stderr}");
        return stdout.Result;
    }
}
