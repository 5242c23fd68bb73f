using System.Diagnostics;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Security;

/// <summary>
/// CVE-2022-29800's race, played by an unprivileged user: a hook links into a directory nobody controls, and
/// nobody swaps what the link leads to between a root-owned script and its own, while the directory runs again and again.
/// </summary>
public class ScriptSwapTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MemoryLog _log = new(Logging.LogLevel.Debug);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_link_retargeted_by_nobody_in_a_loop_never_runs_nobodys_script()
    {
        var record = _dir.Combine("record");
        File.WriteAllText(record, "");
        File.SetUnixFileMode(record, (UnixFileMode)0b110_110_110); // nobody's script must be able to say it ran
        var attacker = Directory.CreateDirectory(_dir.Combine("attacker")).FullName;
        File.WriteAllText(Path.Combine(attacker, "good"), $"#!/bin/sh\necho good >> {record}\n");
        File.SetUnixFileMode(Path.Combine(attacker, "good"), (UnixFileMode)0b111_101_101);
        Shell.Run("chown", "nobody:nogroup", attacker);
        Attacker.Run(null, "sh", "-c", $"printf '#!/bin/sh\\necho EVIL >> {record}\\n' > {attacker}/evil && chmod 755 {attacker}/evil && ln -s good {attacker}/current");

        _dir.Script("routable", "20-safe", $"#!/bin/sh\necho safe >> {record}\n");
        File.CreateSymbolicLink(_dir.Combine("routable.d", "10-hook"), Path.Combine(attacker, "current"));
        // A link into a tree only root can change still runs.
        Directory.CreateDirectory(_dir.Combine("lib"));
        File.WriteAllText(_dir.Combine("lib", "hook"), $"#!/bin/sh\necho lib >> {record}\n");
        File.SetUnixFileMode(_dir.Combine("lib", "hook"), (UnixFileMode)0b111_101_101);
        File.CreateSymbolicLink(_dir.Combine("routable.d", "30-lib"), _dir.Combine("lib", "hook"));

        var swap = new ProcessStartInfo(Attacker.AsNobody[0]);
        foreach (var arg in Attacker.AsNobody[1..])
            swap.ArgumentList.Add(arg);
        foreach (var arg in new[] { "sh", "-c", $"cd {attacker} && while :; do ln -sfn evil next && mv -T next current; ln -sfn good next && mv -T next current; done" })
            swap.ArgumentList.Add(arg);
        using var swapper = Process.Start(swap)!;
        try
        {
            var runner = new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = _dir.Path, SpillDirectory = _dir.Combine("spill") }, _log.Logger);
            for (var run = 0; run < 200; run++)
                await runner.RunAsync(new ScriptEvent("routable", "eth1", 3, [new("LINK", "eth1")]));
        }
        finally
        {
            swapper.Kill();
            await swapper.WaitForExitAsync();
        }

        var lines = File.ReadAllLines(record);
        Assert.DoesNotContain("EVIL", lines);
        Assert.DoesNotContain("good", lines);
        Assert.Equal(200, lines.Count(l => l == "safe"));
        Assert.Equal(200, lines.Count(l => l == "lib"));
        Assert.Contains(_log.Lines, l => l.Contains($"Skipping script {_dir.Combine("routable.d", "10-hook")}: directory {attacker} is owned by uid 65534"));
    }

    [Fact]
    public async Task A_directory_remembered_empty_and_swapped_by_nobody_under_a_parent_it_came_to_own_runs_nothing_of_nobodys()
    {
        // An empty routable.d is remembered by its stamp. Then the admin hands its parent to nobody by mistake, and
        // nobody swaps in first a directory of its own with its script, then root's other directory with root's
        // script: each swap is another inode, the stamp no longer holds, and the walk refuses the parent.
        var (record, conf) = RootsConfiguration();
        Directory.CreateDirectory(Path.Combine(conf, "routable.d"));

        var runner = new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = conf, SpillDirectory = _dir.Combine("spill") }, _log.Logger);
        // The directory was made a moment ago: the clock is moved past the margin, as if it were old.
        runner.EmptyDirectories.Now = () => DateTime.UtcNow + TimeSpan.FromMinutes(1);
        var routable = new ScriptEvent("routable", "eth1", 3, [new("LINK", "eth1")]);
        Assert.Empty(await runner.RunAsync(routable));
        Assert.Empty(await runner.RunAsync(routable));
        Assert.Equal(1, runner.EmptyDirectories.Hits);

        Shell.Run("chown", "nobody:nogroup", conf);
        Attacker.Run(null, "sh", "-c",
            $"cd {conf} && mv routable.d gone.d && mkdir routable.d && printf '#!/bin/sh\\necho EVIL >> {record}\\n' > routable.d/10-evil && chmod 755 routable.d/10-evil");
        Assert.Empty(await runner.RunAsync(routable));
        Attacker.Run(null, "sh", "-c", $"cd {conf} && mv routable.d evil.d && mv spare.d routable.d");
        Assert.Empty(await runner.RunAsync(routable));

        Assert.Equal("", File.ReadAllText(record));
        Assert.Equal(1, runner.EmptyDirectories.Hits);
        Assert.Contains(_log.Lines, l => l.Contains("Skipping directory") && l.Contains("65534"));
    }

    [Fact]
    public async Task A_state_known_to_hold_nothing_whose_directory_nobody_then_fills_runs_nothing_of_nobodys()
    {
        // routable.d is missing and the state known to hold nothing (inotify). The admin hands the root to nobody by
        // mistake; nobody makes routable.d with a script of its own, then swaps in root's spare.d. Each change forgets
        // what was known, the next run walks the path again, and the walk refuses the root nobody owns.
        var (record, conf) = RootsConfiguration();

        using var watch = ScriptDirectoryWatch.Open()!;
        var runner = new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = conf, SpillDirectory = _dir.Combine("spill") }, _log.Logger)
        {
            Watch = watch,
        };
        var routable = new ScriptEvent("routable", "eth1", 3, [new("LINK", "eth1")]);
        Assert.Empty(await runner.RunAsync(routable));
        Assert.True(runner.HoldsNothing("routable"));

        Shell.Run("chown", "nobody:nogroup", conf);
        Assert.False(runner.HoldsNothing("routable"), "the root's new owner is a change");
        Assert.Empty(await runner.RunAsync(routable));
        Attacker.Run(null, "sh", "-c",
            $"cd {conf} && mkdir routable.d && printf '#!/bin/sh\\necho EVIL >> {record}\\n' > routable.d/10-evil && chmod 755 routable.d/10-evil");
        Assert.False(runner.HoldsNothing("routable"));
        Assert.Empty(await runner.RunAsync(routable));
        Attacker.Run(null, "sh", "-c", $"cd {conf} && mv routable.d evil.d && mv spare.d routable.d");
        Assert.False(runner.HoldsNothing("routable"));
        Assert.Empty(await runner.RunAsync(routable));

        Assert.Equal("", File.ReadAllText(record));
        Assert.Contains(_log.Lines, l => l.Contains("Skipping directory") && l.Contains("65534"));
    }

    /// <summary>A record anyone may append to, and root's configuration directory with a spare.d holding root's script.</summary>
    private (string Record, string Conf) RootsConfiguration()
    {
        var record = _dir.Combine("record");
        File.WriteAllText(record, "");
        File.SetUnixFileMode(record, (UnixFileMode)0b110_110_110);
        var conf = Directory.CreateDirectory(_dir.Combine("conf")).FullName;
        File.SetUnixFileMode(conf, (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(Path.Combine(conf, "spare.d"));
        File.WriteAllText(Path.Combine(conf, "spare.d", "10-spare"), $"#!/bin/sh\necho spare >> {record}\n");
        File.SetUnixFileMode(Path.Combine(conf, "spare.d", "10-spare"), (UnixFileMode)0b111_101_101);
        return (record, conf);
    }
}
