using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Core;

/// <summary>
/// The guard counts a blocking call only on the loop's thread while it handles an event. Its count is the
/// process's: each test starts from zero (the tests of this class run one at a time).
/// </summary>
public class LoopGuardTests
{
    private readonly MemoryLog _log = new();

    public LoopGuardTests() => LoopGuard.Reset();

    private string[] Errors => [.. _log.Lines.Where(l => l.Contains("blocking call on the broker's loop"))];

    [Fact]
    public void A_blocking_call_off_the_loop_is_not_counted()
    {
        LoopGuard.Blocking("RTM_GETLINK", "ifindex 3");

        Assert.False(LoopGuard.OnLoop);
        Assert.Equal(0, LoopGuard.Violations);
        Assert.Empty(LoopGuard.Sites);
    }

    [Fact]
    public void A_blocking_call_while_an_event_is_handled_is_counted_named_and_logged_once_per_site()
    {
        using (LoopGuard.Handling(_log.Logger))
        {
            Assert.True(LoopGuard.OnLoop);
            LoopGuard.Blocking("RTM_GETLINK", "ifindex 3");
            LoopGuard.Blocking("RTM_GETLINK", "ifindex 4");
            LoopGuard.Blocking("read of a file", "/run/systemd/netif/leases/3");
        }
        LoopGuard.Blocking("RTM_GETLINK", "ifindex 5");

        Assert.False(LoopGuard.OnLoop);
        Assert.Equal(3, LoopGuard.Violations);
        Assert.Equal(["RTM_GETLINK", "read of a file"], LoopGuard.Sites);
        var errors = Errors;
        Assert.Equal(2, errors.Length);
        Assert.Contains("(RTM_GETLINK: ifindex 3)", errors[0]);
        Assert.Contains("(read of a file: /run/systemd/netif/leases/3)", errors[1]);
        // The stack that made the call, for finding it.
        Assert.Contains(nameof(A_blocking_call_while_an_event_is_handled_is_counted_named_and_logged_once_per_site), _log.Text);
    }

    [Fact]
    public void Only_the_loops_thread_is_marked_and_a_nested_scope_leaves_it_marked()
    {
        using (LoopGuard.Handling(_log.Logger))
        {
            using (LoopGuard.Handling(_log.Logger))
            {
            }
            Assert.True(LoopGuard.OnLoop);
            // Another thread, at the same time: a worker's blocking call is what off the loop means.
            var markedElsewhere = true;
            var elsewhere = new Thread(() =>
            {
                LoopGuard.Blocking("rtnetlink request", "add rule");
                markedElsewhere = LoopGuard.OnLoop;
            });
            elsewhere.Start();
            elsewhere.Join();
            Assert.False(markedElsewhere);
        }

        Assert.Equal(0, LoopGuard.Violations);
        Assert.Empty(Errors);
    }

    [Fact]
    public void Only_the_first_sites_are_named_and_logged_and_every_call_is_counted()
    {
        using (LoopGuard.Handling(_log.Logger))
            for (var i = 0; i < 20; i++)
                LoopGuard.Blocking($"site {i % 10}");

        Assert.Equal(20, LoopGuard.Violations);
        Assert.Equal(Enumerable.Range(0, LoopGuard.SitesKept).Select(i => $"site {i}"), LoopGuard.Sites);
        Assert.Equal(LoopGuard.SitesKept, Errors.Length);
    }

    [Fact]
    public async Task The_broker_marks_its_loop_while_it_handles_an_event_and_only_then()
    {
        using var dir = new TempDirectory();
        await using var scripts = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions { ScriptRoot = dir.Path }, _log.Logger), _log.Logger);
        var broker = new Broker(new BrokerConfiguration { Path = dir.Combine("network-broker.toml") }, _log.Logger, scripts);
        using var cancel = new CancellationTokenSource();
        var loop = broker.RunAsync(cancel.Token);

        var onLoop = await broker.QueryAsync(_ =>
        {
            LoopGuard.Blocking("read of a file", "/sys/class/net/eth0/ifindex");
            return LoopGuard.OnLoop;
        });
        LoopGuard.Blocking("read of a file", "/sys/class/net/eth0/ifindex");
        await cancel.CancelAsync();
        await loop;

        Assert.True(onLoop);
        Assert.Equal(1, LoopGuard.Violations);
        Assert.Single(Errors);
    }
}
