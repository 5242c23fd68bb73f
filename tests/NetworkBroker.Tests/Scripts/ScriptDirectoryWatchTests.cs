using System.Diagnostics;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Scripts;

/// <summary>The watch on the kernel's inotify and mount table, on real directories: every change is seen at the next question, without waiting.</summary>
public class ScriptDirectoryWatchTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ScriptDirectoryWatch _watch = ScriptDirectoryWatch.Open() ?? throw new InvalidOperationException("no inotify");
    private readonly MemoryLog _log = new();

    public void Dispose()
    {
        _watch.Dispose();
        _dir.Dispose();
    }

    private string Root => _dir.Path;
    private string StateDirectory(string state = "routable") => _dir.Combine(state + ".d");

    /// <summary>As the runner learns: the root and the state's directory watched, then looked at.</summary>
    private bool Learn(string state = "routable", Action? meanwhile = null)
    {
        var generation = _watch.Begin();
        Assert.NotNull(_watch.Watch(Root));
        var found = _watch.Watch(StateDirectory(state));
        Assert.NotNull(found);
        meanwhile?.Invoke();
        return _watch.Learn(state, generation);
    }

    [Fact]
    public void A_missing_directory_is_known_until_it_is_made()
    {
        Assert.Equal(WatchedPath.Missing, _watch.Watch(StateDirectory()));
        Assert.True(Learn());
        Assert.True(_watch.HoldsNothing("routable"));
        Assert.False(_watch.HoldsNothing("carrier"));

        Directory.CreateDirectory(StateDirectory());

        Assert.False(_watch.HoldsNothing("routable"));
    }

    [Fact]
    public void An_empty_directory_is_known_until_an_entry_appears_in_it()
    {
        Directory.CreateDirectory(StateDirectory());
        Assert.Equal(WatchedPath.Directory, _watch.Watch(StateDirectory()));
        Assert.True(Learn());
        Assert.True(_watch.HoldsNothing("routable"));

        _dir.Script("routable", "50-new", "#!/bin/sh\n");

        Assert.False(_watch.HoldsNothing("routable"));
    }

    [Theory]
    [InlineData("chmod")]
    [InlineData("rename in")]
    [InlineData("link")]
    [InlineData("replace the directory")]
    [InlineData("replace the root")]
    [InlineData("missing: made as a link")]
    public void Every_change_that_could_bring_a_script_is_seen_at_once(string change)
    {
        var missing = change.StartsWith("missing", StringComparison.Ordinal);
        if (!missing)
            Directory.CreateDirectory(StateDirectory());
        Assert.True(Learn());
        Assert.True(_watch.HoldsNothing("routable"));
        var elsewhere = _dir.Combine("elsewhere");
        Directory.CreateDirectory(elsewhere);
        File.WriteAllText(Path.Combine(elsewhere, "script"), "#!/bin/sh\n");

        switch (change)
        {
            case "chmod":
                File.SetUnixFileMode(StateDirectory(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherWrite);
                break;
            case "rename in":
                File.Move(Path.Combine(elsewhere, "script"), Path.Combine(StateDirectory(), "50-moved"));
                break;
            case "link":
                File.CreateSymbolicLink(Path.Combine(StateDirectory(), "50-link"), Path.Combine(elsewhere, "script"));
                break;
            case "replace the directory":
                Directory.Move(StateDirectory(), _dir.Combine("old.d"));
                Directory.Move(elsewhere, StateDirectory());
                break;
            case "replace the root":
                // The root's own rename says its state directories are others (its parent is watched for its own only).
                var parent = Path.GetDirectoryName(Root)!;
                var moved = Path.Combine(parent, Path.GetFileName(Root) + "-moved");
                Directory.Move(Root, moved);
                try
                {
                    Directory.CreateDirectory(Root);
                    Assert.False(_watch.HoldsNothing("routable"));
                }
                finally
                {
                    if (Directory.Exists(Root))
                        Directory.Delete(Root, recursive: true);
                    Directory.Move(moved, Root);
                }
                return;
            case "missing: made as a link":
                File.CreateSymbolicLink(StateDirectory(), elsewhere);
                break;
        }

        Assert.False(_watch.HoldsNothing("routable"));
    }

    [Fact]
    public void A_directory_above_the_root_renamed_aside_and_made_anew_is_seen_at_once()
    {
        // An atomic deploy of a tree: /srv/hooks renamed to hooks.old, the new tree made at /srv/hooks.
        var above = _dir.Combine("hooks");
        var root = Path.Combine(above, "network-broker");
        Directory.CreateDirectory(Path.Combine(root, "routable.d"));
        var generation = _watch.Begin();
        Assert.Equal(WatchedPath.Directory, _watch.Watch(root));
        Assert.Equal(WatchedPath.Directory, _watch.Watch(Path.Combine(root, "routable.d")));
        Assert.True(_watch.Learn("routable", generation));
        Assert.True(_watch.HoldsNothing("routable"));

        Directory.Move(above, _dir.Combine("hooks.old"));
        Directory.CreateDirectory(Path.Combine(root, "routable.d"));
        File.WriteAllText(Path.Combine(root, "routable.d", "50-new"), "#!/bin/sh\n");

        Assert.False(_watch.HoldsNothing("routable"));
    }

    [Fact]
    public void A_change_between_the_look_ups_and_the_learning_keeps_the_state_unknown()
    {
        Directory.CreateDirectory(StateDirectory());
        Assert.False(Learn(meanwhile: () => _dir.Script("routable", "50-raced", "#!/bin/sh\n")));
        Assert.False(_watch.HoldsNothing("routable"));
    }

    [Fact]
    public void A_change_elsewhere_forgets_every_state_known_and_each_is_learned_again()
    {
        Directory.CreateDirectory(StateDirectory("carrier"));
        Assert.True(Learn("carrier"));
        Assert.True(Learn("routable"));

        _dir.Script("carrier", "50-new", "#!/bin/sh\n");

        Assert.False(_watch.HoldsNothing("routable"));
        Assert.False(_watch.HoldsNothing("carrier"));
        Assert.True(Learn("routable"));
        Assert.True(_watch.HoldsNothing("routable"));
    }

    [Fact]
    public void Directories_renamed_away_leave_no_watch_behind()
    {
        // A state directory made anew again and again, each one learned, then renamed aside and kept: the watches of
        // the old ones go at the change that forgets them, so they stay as many as what is known now needs.
        for (var i = 0; i < 20; i++)
        {
            Directory.CreateDirectory(StateDirectory());
            Assert.True(Learn());
            Directory.Move(StateDirectory(), _dir.Combine($"aside-{i}"));
            Assert.False(_watch.HoldsNothing("routable"));
        }
        Assert.True(Learn());

        Assert.InRange(_watch.Watches, 1, 2);
    }

    [Fact]
    public void A_symbolic_link_on_the_way_is_never_watched()
    {
        var real = _dir.Combine("real");
        Directory.CreateDirectory(Path.Combine(real, "routable.d"));
        var link = _dir.Combine("link");
        File.CreateSymbolicLink(link, real);

        Assert.Null(_watch.Watch(link));
        Assert.Null(_watch.Watch(Path.Combine(link, "routable.d")));
        Assert.Null(_watch.Watch(Path.Combine(link, "missing.d")));
    }

    [Fact]
    public void A_file_where_the_directory_should_be_is_never_watched()
    {
        File.WriteAllText(StateDirectory(), "not a directory");
        Assert.Null(_watch.Watch(StateDirectory()));
    }

    [Fact]
    public void A_state_is_known_for_the_maximum_age_at_most()
    {
        using var watch = ScriptDirectoryWatch.Open(maxAge: TimeSpan.FromMilliseconds(1))!;
        var generation = watch.Begin();
        Assert.NotNull(watch.Watch(StateDirectory()));
        Assert.True(watch.Learn("routable", generation));
        Thread.Sleep(5);

        Assert.False(watch.HoldsNothing("routable"));
    }

    [Fact]
    public void A_mount_over_a_watched_directory_is_seen_at_once()
    {
        Directory.CreateDirectory(StateDirectory());
        Assert.True(Learn());
        Assert.True(_watch.HoldsNothing("routable"));

        Run("mount", "-t", "tmpfs", "nb-test", StateDirectory());
        try
        {
            Assert.False(_watch.HoldsNothing("routable"));
        }
        finally
        {
            Run("umount", StateDirectory());
        }
    }

    [Fact]
    public async Task A_runner_with_a_watch_runs_a_script_made_after_its_directory_was_known_empty()
    {
        Directory.CreateDirectory(StateDirectory());
        var runner = new ScriptRunner(new ScriptRunnerOptions
        {
            ScriptRoot = Root,
            MoreScriptRoots = [_dir.Combine("package")],
            SpillDirectory = _dir.Combine("spill"),
        }, _log.Logger) { Watch = _watch };
        ScriptEvent Event() => new("routable", "eth1", 3, [new("LINK", "eth1")]);

        Assert.Empty(await runner.RunAsync(Event()));
        Assert.True(runner.HoldsNothing("routable"), "learned from the first run");
        Assert.Empty(await runner.RunAsync(Event()));
        var hits = _watch.Hits;
        Assert.True(hits >= 2);

        var record = _dir.Combine("ran");
        _dir.Script("routable", "50-new", $"#!/bin/sh\ntouch {record}\n");
        var result = Assert.Single(await runner.RunAsync(Event()));

        Assert.True(result.Succeeded);
        Assert.True(File.Exists(record));
        Assert.False(runner.HoldsNothing("routable"));
    }

    [Fact]
    public async Task A_runner_learns_nothing_of_a_directory_whose_entries_are_all_skipped()
    {
        _dir.Script("routable", "50-not-executable", "#!/bin/sh\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var runner = new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = Root, SpillDirectory = _dir.Combine("spill") }, _log.Logger)
        {
            Watch = _watch,
        };

        Assert.Empty(await runner.RunAsync(new ScriptEvent("routable", "eth1", 3, [new("LINK", "eth1")])));

        Assert.False(runner.HoldsNothing("routable"));
    }

    private static void Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{command}: {error}");
    }
}
