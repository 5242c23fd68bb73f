using System.Net;
using NetworkBroker.Configuration;
using NetworkBroker.Core;
using NetworkBroker.Events;
using NetworkBroker.Netlink.Messages;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Kernel;

public class RoutesScriptsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MemoryLog _log = new(NetworkBroker.Logging.LogLevel.Warn);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_closed_window_queues_the_link_and_leaves_the_route_variables_to_the_script_thread()
    {
        var events = new List<ScriptEvent>();
        await using var scripts = new ScriptDispatcher(new ScriptRunner(new ScriptRunnerOptions
        {
            ScriptRoot = _dir.Path, SpillDirectory = _dir.Combine("spill"),
        }, _log.Logger), _log.Logger);
        scripts.Enqueued += e => { lock (events) events.Add(e); };
        var windows = new List<int>();
        var routes = new RoutesScripts(() => new BrokerConfiguration { Path = _dir.Combine("x.toml") }, scripts, (index, _) => windows.Add(index));
        var eth1 = new LinkMessage { Index = 3, Name = "eth1" };
        LinkMessage? Link(int index) => index == 3 ? eth1 : null;

        routes.Observe(new RouteAdded("eth1", Route("198.51.100.0")), Link);
        routes.Observe(new RouteRemoved("eth1", Route("198.51.101.0")), Link);
        Assert.Equal([3], windows);
        routes.Close(3, Link);
        await scripts.WhenIdle();

        var queued = Assert.Single(events);
        Assert.Equal(("routes", "eth1", 3), (queued.State, queued.Link, queued.IfIndex));
        // Formatted only if routes.d has something to run; here there is no routes.d at all.
        Assert.Equal(["LINK", "LINKINDEX", "STATE"], queued.Environment.Select(v => v.Key));
        Assert.NotNull(queued.Deferred);
        Assert.False(queued.Deferred!.IsValueCreated);
        Assert.Equal("add 198.51.100.0/24 via 192.0.2.1 table 254 proto static\ndel 198.51.101.0/24 via 192.0.2.1 table 254 proto static",
            queued.Deferred.Value.Single(v => v.Key == "ROUTES").Value);
        Assert.Equal("del", queued.Deferred.Value.Single(v => v.Key == "ROUTE_EVENT").Value);
    }

    private static RouteMessage Route(string destination) => new()
    {
        Family = 2, Destination = IPAddress.Parse(destination), DestinationLength = 24, Table = 254, Protocol = 4,
        Gateway = IPAddress.Parse("192.0.2.1"), OutputIndex = 3,
    };
}
