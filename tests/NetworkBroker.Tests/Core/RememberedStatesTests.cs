using System.Collections.Immutable;
using NetworkBroker.Core;
using NetworkBroker.Events;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Core;

/// <summary>Exactly once across restarts: what a start runs, given what the previous run of this boot remembered.</summary>
public class RememberedStatesTests
{
    private static ImmutableDictionary<string, string> States(string operational) =>
        ImmutableDictionary<string, string>.Empty.Add("OperationalState", operational).Add("AdministrativeState", "configured");

    private static LinkStatesRead Initial(params (int IfIndex, string Name, string State)[] links) =>
        new(links.ToImmutableDictionary(l => l.IfIndex, l => States(l.State)), links.ToImmutableDictionary(l => l.IfIndex, l => l.Name),
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"), LinkStatesReadReason.Initial);

    private static RememberedStates Remembered(NetworkdStates model)
    {
        var (links, names, manager) = model.Now;
        return new RememberedStates("boot-1", links, names, manager, ImmutableDictionary<LeaseKey, string>.Empty);
    }

    /// <summary>Until the memory has written its file once (not a measure of time: at most 30 s, then the test's assertion speaks).</summary>
    private static async Task Written(StateMemory memory)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (memory.Writes == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
    }

    /// <summary>A run of the directory a link's OperationalState names.</summary>
    private static RememberedRun Operational(int ifindex, string name) => RememberedRun.LinkState(ifindex, name, "OperationalState");

    /// <summary>What a start of the same boot would read from the directory's file now.</summary>
    private static RememberedStates Recall(TempDirectory directory, NetworkBroker.Logging.Logger log) =>
        new StateMemory(directory.Path, "boot-1", log).Recalled!;

    /// <summary>The links whose OperationalState is remembered.</summary>
    private static int[] OperationalOf(RememberedStates recalled) =>
        [.. recalled.Links.Where(l => l.Value.ContainsKey("OperationalState")).Select(l => l.Key).Order()];

    private static ImmutableDictionary<string, string> Administrative => ImmutableDictionary<string, string>.Empty.Add("AdministrativeState", "configured");

    private static string[] Runs(IReadOnlyList<BrokerEvent> transitions) =>
        [.. transitions.Select(t => t is LinkTransition l ? $"{l.IfIndex}:{l.Value}" : "manager")];

    [Fact]
    public void The_first_start_of_a_boot_runs_every_current_state_once()
    {
        var transitions = new NetworkdStates().Apply(Initial((2, "eth0", "routable"), (3, "eth1", "carrier")), replay: true);
        Assert.Equal(["2:routable", "2:configured", "3:carrier", "3:configured", "manager"], Runs(transitions));
    }

    [Fact]
    public void A_restart_with_nothing_changed_runs_nothing_and_one_that_missed_a_change_runs_it_once()
    {
        var before = new NetworkdStates();
        before.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        before.Apply(new LinkStatesChanged(3, [new("OperationalState", "carrier")]));
        var memory = RememberedStates.Parse(Remembered(before).Format());

        Assert.Empty(new NetworkdStates().Apply(Initial((2, "eth0", "routable"), (3, "eth1", "carrier")), replay: false, since: memory));

        // While stopped: eth1 got its address back, eth2 appeared, eth0's ifindex went to another link.
        var after = new NetworkdStates().Apply(Initial((2, "veth9", "routable"), (3, "eth1", "routable"), (4, "eth2", "no-carrier")), replay: false, since: memory);
        Assert.Equal(["2:routable", "2:configured", "3:routable", "4:no-carrier", "4:configured"], Runs(after));
    }

    [Fact]
    public void Without_memory_a_start_runs_nothing_and_RunStartupTriggers_replays_even_with_memory()
    {
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable")), replay: true);
        var memory = Remembered(model);
        Assert.Empty(new NetworkdStates().Apply(Initial((2, "eth0", "routable")), replay: false));
        Assert.Equal(["2:routable", "2:configured", "manager"], Runs(new NetworkdStates().Apply(Initial((2, "eth0", "routable")), replay: true, since: memory)));
    }

    [Fact]
    public void The_manager_runs_after_a_restart_only_when_it_changed()
    {
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable")), replay: true);
        var memory = Remembered(model) with { Manager = ImmutableDictionary<string, string>.Empty.Add("OperationalState", "degraded") };
        var transitions = new NetworkdStates().Apply(Initial((2, "eth0", "routable")), replay: false, since: memory);
        var manager = Assert.IsType<ManagerTransition>(Assert.Single(transitions));
        Assert.Equal([KeyValuePair.Create("OperationalState", "routable")], manager.Changed.ToArray());
    }

    [Fact]
    public void Runs_dropped_at_stop_are_forgotten_so_that_they_run_at_the_next_start()
    {
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        var memory = Remembered(model) with
        {
            Leases = ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/var/lib/dhcp/dhclient.leases", "eth1", 4), "x@1"),
        };
        var left = memory.Without([Operational(3, "eth1"), RememberedRun.Manager]);
        Assert.Equal(Administrative, left.Link(3, "eth1"));
        Assert.Single(left.Leases);
        Assert.Empty(left.Manager);
        // Only what was dropped runs again: eth1's routable.d, not its configured.d, which had run.
        Assert.Equal(["3:routable", "manager"], Runs(new NetworkdStates().Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: false, since: left)));
        // A lease's run dropped: that interface's leases, and nothing of its link's states.
        var noLease = memory.Without([RememberedRun.Lease("eth1")]);
        Assert.Empty(noLease.Leases);
        Assert.Equal(memory.Links, noLease.Links);
    }

