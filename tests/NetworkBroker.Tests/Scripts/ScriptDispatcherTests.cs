using System.Collections.Concurrent;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Scripts;

public class ScriptDispatcherTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MemoryLog _log = new(NetworkBroker.Logging.LogLevel.Warn);

    public void Dispose() => _dir.Dispose();

    private ScriptDispatcher Dispatcher(int maxParallel = 8, TimeSpan? timeout = null) =>
        new(new ScriptRunner(new ScriptRunnerOptions
        {
            ScriptRoot = _dir.Path,
            Timeout = timeout ?? TimeSpan.FromSeconds(30),
            SpillDirectory = _dir.Combine("spill"),
        }, _log.Logger), _log.Logger, maxParallel);

    private static ScriptEvent Event(string state, string link, int sequence) =>
        new(state, link, 0, [new("LINK", link), new("LINKINDEX", sequence.ToString())]);

    [Fact]
    public async Task An_event_of_a_state_known_to_hold_nothing_is_dropped_at_once_unless_someone_waits_on_it()
    {
        using var watch = ScriptDirectoryWatch.Open()!;
        var log = new MemoryLog();
        var runner = new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = _dir.Path, SpillDirectory = _dir.Combine("spill") }, log.Logger)
        {
            Watch = watch,
        };
        var record = _dir.Combine("record");
        _dir.Script("carrier", "10-slow", $"#!/bin/sh\nsleep 0.5\necho \"$LINKINDEX carrier\" >> {record}\n");
        Directory.CreateDirectory(_dir.Combine("degraded.d"));
        var enqueued = new ConcurrentQueue<int>();
        var completed = new ConcurrentQueue<(int, int)>();
        await using var dispatcher = new ScriptDispatcher(runner, log.Logger);
        dispatcher.Enqueued += e => enqueued.Enqueue(int.Parse(e.Environment[1].Value));
        dispatcher.Completed += (e, results) => completed.Enqueue((int.Parse(e.Environment[1].Value), results.Count));

        // The first run of degraded.d looks, finds nothing and learns it.
        Assert.True(dispatcher.Enqueue(Event("degraded", "eth0", 1)));
        await dispatcher.WhenIdle().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(runner.HoldsNothing("degraded"));

        // Now known: dropped before Enqueue returns, never queued.
        Assert.True(dispatcher.HoldsNothing("degraded"));
        Assert.True(dispatcher.Enqueue(Event("degraded", "eth0", 2)));
        Assert.Equal([1], enqueued);
        Assert.Equal([(1, 0)], completed);
        Assert.Contains(log.Lines, l => l.Contains("No scripts to run for degraded.d (its directories are unchanged"));

        // Behind a run of its link too: nothing would run, so there is nothing to order.
        Assert.True(dispatcher.Enqueue(Event("carrier", "eth0", 3)));
        Assert.True(dispatcher.Enqueue(Event("degraded", "eth0", 4)));
        Assert.False(dispatcher.HoldsNothing("carrier"));
        Assert.True(dispatcher.Enqueue(Event("carrier", "eth0", 5)));
        Assert.Equal([1, 3, 5], enqueued);

        // Someone waiting on it is told as before, through the lane.
        var observer = new ScriptObserver([]);
        Assert.True(dispatcher.Enqueue(Event("degraded", "eth2", 6) with { Observer = observer }));
        Assert.Equal([1, 3, 5, 6], enqueued);
        await dispatcher.WhenIdle().WaitAsync(TimeSpan.FromSeconds(30));
        await observer.Observations.Completion.WaitAsync(TimeSpan.FromSeconds(30));

        var all = completed.ToList();
        Assert.Equal([(1, 0), (3, 1), (5, 1), (6, 0)], all.Order());
        Assert.True(all.IndexOf((3, 1)) < all.IndexOf((5, 1)), "eth0's runs out of order");
        Assert.Equal(["3 carrier", "5 carrier"], File.ReadAllLines(record));
    }

    [Fact]
    public async Task A_burst_of_200_events_for_3_links_runs_each_links_events_in_event_order()
    {
        var states = new[] { "carrier", "degraded", "routable", "no-carrier" };
        foreach (var state in states)
            _dir.Script(state, "10-record", $"#!/bin/sh\necho \"$LINKINDEX {state}\" >> {_dir.Path}/record-$LINK\n");
        var links = new[] { "eth0", "eth1", "eth10" };
        var expected = links.ToDictionary(l => l, _ => new List<string>());

        await using (var dispatcher = Dispatcher())
        {
            for (var i = 0; i < 200; i++)
            {
                var link = links[i % 3];
                var state = states[i % states.Length];
                expected[link].Add($"{i} {state}");
                Assert.True(dispatcher.Enqueue(Event(state, link, i)));
            }
            await dispatcher.WhenIdle().WaitAsync(TimeSpan.FromMinutes(2));
        }

        foreach (var link in links)
            Assert.Equal(expected[link], File.ReadAllLines(_dir.Combine($"record-{link}")));
        Assert.Empty(_log.Lines);
    }

    [Fact]
    public async Task A_script_that_exited_while_the_script_thread_was_blocked_in_a_log_write_did_not_time_out()
    {
        // The script's one line, logged on the script thread, blocks it past the script's timeout (journald not
        // reading); the script exits meanwhile: its exit waits for the thread, and the timeout's step, which came
        // first, too. The kernel says the script exited: it succeeded, it did not time out.
        _dir.Script("routable", "10-quick", "#!/bin/sh\necho hello-from-the-script\nsleep 0.3\n");
        var sink = new BlockingSink("hello-from-the-script", TimeSpan.FromSeconds(3));
        var log = new NetworkBroker.Logging.Logger(sink, NetworkBroker.Logging.LogLevel.Debug, NetworkBroker.Logging.LogFormat.Text, journal: false);
        var results = new ConcurrentBag<ScriptResult>();
        await using (var dispatcher = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions
        {
            ScriptRoot = _dir.Path, Timeout = TimeSpan.FromSeconds(1), SpillDirectory = _dir.Combine("spill"),
        }, log), log))
        {
            dispatcher.Completed += (_, r) => results.Add(Assert.Single(r));
            Assert.True(dispatcher.Enqueue(Event("routable", "eth0", 1)));
            await dispatcher.WhenIdle().WaitAsync(TimeSpan.FromSeconds(60));
        }
        Assert.True(sink.Blocked, "the log write did not block: the test proves nothing");
        var result = Assert.Single(results);
        Assert.False(result.TimedOut, sink.Text);
        Assert.True(result.Succeeded, sink.Text);
    }

    /// <summary>A log sink whose first write of a line holding <c>marker</c> blocks for a while.</summary>
    private sealed class BlockingSink(string marker, TimeSpan block) : WriteOnlyStream
    {
        private readonly System.Text.StringBuilder _text = new();
        public bool Blocked { get; private set; }
        public string Text { get { lock (_text) return _text.ToString(); } }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var line = System.Text.Encoding.UTF8.GetString(buffer);
            lock (_text)
                _text.Append(line);
            if (!Blocked && line.Contains(marker))
            {
                Blocked = true;
                Thread.Sleep(block);
            }
        }
    }

    [Fact]
    public async Task A_slow_link_does_not_hold_up_another_link()
    {
        // eth0's script waits for a file that only eth1's script creates: it can finish only if the links run in parallel.
        var flag = _dir.Combine("eth1-ran");
        _dir.Script("routable", "10-wait", $"#!/bin/sh\nif [ \"$LINK\" = eth0 ]; then while [ ! -e {flag} ]; do sleep 0.02; done; else touch {flag}; fi\n");
        var results = new ConcurrentDictionary<string, ScriptResult>();

        await using var dispatcher = Dispatcher(timeout: TimeSpan.FromSeconds(20));
        dispatcher.Completed += (e, r) => results[e.Link!] = Assert.Single(r);
        dispatcher.Enqueue(Event("routable", "eth0", 0));
        dispatcher.Enqueue(Event("routable", "eth1", 1));
        await dispatcher.WhenIdle().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(results["eth0"].Succeeded && !results["eth0"].TimedOut);
        Assert.True(results["eth1"].Succeeded);
    }

    [Fact]
    public async Task Parallel_runs_are_bounded()
    {
        var running = _dir.Combine("running");
        Directory.CreateDirectory(running);
        // Each run records how many runs it saw at once (its own marker included).
        _dir.Script("routable", "10-count", $"#!/bin/sh\ntouch {running}/$LINK\nsleep 0.2\nls {running} | wc -l >> {_dir.Path}/seen\nrm {running}/$LINK\n");

        await using (var dispatcher = Dispatcher(maxParallel: 2))
        {
            for (var i = 0; i < 8; i++)
                dispatcher.Enqueue(Event("routable", $"eth{i}", i));
            await dispatcher.WhenIdle().WaitAsync(TimeSpan.FromMinutes(1));
        }

        var seen = File.ReadAllLines(_dir.Combine("seen")).Select(int.Parse).ToList();
        Assert.Equal(8, seen.Count);
        Assert.True(seen.Max() <= 2, $"at most 2 at once, saw {seen.Max()}");
    }

    [Fact]
    public async Task After_stopping_no_new_run_starts_and_queued_events_are_reported()
    {
        var record = _dir.Combine("record");
        var started = _dir.Combine("started");
        var go = _dir.Combine("go");
        // The first run holds until the test has asked the dispatcher to stop (however slow the machine is).
        _dir.Script("routable", "10-slow",
            $"#!/bin/sh\ntouch {started}\ni=0\nwhile [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\necho $LINKINDEX >> {record}\n");
        var dispatcher = Dispatcher();
        for (var i = 0; i < 5; i++)
            dispatcher.Enqueue(Event("routable", "eth0", i));
        // Stop while the first run is under way.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(started) && DateTime.UtcNow < deadline)
            await Task.Delay(10);

        // The stop is asked for at once (before DisposeAsync's first wait); then the first run may end.
        var stopping = dispatcher.DisposeAsync();
        File.WriteAllText(go, "");
        await stopping;

        Assert.False(dispatcher.Enqueue(Event("routable", "eth0", 99)));
        Assert.Equal(["0"], File.ReadAllLines(record));
        Assert.Contains(_log.Lines, l => l.Contains("eth0: Shutting down: 4 queued event(s) not run"));
    }
}
