using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Scripts;

public class EmptyDirectoriesTests : IDisposable
{
    private static readonly DateTime Listing = new(2026, 12, 2, 12, 0, 0, DateTimeKind.Utc);

    private readonly TempDirectory _dir = new();
    private readonly MemoryLog _log = new();

    public void Dispose() => _dir.Dispose();

    private static DirectoryStamp Stamp(DateTime changed, ulong inode = 7) =>
        new(8, 1, inode, (long)(changed - DateTime.UnixEpoch).TotalSeconds, (uint)(changed.Ticks % TimeSpan.TicksPerSecond * 100), 0, 0);

    [Fact]
    public void A_directory_is_remembered_only_when_its_last_change_is_older_than_the_margin_and_nothing_came_between()
    {
        var empty = new EmptyDirectories();
        var old = Stamp(Listing - EmptyDirectories.Margin - TimeSpan.FromMilliseconds(1));

        empty.Listed("/a", Listing, old, old);
        empty.Listed("/b", Listing, Stamp(Listing - EmptyDirectories.Margin), Stamp(Listing - EmptyDirectories.Margin));
        empty.Listed("/c", Listing, Stamp(Listing - TimeSpan.FromMilliseconds(1)), Stamp(Listing - TimeSpan.FromMilliseconds(1)));
        empty.Listed("/d", Listing, old, old with { ChangeNanoseconds = old.ChangeNanoseconds + 1 });

        Assert.True(empty.IsEmpty("/a", old));
        Assert.False(empty.Remembers("/b"));
        Assert.False(empty.Remembers("/c"));
        Assert.False(empty.Remembers("/d"));
        Assert.Equal(1, empty.Hits);
    }

    [Theory]
    [InlineData("inode")]
    [InlineData("ctime")]
    [InlineData("mtime")]
    [InlineData("device")]
    [InlineData("none")]
    public void Any_other_stamp_is_not_the_empty_directory_and_forgets_it(string changed)
    {
        var empty = new EmptyDirectories();
        var old = Stamp(Listing - TimeSpan.FromMinutes(1));
        empty.Listed("/a", Listing, old, old);

        // "none": the look-up could not stamp it (a link on the way, gone, not a directory).
        DirectoryStamp? now = changed switch
        {
            "inode" => old with { Inode = old.Inode + 1 },
            "ctime" => old with { ChangeSeconds = old.ChangeSeconds + 1 },
            "mtime" => old with { ModifyNanoseconds = 1 },
            "device" => old with { DevMinor = 2 },
            _ => null,
        };

        Assert.False(empty.IsEmpty("/a", now));
        Assert.False(empty.Remembers("/a"));
        Assert.False(empty.IsEmpty("/a", old));
        Assert.Equal(0, empty.Hits);
    }

    [Fact]
    public void A_remembered_directory_is_listed_again_after_the_maximum_age()
    {
        var empty = new EmptyDirectories { MaxAge = TimeSpan.Zero };
        var old = Stamp(Listing - TimeSpan.FromMinutes(1));
        empty.Listed("/a", Listing, old, old);
        Assert.True(empty.Remembers("/a"));

        Assert.False(empty.IsEmpty("/a", old));
        Assert.False(empty.Remembers("/a"));
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(-1L)]
    public void A_ctime_no_clock_reads_is_compared_without_overflow(long seconds)
    {
        var empty = new EmptyDirectories();
        var odd = Stamp(Listing) with { ChangeSeconds = seconds, ChangeNanoseconds = 999_999_999 };
        empty.Listed("/a", Listing, odd, odd);
        Assert.Equal(seconds < 0, empty.Remembers("/a"));
    }

    private ScriptRunner Runner(bool clockAhead = true)
    {
        var runner = new ScriptRunner(new ScriptRunnerOptions
        {
            ScriptRoot = _dir.Path,
            SpillDirectory = _dir.Combine("spill"),
        }, _log.Logger);
        // A directory made by the test changed a moment ago: the clock is moved past the margin, as if it were old.
        if (clockAhead)
            runner.EmptyDirectories.Now = () => DateTime.UtcNow + TimeSpan.FromMinutes(1);
        return runner;
    }

    private static ScriptEvent Event(string state) => new(state, "eth1", 3, [new("LINK", "eth1"), new("LINKINDEX", "3")]);

