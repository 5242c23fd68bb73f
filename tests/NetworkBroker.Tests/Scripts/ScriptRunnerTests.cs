using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Scripts;

public class ScriptRunnerTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MemoryLog _log = new();

    public void Dispose() => _dir.Dispose();

    private ScriptRunner Runner(TimeSpan? timeout = null, TimeSpan? grace = null) => new(new ScriptRunnerOptions
    {
        ScriptRoot = _dir.Path,
        Timeout = timeout ?? TimeSpan.FromSeconds(10),
        KillGrace = grace ?? TimeSpan.FromSeconds(1),
        // The output's end may follow the exit by more than the 200 ms a daemon waits when the test run is busy.
        OutputDrain = TimeSpan.FromSeconds(30),
        SpillDirectory = _dir.Combine("spill"),
    }, _log.Logger);

    private static ScriptEvent Event(string state, string link, params (string, string)[] variables) =>
        new(state, link, 3, [new("LINK", link), new("LINKINDEX", "3"), .. variables.Select(v => new KeyValuePair<string, string>(v.Item1, v.Item2))]);

    [Fact]
    public async Task Scripts_run_in_lexical_order_each_after_the_previous_ended()
    {
        var record = _dir.Combine("order");
        foreach (var name in new[] { "20-b", "10-a", "9-z", "30-c" })
            _dir.Script("routable", name, $"#!/bin/sh\nsleep 0.05\necho {name} >> {record}\n");

        var results = await Runner().RunAsync(Event("routable", "eth1"));

        Assert.Equal(["10-a", "20-b", "30-c", "9-z"], File.ReadAllLines(record));
        Assert.All(results, r => Assert.True(r.Succeeded));
    }

    [Fact]
    public async Task A_routes_event_formats_its_route_variables_only_when_routes_d_has_something_to_run()
    {
        IReadOnlyList<(string, NetworkBroker.Netlink.Messages.RouteMessage)> changes =
            [("add", new() { Family = 2, Destination = System.Net.IPAddress.Parse("198.51.100.0"), DestinationLength = 24, Table = 254, Protocol = 4 })];
        var (own, deferred) = EventEnvironment.RoutesChangedLater("eth1", 3, changes);
        Assert.Equal(["LINK", "LINKINDEX", "STATE"], own.Select(v => v.Key));
        var runner = Runner();

        Directory.CreateDirectory(_dir.Combine("routes.d"));
        Assert.Empty(await runner.RunAsync(new ScriptEvent("routes", "eth1", 3, own) { Deferred = deferred }));
        Assert.False(deferred.IsValueCreated, "formatted for a directory with nothing to run");

        var record = _dir.Combine("routes-env");
        _dir.Script("routes", "30-record", $"#!/bin/sh\necho \"$STATE $ROUTE_EVENT $ROUTE_DST $ROUTES\" > {record}\n");
        var result = Assert.Single(await runner.RunAsync(new ScriptEvent("routes", "eth1", 3, own) { Deferred = deferred }));
        Assert.True(result.Succeeded);
        Assert.Equal("routes add 198.51.100.0/24 add 198.51.100.0/24 table 254 proto static", File.ReadAllText(record).Trim());
    }

    [Fact]
    public async Task A_script_gets_a_clean_environment_with_the_events_variables()
    {
        var record = _dir.Combine("env");
        _dir.Script("routable", "10-env", $"#!/bin/sh\nenv > {record}\npwd >> {record}\n");
        Environment.SetEnvironmentVariable("NB_TEST_SECRET", "leak");

        await Runner().RunAsync(Event("routable", "eth1", ("OperationalState", "routable"), ("STATE", "routable")));

        var lines = File.ReadAllLines(record);
        var variables = lines.Where(l => l.Contains('=')).Select(l => l[..l.IndexOf('=')]).Order(StringComparer.Ordinal).ToList();
        // PWD is the shell's own.
        Assert.Equal(["LANG", "LINK", "LINKINDEX", "OperationalState", "PATH", "PWD", "STATE"], variables);
        Assert.Contains("LINK=eth1", lines);
        Assert.Contains("OperationalState=routable", lines);
        Assert.Contains($"PATH={ScriptEnvironment.DefaultPath}", lines);
        Assert.Equal("/", lines[^1]);
    }

    [Fact]
    public async Task Output_is_logged_with_the_link_and_script_and_the_exit_status_is_reported()
    {
        _dir.Script("degraded", "10-talk", "#!/bin/sh\necho hello\necho oops >&2\nexit 3\n");

        var result = Assert.Single(await Runner().RunAsync(Event("degraded", "eth7")));

        Assert.Equal(new ScriptExit(3, 0), result.Exit);
        Assert.False(result.Succeeded);
        Assert.Contains(_log.Lines, l => l.EndsWith("info eth7: degraded.d/10-talk: hello"));
        Assert.Contains(_log.Lines, l => l.EndsWith("warn eth7: degraded.d/10-talk: oops"));
        Assert.Contains(_log.Lines, l => l.Contains("warn eth7: degraded.d/10-talk failed: exit status 3"));
    }

    [Fact]
    public async Task An_unsafe_script_is_never_executed_and_the_reason_is_logged()
    {
        var marker = _dir.Combine("ran");
        var body = $"#!/bin/sh\ntouch {marker}\n";
        _dir.Script("routable", "10-group-writable", body, (UnixFileMode)0b111_111_101);
        _dir.Script("routable", "20-world-writable", body, (UnixFileMode)0b111_101_111);
        _dir.Script("routable", "30-not-executable", body, (UnixFileMode)0b110_100_100);
        _dir.Script("routable", "40-backup~", body);
        _dir.Script("routable", ".50-hidden", body);
        _dir.Script("routable", "60-conf.dpkg-old", body);
        Directory.CreateDirectory(_dir.Combine("routable.d", "70-directory"));
        File.CreateSymbolicLink(_dir.Combine("routable.d", "80-dangling"), _dir.Combine("nowhere"));

        var results = await Runner().RunAsync(Event("routable", "eth1"));

        Assert.Empty(results);
        Assert.False(File.Exists(marker));
        var warnings = _log.Lines.Where(l => l.Contains("warn eth1: Skipping script")).ToList();
        Assert.Equal(8, warnings.Count);
        Assert.Contains(warnings, w => w.EndsWith("10-group-writable: writable by group or others"));
        Assert.Contains(warnings, w => w.EndsWith("30-not-executable: not executable"));
        Assert.Contains(warnings, w => w.EndsWith("80-dangling: vanished or is a dangling symbolic link"));
    }

    [Fact]
    public async Task A_skipped_script_is_warned_about_once_not_on_every_event()
    {
        _dir.Script("routable", "10-bad", "#!/bin/sh\n", (UnixFileMode)0b111_111_111);
        var runner = Runner();
        for (var i = 0; i < 5; i++)
            await runner.RunAsync(Event("routable", "eth1"));
        Assert.Single(_log.Lines, l => l.Contains("warn eth1: Skipping script"));
    }

    [Fact]
    public async Task A_directory_writable_by_others_runs_nothing()
    {
        var marker = _dir.Combine("ran");
        _dir.Script("routable", "10-ok", $"#!/bin/sh\ntouch {marker}\n");
        File.SetUnixFileMode(_dir.Combine("routable.d"), (UnixFileMode)0b111_111_111);

        Assert.Empty(await Runner().RunAsync(Event("routable", "eth1")));
        Assert.False(File.Exists(marker));
        Assert.Contains(_log.Lines, l => l.Contains("Skipping directory") && l.EndsWith("writable by group or others"));
    }

    [Fact]
    public async Task A_script_after_another_is_checked_against_its_whole_path_again_not_the_walk_before_the_first()
    {
        // The first script makes the directory writable by others (as a directory replaced meanwhile would be): the
        // second, checked before it starts, must not run, though the directory was trusted when the run began.
        var marker = _dir.Combine("second-ran");
        var directory = _dir.Combine("routable.d");
        _dir.Script("routable", "10-first", $"#!/bin/sh\nchmod 0777 {directory}\n");
        _dir.Script("routable", "20-second", $"#!/bin/sh\ntouch {marker}\n");

        var results = await Runner().RunAsync(Event("routable", "eth1"));

        Assert.True(results[0].Succeeded);
        Assert.False(File.Exists(marker));
        Assert.Equal($"skipped: directory {directory} is writable by group or others", results[1].Error);
    }

    [Fact]
    public async Task A_missing_directory_is_not_an_error()
    {
        Assert.Empty(await Runner().RunAsync(Event("dormant", "eth1")));
        Assert.DoesNotContain(_log.Lines, l => l.Contains(" warn ") || l.Contains(" error "));
    }

    [Fact]
    public async Task A_hung_script_is_killed_at_its_timeout_with_the_child_it_spawned()
    {
        var childPidFile = _dir.Combine("child");
        _dir.Script("routable", "10-hang", $"#!/bin/sh\nsleep 1000 &\necho $! > {childPidFile}\nsleep 1000\n");
        _dir.Script("routable", "20-next", "#!/bin/sh\nexit 0\n");

        var results = await Runner(timeout: TimeSpan.FromSeconds(1)).RunAsync(Event("routable", "eth1"));

        Assert.True(results[0].TimedOut);
        Assert.Equal(new ScriptExit(-1, 15), results[0].Exit);
        Assert.True(results[1].Succeeded, "the next script still runs");
        var child = int.Parse(File.ReadAllText(childPidFile).Trim());
        Assert.True(await Processes.EventuallyDead(child, TimeSpan.FromSeconds(5)), $"child {child} survived");
        Assert.Contains(_log.Lines, l => l.Contains("error eth1: routable.d/10-hang: timed out after 1 s, sending SIGTERM to its process group"));
    }

    [Fact]
    public async Task A_script_that_ignores_SIGTERM_gets_SIGKILL_after_the_grace_period()
    {
        var pidFile = _dir.Combine("pid");
        _dir.Script("routable", "10-stubborn", $"#!/bin/bash\ntrap '' TERM\necho $$ > {pidFile}\nwhile :; do sleep 0.1; done\n");

        var result = Assert.Single(await Runner(timeout: TimeSpan.FromSeconds(1), grace: TimeSpan.FromMilliseconds(500))
            .RunAsync(Event("routable", "eth1")));

        Assert.True(result.TimedOut);
        Assert.Equal(9, result.Exit!.Value.Signal);
        Assert.Contains(_log.Lines, l => l.Contains("still running 0.5 s after SIGTERM, sending SIGKILL"));
    }

    [Fact]
    public async Task A_300_KB_JSON_reaches_the_script_through_JSON_FILE_and_the_file_is_removed_afterwards()
    {
        var json = "{\"Name\":\"eth1\",\"Pad\":\"" + new string('x', 300 * 1024) + "\"}";
        var copy = _dir.Combine("copy");
        var seen = _dir.Combine("seen");
        _dir.Script("routable", "10-json", $"#!/bin/sh\ncat \"$JSON_FILE\" > {copy}\necho \"$JSON_FILE|${{JSON+set}}|$(stat -c %a \"$JSON_FILE\")\" > {seen}\n");

        var result = Assert.Single(await Runner().RunAsync(Event("routable", "eth1", ("JSON", json))));

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(json, File.ReadAllText(copy));
        var parts = File.ReadAllText(seen).Trim().Split('|');
        Assert.Equal("", parts[1]);  // JSON itself is not set
        Assert.Equal("600", parts[2]);
        Assert.False(File.Exists(parts[0]), "the spilled file is removed after the run");
        Assert.Contains(_log.Lines, l => l.Contains($"JSON is {json.Length} bytes") && l.Contains("passed as JSON_FILE="));
    }

    [Fact]
    public async Task A_value_just_under_the_kernels_limit_is_passed_inline()
    {
        var value = new string('y', ScriptEnvironment.MaxStringBytes - "JSON=".Length - 1);
        var seen = _dir.Combine("seen");
        _dir.Script("routable", "10-json", $"#!/bin/sh\nprintf %s \"$JSON\" | wc -c > {seen}\n");

        Assert.True(Assert.Single(await Runner().RunAsync(Event("routable", "eth1", ("JSON", value)))).Succeeded);
        Assert.Equal(value.Length.ToString(), File.ReadAllText(seen).Trim());
    }

    [Fact]
    public async Task A_script_that_cannot_be_executed_is_reported_and_the_next_runs()
    {
        var marker = _dir.Combine("ran");
        _dir.Script("routable", "10-no-interpreter", "#!/nonexistent/interpreter\n");
        _dir.Script("routable", "20-ok", $"#!/bin/sh\ntouch {marker}\n");

        var results = await Runner().RunAsync(Event("routable", "eth1"));

        Assert.True(results[0].Error?.Contains("ENOENT") == true, results[0].Error);
        Assert.True(results[1].Succeeded);
        Assert.True(File.Exists(marker));
    }

    [Fact]
    public async Task A_script_piping_into_head_is_not_stuck_on_an_ignored_SIGPIPE()
    {
        _dir.Script("routable", "10-pipe", "#!/bin/bash\nyes | head -c 10 > /dev/null\nexit ${PIPESTATUS[0]}\n");
        var result = Assert.Single(await Runner(timeout: TimeSpan.FromSeconds(5)).RunAsync(Event("routable", "eth1")));
        // yes dies of SIGPIPE (128 + 13) as it would in a shell, instead of looping on EPIPE until the timeout.
        Assert.Equal(141, result.Exit!.Value.ExitCode);
        Assert.False(result.TimedOut);
    }

    [Fact]
    public async Task Cancellation_stops_before_the_next_script_but_lets_the_running_one_finish()
    {
        // Cancelled while the first script runs, by the test itself: a timed cancellation fires on a pool thread,
        // which a busy test run can hold back until after the first script ended.
        var record = _dir.Combine("order");
        var started = _dir.Combine("started");
        var release = _dir.Combine("release");
        _dir.Script("routable", "10-slow", $"#!/bin/sh\ntouch {started}\nwhile [ ! -e {release} ]; do sleep 0.01; done\necho slow >> {record}\n");
        _dir.Script("routable", "20-never", $"#!/bin/sh\necho never >> {record}\n");
        using var cancel = new CancellationTokenSource();

        var run = Runner().RunAsync(Event("routable", "eth1"), cancel.Token);
        for (var waited = 0; !File.Exists(started); waited += 10)
        {
            Assert.True(waited < 10_000, "the first script never started");
            await Task.Delay(10);
        }
        cancel.Cancel();
        File.WriteAllText(release, "");
        var results = await run;

        Assert.True(Assert.Single(results).Succeeded);
        Assert.Equal(["slow"], File.ReadAllLines(record));
        Assert.Contains(_log.Lines, l => l.Contains("20-never not started: shutting down"));
    }

    [Fact]
    public async Task An_earlier_script_directory_overrides_a_later_one_by_name_and_a_link_to_dev_null_masks()
    {
        using var packages = new TempDirectory();
        var record = _dir.Combine("ran");
        packages.Script("routable", "10-a", $"#!/bin/sh\necho package-10-a >> {record}\n");
        packages.Script("routable", "20-b", $"#!/bin/sh\necho package-20-b >> {record}\n");
        packages.Script("routable", "30-c", $"#!/bin/sh\necho package-30-c >> {record}\n");
        _dir.Script("routable", "10-a", $"#!/bin/sh\necho admin-10-a >> {record}\n");
        _dir.Script("routable", "25-own", $"#!/bin/sh\necho admin-25-own >> {record}\n");
        File.CreateSymbolicLink(_dir.Combine("routable.d", "30-c"), "/dev/null");

        var runner = new ScriptRunner(new ScriptRunnerOptions
        {
            ScriptRoot = _dir.Path, MoreScriptRoots = [packages.Path], SpillDirectory = _dir.Combine("spill"),
        }, _log.Logger);
        var results = await runner.RunAsync(Event("routable", "eth1"));

        Assert.Equal(["admin-10-a", "package-20-b", "admin-25-own"], File.ReadAllLines(record));
        Assert.Equal([_dir.Combine("routable.d", "10-a"), packages.Combine("routable.d", "20-b"), _dir.Combine("routable.d", "25-own")],
            results.Select(r => r.Path));
        Assert.DoesNotContain(_log.Lines, l => l.Contains("Skipping"));
    }

    [Fact]
    public async Task A_log_that_blocks_on_one_scripts_output_does_not_delay_another_scripts_exit()
    {
        // journald not reading: the log write of one script's line blocks. Another script that exits at once must be
        // seen to exit, not time out and have its group killed.
        _dir.Script("routable", "10-talk", "#!/bin/sh\necho blocking-line\n");
        _dir.Script("carrier", "10-quick", "#!/bin/sh\nexit 0\n");
        using var release = new ManualResetEventSlim();
        using var blocked = new ManualResetEventSlim();
        var stuckLog = new NetworkBroker.Logging.Logger(new BlockingSink("blocking-line", blocked, release), NetworkBroker.Logging.LogLevel.Info,
            NetworkBroker.Logging.LogFormat.Text, journal: false);
        var options = new ScriptRunnerOptions
        {
            ScriptRoot = _dir.Path, SpillDirectory = _dir.Combine("spill"), Timeout = TimeSpan.FromSeconds(2), KillGrace = TimeSpan.FromSeconds(1),
        };
        try
        {
            var talking = new ScriptRunner(options, stuckLog).RunAsync(Event("routable", "eth1"));
            Assert.True(blocked.Wait(TimeSpan.FromSeconds(30)), "the talking script's line must reach the log");

            var quick = await new ScriptRunner(options, _log.Logger).RunAsync(Event("carrier", "eth2")).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.False(quick[0].TimedOut);
            Assert.True(quick[0].Succeeded);
            release.Set();
            await talking.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            release.Set();
        }
    }

    /// <summary>A log sink whose write of a line containing <c>marker</c> blocks until released.</summary>
    private sealed class BlockingSink(string marker, ManualResetEventSlim blocked, ManualResetEventSlim release) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (!System.Text.Encoding.UTF8.GetString(buffer).Contains(marker, StringComparison.Ordinal))
                return;
            blocked.Set();
            release.Wait(TimeSpan.FromSeconds(60));
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => 0;
        public override long Position { get; set; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
