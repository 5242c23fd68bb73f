using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using NetworkBroker.Core;
using NetworkBroker.Scripts;

namespace NetworkBroker.Tests.Core;

/// <summary>The states file written as changes appended: read back, it is always what a whole write would have said.</summary>
public class StatesFileViewTests
{
    private static readonly string[] Values = ["routable", "carrier", "no-carrier", "configured", "off", "degraded"];
    private static readonly string[] Names = ["eth0", "e th1", "", "wlan\u00e40"];

    private static ImmutableDictionary<string, string> RandomStates(Random random, IReadOnlyList<string> properties)
    {
        var states = ImmutableDictionary.CreateBuilder<string, string>();
        foreach (var property in properties)
            if (random.Next(3) > 0)
                states[property] = Values[random.Next(Values.Length)];
        return states.ToImmutable();
    }

    /// <summary>A new state: most links keep their (shared, immutable) states, some change, go or come.</summary>
    private static RememberedStates Next(Random random, RememberedStates? before)
    {
        var links = before?.Links.ToBuilder() ?? ImmutableDictionary.CreateBuilder<int, ImmutableDictionary<string, string>>();
        var names = before?.Names.ToBuilder() ?? ImmutableDictionary.CreateBuilder<int, string>();
        for (var index = 1; index <= 8; index++)
        {
            var roll = random.Next(10);
            if (links.ContainsKey(index) && roll < 7)
                continue;
            if (roll == 9)
            {
                links.Remove(index);
                continue;
            }
            links[index] = links.TryGetValue(index, out var states) && roll == 7
                ? states.SetItem(ScriptVariables.LinkStates[random.Next(ScriptVariables.LinkStates.Count)], Values[random.Next(Values.Length)])
                : RandomStates(random, ScriptVariables.LinkStates);
            if (random.Next(4) == 0 || !names.ContainsKey(index))
                names[index] = Names[random.Next(Names.Length)];
        }
        var manager = before is not null && random.Next(2) == 0 ? before.Manager : RandomStates(random, ScriptVariables.ManagerStates);
        var leases = before?.Leases.ToBuilder() ?? ImmutableDictionary.CreateBuilder<LeaseKey, string>();
        foreach (var path in new[] { "/l", "/m m" })
            foreach (var name in Names)
                foreach (var family in new[] { 4, 6 })
                {
                    var roll = random.Next(10);
                    if (roll < 2)
                        leases.Remove(new LeaseKey(path, name, family));
                    else if (roll < 4)
                        leases[new LeaseKey(path, name, family)] = $"x{random.Next(3)}@{random.Next(3)}";
                }
        return new RememberedStates("boot 1", links.ToImmutable(), names.ToImmutable(), manager, leases.ToImmutable());
    }

    private static RememberedRun RandomRun(Random random) => random.Next(5) switch
    {
        0 => RememberedRun.Manager,
        1 => RememberedRun.Lease(Names[random.Next(Names.Length)]),
        _ => RememberedRun.LinkState(random.Next(1, 10), Names[random.Next(Names.Length)], ScriptVariables.LinkStates[random.Next(ScriptVariables.LinkStates.Count)]),
    };

    private static List<RememberedRun> RandomRuns(Random random) => [.. Enumerable.Range(0, random.Next(4)).Select(_ => RandomRun(random))];

    private static string Read(ArrayBufferWriter<byte> file) => RememberedStates.Parse(Encoding.ASCII.GetString(file.WrittenSpan)).Format();

    [Fact]
    public void Whatever_the_changes_and_the_marks_the_file_reads_as_the_latest_state_less_the_queued_runs()
    {
        var random = new Random(20261203);
        var omitted = new RememberedStates.Omitted();
        var lines = 0;
        var whole = 0;
        for (var round = 0; round < 300; round++)
        {
            var view = new StatesFileView();
            var file = new ArrayBufferWriter<byte>();
            var states = Next(random, null);
            var queued = RandomRuns(random);
            omitted.Set(queued);
            states.WriteTo(file, omitted);
            view.Reset(states, omitted);
            var expected = states.Without(queued);
            Assert.Equal(expected.Format(), Read(file));
            for (var step = 0; step < 30; step++)
            {
                if (random.Next(3) == 0)
                {
                    // A run newly queued: its mark, appended.
                    var run = RandomRun(random);
                    RememberedStates.WriteQueued(file, run);
                    view.Forget(run);
                    expected = expected.Without([run]);
                }
                else
                {
                    if (random.Next(4) > 0)
                        states = Next(random, states);
                    queued = RandomRuns(random);
                    omitted.Set(queued);
                    var before = file.WrittenCount;
                    view.WriteChanges(file, states, omitted);
                    lines += Encoding.ASCII.GetString(file.WrittenSpan[before..]).Count(c => c == '\n');
                    expected = states.Without(queued);
                    whole += expected.Format().Count(c => c == '\n') - 2;
                }
                Assert.Equal(expected.Format(), Read(file));
            }
        }
        // The changes were lines, not whole files (here a third of the links, half the leases and the manager change
        // at each step, which is far more than a run changes).
        Assert.True(lines > 0 && lines < whole * 3 / 4, $"{lines} lines appended, {whole} written whole");
    }

    [Fact]
    public void Nothing_changed_writes_nothing_and_a_change_writes_only_its_line()
    {
        var states = new RememberedStates("b",
            ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty
                .Add(2, ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"))
                .Add(3, ImmutableDictionary<string, string>.Empty.Add("OperationalState", "carrier")),
            ImmutableDictionary<int, string>.Empty.Add(2, "eth0").Add(3, "eth1"),
            ImmutableDictionary<string, string>.Empty.Add("OperationalState", "routable"),
            ImmutableDictionary<LeaseKey, string>.Empty.Add(new LeaseKey("/l", "eth1", 4), "x@1"));
        var view = new StatesFileView();
        view.Reset(states, null);
        var output = new ArrayBufferWriter<byte>();
        view.WriteChanges(output, states with { Links = states.Links.SetItem(3, states.Links[3]) }, null);
        Assert.Equal(0, output.WrittenCount);

        view.WriteChanges(output, states with { Links = states.Links.SetItem(3, states.Links[3].SetItem("OperationalState", "routable")) }, null);
        Assert.Equal("link 3 eth1 OperationalState=routable\n", Encoding.ASCII.GetString(output.WrittenSpan));

        // The run of eth1's lease queued: its lease leaves the file, and comes back once it ran.
        output.ResetWrittenCount();
        var omitted = new RememberedStates.Omitted();
        omitted.Set([RememberedRun.Lease("eth1")]);
        view.WriteChanges(output, states, omitted);
        Assert.Equal("link 3 eth1 OperationalState=carrier\nforget lease /l eth1 4\n", Encoding.ASCII.GetString(output.WrittenSpan));
        output.ResetWrittenCount();
        view.WriteChanges(output, states, null);
        Assert.Equal("lease /l eth1 4 x@1\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }
}
