using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Binary;

public class DaemonLifecycleTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_daemon_creates_the_script_directories_and_stops_cleanly_on_SIGTERM()
    {
        var config = _dir.Write("network-broker.toml", "[System]\nLogLevel = \"debug\"\nUser = \"root\"\n");
        using var broker = BrokerBinary.Start(["--config", config]);

        var expected = new[] { "carrier", "configured", "degraded", "no-carrier", "routable", "manager", "routes" };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!expected.All(d => Directory.Exists(_dir.Combine(d + ".d"))) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.All(expected, d => Assert.True(Directory.Exists(_dir.Combine(d + ".d")), d + ".d"));
        Assert.All(expected, d => Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(_dir.Combine(d + ".d"))));

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Received SIGTERM", broker.StandardError);
    }

    [Fact]
    public async Task Ready_is_notified_to_systemd_once_the_sources_are_up()
    {
        using var notify = new NotifySocket(_dir.Combine("notify.sock"));
        // networkd's bus is absent: its first attempt fails, and the daemon is ready with the kernel watcher alone.
        var config = _dir.Write("network-broker.toml", "[System]\nGenerator = \"systemd-networkd\"\nUser = \"root\"\n");
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["DBUS_SYSTEM_BUS_ADDRESS"] = $"unix:path={_dir.Combine("no-bus.sock")}",
        });

        var message = await notify.NextAsync();

        Assert.StartsWith("READY=1\n", message);
        Assert.Contains("STATUS=Watching the kernel, systemd-networkd", message);
        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task With_WatchdogSec_the_daemon_pings_the_watchdog_while_its_loop_answers()
    {
        using var notify = new NotifySocket(_dir.Combine("watchdog.sock"));
        var config = _dir.Write("network-broker.toml", "[System]\nGenerator = \"dhclient\"\nUser = \"root\"\n");
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = "200000",
        });

        var pings = 0;
        while (pings < 3)
            if (await notify.NextAsync() == "WATCHDOG=1")
                pings++;
        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task An_invalid_configuration_stops_the_daemon_at_start_with_the_error()
    {
        var config = _dir.Write("network-broker.toml", "[System]\nGenerator = \"NetworkManager\"\n");
        using var broker = BrokerBinary.Start(["--config", config]);
        Assert.Equal(78, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"{config}:2: [System] Generator: unknown generator \"NetworkManager\"", broker.StandardError);
    }

    [Fact]
    public async Task The_environment_overrides_the_log_format()
    {
        var config = _dir.Write("network-broker.toml", "[System]\nLogFormat = \"text\"\nUser = \"root\"\n");
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NETWORK_EVENT_LOG_FORMAT"] = "json" });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!broker.StandardError.Contains("starting") && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        broker.Signal(15);
        await broker.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var first = broker.StandardError.Split('\n')[0];
        Assert.StartsWith("{\"time\":", first);
        Assert.Contains("\"level\":\"info\"", first);
    }
}
