using System.Diagnostics;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>
/// The real systemd as PID 1 of a throw-away machine (systemd-machine.sh): an overlay of this machine's
/// root in its own pid, mount, cgroup and network namespaces and cgroup subtree, so that a unit runs as
/// it would on a host (User=, capabilities, sandboxing, Type=notify, the journal) and nothing is left
/// behind. Commands run inside with nsenter.
/// </summary>
public sealed class SystemdMachine : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Process _unshare;

    public int Pid1 { get; }

    /// <param name="files">Copied to the machine's /tmp before <paramref name="prepare"/> (a sh script) runs in it.</param>
    public SystemdMachine(string prepare, IEnumerable<string> files)
    {
        var machine = _dir.Combine("machine");
        Directory.CreateDirectory(Path.Combine(machine, "files"));
        foreach (var file in files)
            File.Copy(file, Path.Combine(machine, "files", Path.GetFileName(file)));
        var script = _dir.Write("prepare.sh", prepare);
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Support", "systemd-machine.sh"), machine, $"nbtest-{Environment.ProcessId}-{Guid.NewGuid():N}"[..24], script })
            info.ArgumentList.Add(arg);
        _unshare = Process.Start(info)!;
        _unshare.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (Log) Log.Add(e.Data); };
        _unshare.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (Log) Log.Add(e.Data); };
        _unshare.BeginOutputReadLine();
        _unshare.BeginErrorReadLine();
        CgroupList = Path.Combine(machine, "cgroups");
        try
        {
            Pid1 = WaitForPid1();
            WaitFor(() => Run("systemctl", "is-system-running").Trim() is "running" or "degraded", "systemd to finish starting up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// A machine with the package as `make deb` built it in its /tmp: <paramref name="prepare"/> installs it from
    /// /tmp/@DEB@. The machine copies its files, so the package in out/ is never touched.
    /// </summary>
    public static SystemdMachine WithPackage(string prepare, params string[] moreFiles) =>
        new(prepare.Replace("@DEB@", Path.GetFileName(Packaging.DebianPackage.Path)), [Packaging.DebianPackage.Path, .. moreFiles]);

    public List<string> Log { get; } = [];

    private string CgroupList { get; }

    /// <summary>Runs a command in the machine (all its namespaces and its root); a failure throws with its stderr.</summary>
    public string Run(params string[] command) =>
        Shell.Run("nsenter", ["--all", "--root", "--wd", "-t", Pid1.ToString(), .. command]);

    /// <summary>Runs a sh script in the machine.</summary>
    public string Sh(string script) => Run("/bin/sh", "-c", script);

    public string Property(string unit, string property) => Run("systemctl", "show", "-p", property, "--value", unit).Trim();

    /// <summary>A unit's journal in the machine, messages only.</summary>
    public string Journal(string unit) => Run("journalctl", "-u", unit, "-o", "cat", "--no-pager");

    public void WaitFor(Func<bool> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (condition())
                    return;
            }
            catch (InvalidOperationException)
            {
                // A command that fails while the machine settles: try again.
            }
            Thread.Sleep(100);
        }
        throw new TimeoutException($"waited {seconds} s for {what}; machine log:\n{string.Join('\n', Log)}");
    }

    /// <summary>unshare --fork's child is the machine's PID 1 (systemd once the script has exec'd it).</summary>
    private int WaitForPid1()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !_unshare.HasExited)
        {
            try
            {
                // bash execs unshare, which forks the machine's PID 1.
                var children = File.ReadAllText($"/proc/{_unshare.Id}/task/{_unshare.Id}/children").Trim();
                if (children.Length > 0 && File.ReadAllText($"/proc/{_unshare.Id}/comm").Trim() == "unshare")
                {
                    var pid = int.Parse(children.Split(' ')[0]);
                    if (File.ReadAllText($"/proc/{pid}/comm").Trim() == "systemd")
                        return pid;
                }
            }
            catch (IOException)
            {
            }
            Thread.Sleep(50);
        }
        throw new InvalidOperationException($"systemd did not start; machine log:\n{string.Join('\n', Log)}");
    }

    public void Dispose()
    {
        // unshare --kill-child: the machine's PID 1, and with it every process in it, dies with unshare.
        if (!_unshare.HasExited)
            _unshare.Kill();
        _unshare.WaitForExit(30_000);
        _unshare.Dispose();
        if (File.Exists(CgroupList))
        {
            // Deepest first; a cgroup goes once its last process has been reaped.
            foreach (var cgroup in File.ReadAllLines(CgroupList).Reverse())
                RemoveTree(cgroup);
        }
        _dir.Dispose();
    }

    private static void RemoveTree(string cgroup)
    {
        if (!Directory.Exists(cgroup))
            return;
        var directories = Directory.GetDirectories(cgroup, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).Append(cgroup);
        foreach (var directory in directories)
        {
            for (var attempt = 0; attempt < 100 && Directory.Exists(directory); attempt++)
            {
                try
                {
                    Directory.Delete(directory);
                }
                catch (IOException)
                {
                    Thread.Sleep(50);
                }
            }
        }
    }
}
