using NetworkBroker.Hosting;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Hosting;

public class ComponentHostTests
{
    private readonly MemoryLog _log = new();
    private readonly List<string> _calls = [];

    private DelegateComponent Recording(string name, bool failStart = false, bool failStop = false, Task? ready = null) => new(name)
    {
        OnStart = _ =>
        {
            _calls.Add($"start {name}");
            return failStart ? throw new InvalidOperationException($"{name} cannot start") : Task.CompletedTask;
        },
        WhenReady = () => ready ?? Task.CompletedTask,
        OnStopping = () => _calls.Add($"stopping {name}"),
        OnStop = () =>
        {
            _calls.Add($"stop {name}");
            return failStop ? throw new InvalidOperationException($"{name} cannot stop") : Task.CompletedTask;
        },
        OnReload = _ =>
        {
            _calls.Add($"reload {name}");
            return Task.CompletedTask;
        },
    };

    [Fact]
    public async Task Components_start_in_order_and_stop_in_reverse_each_told_of_stopping_before_any_stops()
    {
        var host = new ComponentHost(_log.Logger);
        host.Add(Recording("a"));
        host.Add(Recording("b"));
        host.Add(Recording("c"));
        await host.StartAsync(CancellationToken.None);
        await host.ReloadAsync(new NetworkBroker.Configuration.BrokerConfiguration());
        await host.StopAsync();
        await host.StopAsync(); // once only
        Assert.Equal(["start a", "start b", "start c", "reload a", "reload b", "reload c",
            "stopping c", "stopping b", "stopping a", "stop c", "stop b", "stop a"], _calls);
    }

    [Fact]
    public async Task A_component_that_fails_to_start_stops_those_before_it_and_the_error_reaches_the_caller()
    {
        var host = new ComponentHost(_log.Logger);
        host.Add(Recording("a"));
        host.Add(Recording("b", failStart: true));
        host.Add(Recording("c"));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(CancellationToken.None));
        Assert.Equal("b cannot start", error.Message);
        Assert.Equal(["start a", "start b", "stopping a", "stop a"], _calls);
    }

    [Fact]
    public async Task A_component_that_fails_to_stop_does_not_keep_the_others_from_stopping()
    {
        var host = new ComponentHost(_log.Logger);
        host.Add(Recording("a"));
        host.Add(Recording("b", failStop: true));
        await host.StartAsync(CancellationToken.None);
        await host.StopAsync();
        Assert.Equal(["start a", "start b", "stopping b", "stopping a", "stop b", "stop a"], _calls);
        Assert.Contains(_log.Lines, l => l.Contains("Stopping b failed: b cannot stop"));
    }

    [Fact]
    public async Task Ready_waits_for_every_component_and_names_the_late_ones_when_it_gives_up()
    {
        var late = new TaskCompletionSource();
        var host = new ComponentHost(_log.Logger);
        host.Add(Recording("kernel"));
        host.Add(Recording("networkd", ready: late.Task));
        await host.StartAsync(CancellationToken.None);
        Assert.False(await host.WaitReadyAsync(TimeSpan.FromMilliseconds(50)));
        Assert.Contains(_log.Lines, l => l.Contains("Not ready after 0 s: networkd; reporting ready anyway, they keep trying"));

        late.SetResult();
        Assert.True(await host.WaitReadyAsync(TimeSpan.FromSeconds(30)));
    }
}