    [Fact]
    public void Marks_of_earlier_versions_forget_the_whole_link_and_its_leases()
    {
        var memory = new RememberedStates("b",
            ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(2, States("routable")).Add(3, States("carrier")),
            ImmutableDictionary<int, string>.Empty.Add(2, "eth0").Add(3, "eth1"),
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"),
            ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/l", "eth1", 4), "x@1").Add(new LeaseKey("/l", "eth0", 4), "y@2"));
        var read = RememberedStates.Parse(memory.Format() + "queued link 3 eth1\n");
        Assert.Equal([2], read.Links.Keys);
        Assert.Equal(["eth0"], read.Leases.Keys.Select(k => k.Interface));
        Assert.Equal(memory.Manager, read.Manager);
    }

    [Fact]
    public void The_text_form_keeps_names_that_are_bytes_and_every_field()
    {
        var memory = new RememberedStates("3f2a-boot",
            ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(7, States("routable")).Add(8, States("off")),
            ImmutableDictionary<int, string>.Empty.Add(7, "w\udcffx=%y"),
            ImmutableDictionary<string, string>.Empty.Add("OnlineState", "online"),
            ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/var/lib/dhcp/dhclient eth0.leases", "eth0", 6), "6|2001:db8::5|64||@638000000000000000"));
        var text = memory.Format();
        Assert.All(text, c => Assert.True(c is '\n' or >= ' ' and < (char)0x7f));
        var back = RememberedStates.Parse(text);
        Assert.Equal(memory.BootId, back.BootId);
        Assert.Equal("w\udcffx=%y", back.Names[7]);
        Assert.False(back.Names.ContainsKey(8));
        Assert.Equal(memory.Links[7], back.Links[7]);
        Assert.Equal(memory.Links[8], back.Links[8]);
        Assert.Equal(memory.Manager, back.Manager);
        Assert.Equal(memory.Leases, back.Leases);
        Assert.Equal(text, back.Format());
    }

    [Fact]
    public void The_text_form_is_the_one_earlier_versions_wrote_and_read()
    {
        var memory = new RememberedStates("3f2a-boot",
            ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(8, States("off")).Add(7, States("routable")),
            ImmutableDictionary<int, string>.Empty.Add(7, "w\udcffx=%y"),
            ImmutableDictionary<string, string>.Empty.Add("OnlineState", "online"),
            ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/var/lib/dhcp/dhclient eth0.leases", "eth0", 6), "6|2001:db8::5|64||@638000000000000000"));
        Assert.Equal(
            "# network-broker: the states scripts last ran for, this boot only (written by the daemon)\n" +
            "boot 3f2a-boot\n" +
            "link 7 w%dcffx%003d%0025y AdministrativeState=configured OperationalState=routable\n" +
            "link 8 % AdministrativeState=configured OperationalState=off\n" +
            "manager OnlineState=online\n" +
            "lease /var/lib/dhcp/dhclient%0020eth0.leases eth0 6 6|2001:db8::5|64||@638000000000000000\n",
            memory.Format());
    }

    /// <summary>
    /// Every event rewrites the file with every link. Measured with 1,000 links (two states each): the string path
    /// allocated 897,456 bytes per write (StringBuilder, string, UTF-8 copy, OrderBy, an enumerator per value), most
    /// of it on the large-object heap; written into a reused buffer, 496 bytes. The bound (8 KiB) is on bytes, not time.
    /// </summary>
    [Fact]
    public void Writing_a_thousand_links_into_a_reused_buffer_allocates_little()
    {
        var links = ImmutableDictionary.CreateBuilder<int, ImmutableDictionary<string, string>>();
        var names = ImmutableDictionary.CreateBuilder<int, string>();
        for (var i = 1; i <= 1000; i++)
        {
            links[i] = States(i % 3 == 0 ? "carrier" : "routable");
            names[i] = $"nbp{i}";
        }
        var memory = new RememberedStates("boot-1", links.ToImmutable(), names.ToImmutable(),
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"), ImmutableDictionary<LeaseKey, string>.Empty);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        memory.WriteTo(buffer);
        var text = buffer.WrittenSpan.ToArray();

        buffer.ResetWrittenCount();
        var before = GC.GetAllocatedBytesForCurrentThread();
        memory.WriteTo(buffer);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(text, buffer.WrittenSpan.ToArray());
        Assert.Equal(memory.Format(), System.Text.Encoding.ASCII.GetString(text));
        Assert.True(allocated < 8 * 1024, $"{allocated} bytes allocated writing 1,000 links");
    }

    [Fact]
    public void Leaving_out_the_queued_runs_while_writing_writes_what_Without_leaves()
    {
        var memory = new RememberedStates("b",
            ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(2, States("routable")).Add(3, States("carrier")).Add(4, States("off")),
            ImmutableDictionary<int, string>.Empty.Add(2, "eth0").Add(3, "eth1").Add(4, "eth2"),
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"),
            ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/l", "eth1", 4), "x@1").Add(new LeaseKey("/l", "eth0", 4), "y@2"));
        RememberedRun[][] cases =
        [
            [], [RememberedRun.Manager], [Operational(3, "eth1")], [RememberedRun.Lease("eth1")],
            [RememberedRun.LinkState(4, "eth2", "AdministrativeState"), Operational(2, "eth0"), RememberedRun.Manager],
            [Operational(3, "eth1"), RememberedRun.LinkState(3, "eth1", "AdministrativeState"), RememberedRun.LinkState(3, "eth1", "CarrierState")],
        ];
        var omitted = new RememberedStates.Omitted();
        foreach (var runs in cases)
        {
            omitted.Set(runs);
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            memory.WriteTo(buffer, omitted);
            Assert.Equal(memory.Without(runs).Format(), System.Text.Encoding.ASCII.GetString(buffer.WrittenSpan));
        }
    }

    [Fact]
    public void A_file_with_queued_marks_appended_reads_as_Without_those_runs()
    {
        var memory = new RememberedStates("b",
            ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(2, States("routable")).Add(3, States("carrier")).Add(4, States("off")),
            ImmutableDictionary<int, string>.Empty.Add(2, "eth0").Add(3, "e th1").Add(4, "eth2"),
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"),
            ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/l", "e th1", 4), "x@1").Add(new LeaseKey("/l", "eth0", 4), "y@2"));
        RememberedRun[][] cases =
        [
            [], [RememberedRun.Manager], [Operational(3, "e th1")], [RememberedRun.Lease("e th1")],
            [RememberedRun.LinkState(4, "eth2", "AdministrativeState"), Operational(2, "eth0"), RememberedRun.Manager],
            [Operational(9, "eth9")], [RememberedRun.Lease("eth9")], [Operational(3, "e th1"), RememberedRun.LinkState(3, "e th1", "AdministrativeState")],
        ];
        foreach (var runs in cases)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            memory.WriteTo(buffer);
            foreach (var run in runs)
                RememberedStates.WriteQueued(buffer, run);
            var text = System.Text.Encoding.ASCII.GetString(buffer.WrittenSpan);
            Assert.Equal(memory.Without(runs).Format(), RememberedStates.Parse(text).Format());
        }
        // A mark before the boot line, or of a negative ifindex, is not the daemon's.
        Assert.Throws<FormatException>(() => RememberedStates.Parse("queued manager\nboot b\n"));
        Assert.Throws<FormatException>(() => RememberedStates.Parse("boot b\nqueued link -2 eth0\n"));
        Assert.Throws<FormatException>(() => RememberedStates.Parse("boot b\nqueued link 2\n"));
        Assert.Throws<FormatException>(() => RememberedStates.Parse("boot b\nqueued state 2 eth0\n"));
        Assert.Throws<FormatException>(() => RememberedStates.Parse("boot b\nqueued state 0 eth0 OperationalState\n"));
        Assert.Throws<FormatException>(() => RememberedStates.Parse("boot b\nqueued state 2 eth0 PATH\n"));
        Assert.Throws<FormatException>(() => RememberedStates.Parse("boot b\nqueued lease\n"));
        Assert.Throws<FormatException>(() => RememberedStates.Parse("boot b\nqueued lease eth0 eth1\n"));
    }

    [Fact]
    public void A_file_cut_short_anywhere_is_refused_unless_it_ends_a_line_and_then_forgets_at_least_the_marks_it_holds()
    {
        var memory = new RememberedStates("b",
            ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(2, States("routable")).Add(12, States("carrier")),
            ImmutableDictionary<int, string>.Empty.Add(2, "eth0").Add(12, "eth1"),
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"),
            ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/l", "eth1", 4), "x@1"));
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        memory.WriteTo(buffer);
        var whole = buffer.WrittenCount;
        RememberedRun[] marks = [Operational(12, "eth1"), RememberedRun.Lease("eth1"), RememberedRun.Manager, RememberedRun.LinkState(2, "eth0", "AdministrativeState")];
        foreach (var run in marks)
            RememberedStates.WriteQueued(buffer, run);
        var text = System.Text.Encoding.ASCII.GetString(buffer.WrittenSpan);

        // Cut after every byte of the marks: "queued state 12 eth1 OperationalState" torn to "queued state 12 eth1 Oper"
        // is not a mark the daemon wrote.
        for (var length = whole; length < text.Length; length++)
        {
            var cut = text[..length];
            if (cut[^1] != '\n')
            {
                var error = Assert.Throws<FormatException>(() => RememberedStates.Parse(cut));
                Assert.StartsWith("line ", error.Message);
                continue;
            }
            var lines = cut[whole..].Count(c => c == '\n');
            Assert.Equal(memory.Without(marks[..lines]).Format(), RememberedStates.Parse(cut).Format());
        }
    }

    /// <summary>
    /// A start that replays 1,000 links queues 1,000 runs, and every write leaves out those not run yet. Measured
    /// with 1,000 links and 1,000 queued runs: through <see cref="RememberedStates.Without"/> (an immutable copy per
    /// run) 851,016 bytes per write; left out while writing, under the bound of 8 KiB.
    /// </summary>
    [Fact]
    public void Leaving_out_a_thousand_queued_runs_allocates_little()
    {
        var links = ImmutableDictionary.CreateBuilder<int, ImmutableDictionary<string, string>>();
        for (var i = 1; i <= 1000; i++)
            links[i] = States("routable");
        var memory = new RememberedStates("boot-1", links.ToImmutable(), ImmutableDictionary<int, string>.Empty,
            ImmutableDictionary<string, string>.Empty, ImmutableDictionary<LeaseKey, string>.Empty);
        var runs = Enumerable.Range(1, 1000).Select(i => Operational(i, $"nbp{i}")).ToList();
        var omitted = new RememberedStates.Omitted();
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        omitted.Set(runs);
        memory.WriteTo(buffer, omitted);

        buffer.ResetWrittenCount();
        var before = GC.GetAllocatedBytesForCurrentThread();
        omitted.Set(runs);
        memory.WriteTo(buffer, omitted);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(memory.Without(runs).Format(), System.Text.Encoding.ASCII.GetString(buffer.WrittenSpan));
        Assert.True(allocated < 8 * 1024, $"{allocated} bytes allocated leaving out 1,000 runs");
    }

    [Theory]
    [InlineData("")]
    [InlineData("link 3 eth0 OperationalState=routable\n")]
    [InlineData("boot a\nboot b\n")]
    [InlineData("boot a\nforget link 0\n")]
    [InlineData("forget link 3\nboot a\n")]
    [InlineData("boot a\nforget lease /l eth0 5\n")]
    [InlineData("boot a\nlink 3 eth0 PATH=/tmp\n")]
    [InlineData("boot a\nlink 3 eth0 OperationalState=$(reboot)\n")]
    [InlineData("boot a\nlink -3 eth0\n")]
    [InlineData("boot a\nlink 3 eth%00\n")]
    [InlineData("boot a\nlease /x eth0 5 id\n")]
    [InlineData("boot a\nsomething else\n")]
    public void Anything_but_its_own_form_is_refused_with_the_line(string text)
    {
        var error = Assert.Throws<FormatException>(() => RememberedStates.Parse(text));
        Assert.True(error.Message.StartsWith("line ", StringComparison.Ordinal) || error.Message == "no boot line", error.Message);
    }

    [Fact]
    public void Random_bytes_never_throw_anything_but_a_format_error()
    {
        var random = new Random(1234);
        var valid = "boot b\nlink 3 eth0 OperationalState=routable AdministrativeState=configured\nmanager OnlineState=online\nlease /p eth0 4 x@1\n";
        for (var i = 0; i < 5000; i++)
        {
            var chars = valid.ToCharArray();
            for (var n = random.Next(1, 6); n > 0; n--)
                chars[random.Next(chars.Length)] = (char)random.Next(0, 0x2000);
            try
            {
                var parsed = RememberedStates.Parse(new string(chars));
                Assert.All(parsed.Links.Values.SelectMany(s => s.Values), v => Assert.True(NetworkBroker.Scripts.ScriptVariables.IsStateWord(v)));
            }
            catch (FormatException)
            {
            }
        }
    }

    [Fact]
    public async Task A_run_queued_but_not_yet_run_is_not_remembered_so_a_crash_cannot_lose_it()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var memory = new StateMemory(directory.Path, "boot-1", log);
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        memory.Queued(Operational(3, "eth1"));
        memory.Queued(Operational(3, "eth1"));
        memory.Remember(Remembered(model) with { BootId = "boot-1" });
        await memory.FlushAsync();
        // As a start after a kill now would see it: eth1's runs are still to come, eth0's are done.
        Assert.Equal([2], OperationalOf(Recall(directory, log)));

        memory.Ran(Operational(3, "eth1"));
        await memory.FlushAsync();
        Assert.Equal([2], OperationalOf(Recall(directory, log)));
        memory.Ran(Operational(3, "eth1"));
        await memory.FlushAsync();
        Assert.Equal([2, 3], OperationalOf(Recall(directory, log)));
    }

    [Fact]
    public async Task Changes_within_the_write_delay_cost_one_write_of_the_latest_and_a_flush_does_not_wait_for_the_delay()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        // A delay no test run reaches: only the flush writes.
        var memory = new StateMemory(directory.Path, "boot-1", log) { WriteDelay = TimeSpan.FromHours(1) };
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable")), replay: true);
        foreach (var state in new[] { "no-carrier", "carrier", "degraded", "routable", "no-carrier" })
        {
            model.Apply(new LinkStatesChanged(2, [new("OperationalState", state)]));
            memory.Remember(Remembered(model) with { BootId = "boot-1" });
        }
        Assert.Equal(0, memory.Writes);
        await memory.FlushAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(1, memory.Writes);
        Assert.Equal(States("no-carrier"), Recall(directory, log).Link(2, "eth0"));

        // And without a flush, the delay passes and the change is written by itself.
        var soon = new StateMemory(directory.Path, "boot-1", log) { WriteDelay = TimeSpan.FromMilliseconds(10) };
        model.Apply(new LinkStatesChanged(2, [new("OperationalState", "routable")]));
        soon.Remember(Remembered(model) with { BootId = "boot-1" });
        await Written(soon);
        Assert.Equal(States("routable"), Recall(directory, log).Link(2, "eth0"));
    }

    [Fact]
    public async Task A_link_whose_run_is_queued_leaves_the_file_at_once_whatever_the_write_delay()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable")), replay: true);
        var first = new StateMemory(directory.Path, "boot-1", log);
        first.Remember(Remembered(model));
        await first.FlushAsync();

        // A delay no test run reaches: only the queued run's urgency writes before the flush.
        var memory = new StateMemory(directory.Path, "boot-1", log) { WriteDelay = TimeSpan.FromHours(1) };
        model.Apply(new LinkStatesChanged(2, [new("OperationalState", "no-carrier")]));
        memory.Queued(Operational(2, "eth0"));
        memory.Remember(Remembered(model));
        await Written(memory);
        // A crash now: the next start finds eth0's OperationalState not remembered and runs it (no-carrier.d), not
        // nothing; its AdministrativeState stays remembered (configured.d does not run again).
        Assert.Equal(Administrative, Recall(directory, log).Link(2, "eth0"));

        memory.Ran(Operational(2, "eth0"));
        await memory.FlushAsync();
        Assert.Equal(States("no-carrier"), Recall(directory, log).Link(2, "eth0"));
    }

    [Fact]
    public async Task A_queued_run_is_marked_by_an_append_to_the_file_not_a_new_file_and_a_write_meanwhile_keeps_it_out()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        // A delay no test run reaches: only a mark or a flush writes.
        var memory = new StateMemory(directory.Path, "boot-1", log) { WriteDelay = TimeSpan.FromHours(1) };
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        var written = File.ReadAllText(memory.Path);
        var inode = Inode(memory.Path);

        model.Apply(new LinkStatesChanged(2, [new("OperationalState", "no-carrier")]));
        memory.Queued(Operational(2, "eth0"));
        memory.Queued(Operational(2, "eth0"));
        memory.Queued(RememberedRun.Manager);
        // A step with nothing pending (a flush, or a delayed write after another took the state) runs after the mark.
        await memory.FlushAsync();
        Assert.Equal(written + "queued state 2 eth0 OperationalState\nqueued manager\n", File.ReadAllText(memory.Path));
        Assert.Equal(inode, Inode(memory.Path));
        var recalled = Recall(directory, log);
        Assert.Equal([3], OperationalOf(recalled));
        Assert.Empty(recalled.Manager);

        // The loop hands the new state over; written while eth0's run is queued, it still leaves eth0's
        // OperationalState out: nothing else changed, so nothing is written.
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal(written + "queued state 2 eth0 OperationalState\nqueued manager\n", File.ReadAllText(memory.Path));
        Assert.Equal([3], OperationalOf(Recall(directory, log)));
        memory.Ran(Operational(2, "eth0"));
        memory.Ran(Operational(2, "eth0"));
        memory.Ran(RememberedRun.Manager);
        await memory.FlushAsync();
        Assert.Equal(States("no-carrier"), Recall(directory, log).Link(2, "eth0"));
    }

    [Fact]
    public async Task Marks_from_before_the_first_file_of_a_boot_are_not_appended_later()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        // The first start of a boot: no file, so nothing to forget when eth0's run is queued.
        var memory = new StateMemory(directory.Path, "boot-1", log) { WriteDelay = TimeSpan.FromHours(1) };
        memory.Queued(Operational(2, "eth0"));
        await memory.FlushAsync();
        memory.Ran(Operational(2, "eth0"));
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        var written = File.ReadAllText(memory.Path);

        // eth1's run is queued: only its mark follows; eth0's, from before the file, would undo its run.
        memory.Queued(Operational(3, "eth1"));
        await memory.FlushAsync();
        Assert.Equal(written + "queued state 3 eth1 OperationalState\n", File.ReadAllText(memory.Path));
        Assert.Equal([2], OperationalOf(Recall(directory, log)));
    }

    [Fact]
    public async Task A_mark_that_cannot_be_appended_writes_the_whole_file_at_once_leaving_the_queued_link_out()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        var first = new StateMemory(directory.Path, "boot-1", log);
        first.Remember(Remembered(model));
        await first.FlushAsync();

        // The next start read the file; a FIFO took its place since (opened for writing, it would block).
        var memory = new StateMemory(directory.Path, "boot-1", log) { WriteDelay = TimeSpan.FromHours(1) };
        memory.Remember(Remembered(model));
        File.Delete(memory.Path);
        Assert.Equal(0, Mkfifo(memory.Path, 0x180));
        memory.Queued(Operational(2, "eth0"));
        await memory.FlushAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal([3], OperationalOf(Recall(directory, log)));
    }