    private string Recorder(string state, string name)
    {
        var record = _dir.Combine($"{state}-{name}.ran");
        _dir.Script(state, name, $"#!/bin/sh\ntouch {record}\n");
        return record;
    }

    [Fact]
    public async Task An_empty_state_directory_is_then_known_by_its_stamp_and_a_script_added_to_it_runs()
    {
        Directory.CreateDirectory(_dir.Combine("routable.d"));
        var runner = Runner();

        Assert.Empty(await runner.RunAsync(Event("routable")));
        Assert.Empty(await runner.RunAsync(Event("routable")));
        Assert.Equal(1, runner.EmptyDirectories.Hits);

        // Not in the clock tick of the directory's own making, which the test's clock, moved ahead, does not guard:
        // on a kernel without fine-grained timestamps the addition would carry the same ctime (the margin's case).
        await Task.Delay(50);
        var record = Recorder("routable", "10-added");
        Assert.Single(await runner.RunAsync(Event("routable")));
        Assert.True(File.Exists(record));
        Assert.Equal(1, runner.EmptyDirectories.Hits);
    }

    [Fact]
    public async Task A_directory_changed_within_the_margin_is_listed_at_every_run()
    {
        Directory.CreateDirectory(_dir.Combine("routable.d"));
        var runner = Runner(clockAhead: false);

        for (var i = 0; i < 3; i++)
            Assert.Empty(await runner.RunAsync(Event("routable")));

        Assert.Equal(0, runner.EmptyDirectories.Hits);
        Assert.False(runner.EmptyDirectories.Remembers(_dir.Combine("routable.d")));
    }

    [Fact]
    public async Task Another_directory_put_in_the_place_of_the_empty_one_is_listed()
    {
        Directory.CreateDirectory(_dir.Combine("routable.d"));
        var runner = Runner();
        Assert.Empty(await runner.RunAsync(Event("routable")));

        await Task.Delay(50);
        // Made elsewhere with its script, then renamed over the empty one: the directory's own ctime and mtime are
        // its own, not the ones remembered, and neither is its inode.
        var staged = _dir.Combine("staged");
        Directory.CreateDirectory(staged);
        var record = _dir.Combine("swapped.ran");
        File.WriteAllText(Path.Combine(staged, "10-swapped"), $"#!/bin/sh\ntouch {record}\n");
        File.SetUnixFileMode(Path.Combine(staged, "10-swapped"), (UnixFileMode)0b111_101_101);
        Directory.Delete(_dir.Combine("routable.d"));
        Directory.Move(staged, _dir.Combine("routable.d"));

        Assert.Single(await runner.RunAsync(Event("routable")));
        Assert.True(File.Exists(record));
        Assert.Equal(0, runner.EmptyDirectories.Hits);
    }

    [Fact]
    public async Task A_directory_reached_through_a_link_is_walked_at_every_run()
    {
        Directory.CreateDirectory(_dir.Combine("real.d"));
        File.CreateSymbolicLink(_dir.Combine("routable.d"), _dir.Combine("real.d"));
        var runner = Runner();

        for (var i = 0; i < 3; i++)
            Assert.Empty(await runner.RunAsync(Event("routable")));

        Assert.Equal(0, runner.EmptyDirectories.Hits);
        Assert.False(runner.EmptyDirectories.Remembers(_dir.Combine("routable.d")));
    }

    [Fact]
    public async Task A_directory_that_held_a_script_is_remembered_once_emptied_and_forgotten_when_one_comes_back()
    {
        var record = Recorder("routable", "10-back");
        var runner = Runner();
        Assert.Single(await runner.RunAsync(Event("routable")));
        Assert.False(runner.EmptyDirectories.Remembers(_dir.Combine("routable.d")));

        File.Delete(_dir.Combine("routable.d", "10-back"));
        File.Delete(record);
        Assert.Empty(await runner.RunAsync(Event("routable")));
        Assert.True(runner.EmptyDirectories.Remembers(_dir.Combine("routable.d")));

        await Task.Delay(50);
        Recorder("routable", "10-back");
        Assert.Single(await runner.RunAsync(Event("routable")));
        Assert.True(File.Exists(record));
        Assert.False(runner.EmptyDirectories.Remembers(_dir.Combine("routable.d")));
    }
}