    [Fact]
    public async Task A_mark_after_the_file_was_replaced_writes_the_new_file_whole_not_the_one_renamed_away()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        var memory = new StateMemory(directory.Path, "boot-1", log) { WriteDelay = TimeSpan.FromHours(1) };
        memory.Remember(Remembered(model));
        await memory.FlushAsync();

        // Root edits the file as an editor does: a new file renamed into place (here with what it said).
        File.WriteAllText(memory.Path + "~", File.ReadAllText(memory.Path));
        File.Move(memory.Path + "~", memory.Path, overwrite: true);
        var replaced = Inode(memory.Path);
        memory.Queued(Operational(2, "eth0"));
        await memory.FlushAsync();
        // The mark reached the file a reader reads: eth0's OperationalState is left out of it.
        Assert.NotEqual(replaced, Inode(memory.Path));
        Assert.Equal([3], OperationalOf(Recall(directory, log)));
        memory.Ran(Operational(2, "eth0"));
        await memory.FlushAsync();
        Assert.Equal([2, 3], OperationalOf(Recall(directory, log)));
    }

    [Fact]
    public async Task A_change_longer_than_an_append_may_be_is_written_whole()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var memory = new StateMemory(directory.Path, "boot-1", log);
        var model = new NetworkdStates();
        var links = Enumerable.Range(2, 100).Select(i => (i, $"veth{i}", "routable")).ToArray();
        model.Apply(Initial(links), replay: true);
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal((1, 1), (memory.Writes, memory.WholeWrites));

        // One link: appended. All hundred (some 7 KB of lines): the whole file, renamed into place.
        model.Apply(new LinkStatesChanged(2, [new("OperationalState", "carrier")]));
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal((2, 1), (memory.Writes, memory.WholeWrites));
        model.Apply(Initial([.. links.Select(l => (l.Item1, l.Item2, "degraded"))]), replay: true);
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal((3, 2), (memory.Writes, memory.WholeWrites));
        Assert.Equal(Remembered(model).Format(), File.ReadAllText(memory.Path));
    }

    [Fact]
    public async Task After_its_file_was_closed_a_first_start_still_marks_a_queued_run_in_it()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        // The first start of a boot (nothing recalled) writes its file, and closes it at stop.
        var memory = new StateMemory(directory.Path, "boot-1", log);
        Assert.Null(memory.Recalled);
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable")), replay: true);
        memory.Remember(Remembered(model));
        await memory.StopAsync([]);

        // A run queued after that: its file says eth0's OperationalState ran, and must not any more.
        memory.Queued(Operational(2, "eth0"));
        await memory.FlushAsync();
        Assert.Empty(OperationalOf(Recall(directory, log)));
    }

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "mkfifo")]
    private static extern int Mkfifo(string path, uint mode);

    private static long Inode(string path)
    {
        var stat = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(stat)!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return long.Parse(text.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task An_unchanged_state_is_not_written_a_change_is_appended_and_a_file_replaced_meanwhile_is_written_whole()
    {
        using var directory = new TempDirectory();
        var memory = new StateMemory(directory.Path, "boot-1", new MemoryLog().Logger);
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable"), (3, "eth1", "routable")), replay: true);
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        var written = File.ReadAllText(memory.Path);
        var writtenAt = new FileInfo(memory.Path).LastWriteTimeUtc;
        var inode = Inode(memory.Path);
        Assert.Equal((1, 1), (memory.Writes, memory.WholeWrites));

        // The same state again: the file is left as it is.
        File.SetLastWriteTimeUtc(memory.Path, writtenAt.AddDays(-1));
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal(writtenAt.AddDays(-1), new FileInfo(memory.Path).LastWriteTimeUtc);
        Assert.Equal(1, memory.Writes);

        // A change: the changed link's line, appended to the same file.
        model.Apply(new LinkStatesChanged(2, [new("OperationalState", "degraded")]));
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal(written + "link 2 eth0 AdministrativeState=configured OperationalState=degraded\n", File.ReadAllText(memory.Path));
        Assert.Equal(inode, Inode(memory.Path));
        Assert.Equal((2, 1), (memory.Writes, memory.WholeWrites));
        Assert.Equal(States("degraded"), Recall(directory, new MemoryLog().Logger).Link(2, "eth0"));

        // A link gone: forgotten by a line.
        model.Apply(new LinkStatesRead(ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty.Add(2, States("degraded")),
            ImmutableDictionary<int, string>.Empty.Add(2, "eth0"), ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"),
            LinkStatesReadReason.Restarted), replay: false);
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.EndsWith("OperationalState=degraded\nforget link 3\n", File.ReadAllText(memory.Path));
        Assert.Equal(Remembered(model).Format(), Recall(directory, new MemoryLog().Logger).Format());

        // Replaced behind the daemon's back (a new file in its place): the next change is written whole, to a new
        // file, not appended to one nobody reads.
        File.WriteAllText(memory.Path + ".other", File.ReadAllText(memory.Path));
        File.Move(memory.Path + ".other", memory.Path, overwrite: true);
        model.Apply(new LinkStatesChanged(2, [new("OperationalState", "routable")]));
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal(Remembered(model).Format(), File.ReadAllText(memory.Path));
        Assert.Equal((4, 2), (memory.Writes, memory.WholeWrites));

        // Changed in place to another length: written whole too.
        File.AppendAllText(memory.Path, "link 9 eth9 OperationalState=routable\n");
        model.Apply(new LinkStatesChanged(2, [new("OperationalState", "carrier")]));
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal(Remembered(model).Format(), File.ReadAllText(memory.Path));
        Assert.Equal((5, 3), (memory.Writes, memory.WholeWrites));

        // Deleted behind its back, and nothing changed since: written whole again, not left missing (a start without
        // the file would run every state once).
        File.Delete(memory.Path);
        memory.Remember(Remembered(model));
        await memory.FlushAsync();
        Assert.Equal(Remembered(model).Format(), File.ReadAllText(memory.Path));
        Assert.Equal((6, 4), (memory.Writes, memory.WholeWrites));
    }

    [Fact]
    public async Task Appended_lines_past_the_limit_make_the_next_write_whole_and_every_file_reads_as_the_latest_state()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var memory = new StateMemory(directory.Path, "boot-1", log) { AppendLimit = 1024 };
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable")), replay: true);
        string[] states = ["no-carrier", "carrier", "degraded", "routable"];
        for (var i = 0; i < 100; i++)
        {
            model.Apply(new LinkStatesChanged(2, [new("OperationalState", states[i % states.Length])]));
            memory.Remember(Remembered(model));
            await memory.FlushAsync();
            Assert.Equal(Remembered(model).Format(), Recall(directory, log).Format());
            Assert.True(new FileInfo(memory.Path).Length <= 1024 + 2 * Remembered(model).Format().Length, $"{new FileInfo(memory.Path).Length} bytes after {i + 1} writes");
        }
        Assert.Equal(100, memory.Writes);
        // A whole write (about 200 bytes) every 1,024 bytes appended (about 70 a line).
        Assert.InRange(memory.WholeWrites, 5, 12);
    }

    [Fact]
    public async Task The_file_survives_a_restart_of_the_same_boot_only()
    {
        using var directory = new TempDirectory();
        var log = new MemoryLog().Logger;
        var first = new StateMemory(directory.Path, "boot-1", log);
        Assert.Null(first.Recalled);
        var model = new NetworkdStates();
        model.Apply(Initial((2, "eth0", "routable")), replay: true);
        first.Remember(Remembered(model) with { BootId = "boot-1" });
        await first.StopAsync([]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(first.Path));
        // The file kept open for marks is closed at stop.
        Assert.DoesNotContain(new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos(),
            fd => fd.LinkTarget is { } target && target.StartsWith(first.Path, StringComparison.Ordinal));

        Assert.Equal(States("routable"), Recall(directory, log).Link(2, "eth0"));
        Assert.Null(new StateMemory(directory.Path, "boot-2", log).Recalled);

        // Garbage, a FIFO or a link in its place: nothing remembered (every state runs), never a failure.
        File.WriteAllText(first.Path, "boot boot-1\nlink x\n");
        Assert.Null(new StateMemory(directory.Path, "boot-1", log).Recalled);
        File.Delete(first.Path);
        File.CreateSymbolicLink(first.Path, "/etc/hostname");
        Assert.Null(new StateMemory(directory.Path, "boot-1", log).Recalled);
    }
}
