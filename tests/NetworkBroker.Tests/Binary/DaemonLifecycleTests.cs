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
    public async Task A_daemon_without_capabilities_stops_on_SIGTERM_at_once()
    {
        // As an unprivileged user, with no CAP_NET_ADMIN: the kernel refuses the NOOP that wakes the netlink thread, which then
        // stays in its receive; stopping must not wait for it (it waited until systemd's TimeoutStopSec= killed it).
        var config = _dir.Write("network-broker.toml", "[System]\nGenerator = \"dhclient\"\n" +
            $"DHClientLeaseFile = \"{_dir.Combine("none", "x.leases")}\"\n");
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
        using var notify = new NotifySocket(_dir.Combine("notify.sock"));
        File.SetUnixFileMode(notify.Path, (UnixFileMode)0b110_110_110);
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path },
            prefix: ["setpriv", $"--reuid={AsUser.DaemonName}", $"--regid={AsUser.DaemonName}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"],
            prepareRuntime: runtime => File.SetUnixFileMode(runtime, (UnixFileMode)0b111_111_111));
        Assert.StartsWith("READY=1", await notify.NextAsync(60));
        Assert.Contains("Running without CAP_NET_ADMIN", broker.StandardError);

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("Stopped", broker.StandardError);
    }

    [Fact]
    public async Task A_daemon_started_as_nobody_refuses_to_run()
    {
        // A unit's User=nobody: every process running as nobody would share what the daemon trusts.
        var config = _dir.Write("network-broker.toml", "[System]\nGenerator = \"dhclient\"\n" +
            $"DHClientLeaseFile = \"{_dir.Combine("none", "x.leases")}\"\n");
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
        using var broker = BrokerBinary.Start(["--config", config],
            prefix: ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"],
            prepareRuntime: runtime => File.SetUnixFileMode(runtime, (UnixFileMode)0b111_111_111));
        Assert.Equal(78, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Not starting as nobody (uid 65534)", broker.StandardError);
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
        Assert.Matches(@"\nSTATUS=Watching \d+ links \(\d+ selected\); 0 rules, 0 routes managed; 0 scripts run, 0 failed$", message);
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

    [Fact]
    public async Task A_second_daemon_on_the_same_control_socket_refuses_to_start_and_a_stale_socket_is_taken_over()
    {
        var config = _dir.Write("network-broker.toml", "[System]\nGenerator = \"dhclient\"\nUser = \"root\"\n");
        var runtime = _dir.Combine("run");
        Directory.CreateDirectory(runtime);
        var socket = Path.Combine(runtime, "control");
        // What a daemon killed with SIGKILL leaves behind: a socket file nobody listens on.
        StaleSocket.Leave(socket);
        Assert.True(File.Exists(socket));

        var environment = new Dictionary<string, string> { ["RUNTIME_DIRECTORY"] = runtime };
        using var first = BrokerBinary.Start(["--config", config], environment);
        await WaitForAsync(() => first.StandardError.Contains("Kernel:"));
        var (code, stdout, _) = await RunAsync(["status", "--config", config], environment);
        Assert.Equal(0, code);
        Assert.Contains($"running: pid {first.Pid}, network-broker", stdout);

        using var second = BrokerBinary.Start(["--config", config], environment);
        Assert.Equal(1, await second.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"another network-broker is running: {socket} answers", second.StandardError);

        first.Signal(15);
        Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(File.Exists(socket), "the socket is removed at stop");
        (code, stdout, _) = await RunAsync(["status", "--config", config], environment);
        Assert.Contains($"Daemon\n  the daemon is not running (nobody listens on {socket})", stdout);
        Assert.Equal(3, code); // as systemctl status: not running
    }

    private static async Task<(int, string, string)> RunAsync(string[] args, Dictionary<string, string> environment)
    {
        using var client = BrokerBinary.Start(args, environment);
        var code = await client.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, client.StandardOutput, client.StandardError);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition() && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.True(condition());
    }

    /// <summary>Binds a Unix socket and closes it without unlinking (what .NET's Socket would do on Dispose).</summary>
    private static unsafe class StaleSocket
    {
        [System.Runtime.InteropServices.DllImport("libc.so.6")]
        private static extern int socket(int domain, int type, int protocol);

        [System.Runtime.InteropServices.DllImport("libc.so.6")]
        private static extern int bind(int fd, byte* address, int length);

        [System.Runtime.InteropServices.DllImport("libc.so.6")]
        private static extern int close(int fd);

        public static void Leave(string path)
        {
            var address = new byte[110];
            address[0] = 1; // AF_UNIX, little-endian sa_family_t
            System.Text.Encoding.UTF8.GetBytes(path).CopyTo(address, 2);
            var fd = socket(1, 1, 0);
            fixed (byte* pointer = address)
                Assert.Equal(0, bind(fd, pointer, address.Length));
            close(fd);
        }
    }

    [Fact]
    public async Task USR1_logs_a_state_dump_and_USR2_and_PIPE_do_not_end_the_daemon()
    {
        var config = _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\nGenerator = \"dhclient\"\n" +
            $"DHClientLeaseFile = \"{_dir.Combine("none", "x.leases")}\"\n");
        using var notify = new NotifySocket(_dir.Combine("notify.sock"));
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path });
        Assert.StartsWith("READY=1", await notify.NextAsync(60));

        broker.Signal(10); // SIGUSR1
        broker.Signal(12); // SIGUSR2
        broker.Signal(13); // SIGPIPE
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!broker.StandardError.Contains("lo: SIGUSR1: ") && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.Contains("SIGUSR1: Watching ", broker.StandardError);
        Assert.Contains("lo: SIGUSR1: not known to networkd", broker.StandardError);
        Assert.False(broker.HasExited);

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Once_the_start_has_quieted_the_binary_is_unmapped_and_mapped_again_page_by_page()
    {
        // Under `dotnet exec` the executable mapped is the host's, not the daemon's code.
        Assert.False(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NETWORK_BROKER_BIN")), "needs the native binary (make test sets NETWORK_BROKER_BIN)");
        var config = _dir.Write("network-broker.toml", "[System]\nLogLevel = \"debug\"\nUser = \"root\"\nGenerator = \"dhclient\"\n" +
            $"DHClientLeaseFile = \"{_dir.Combine("none", "x.leases")}\"\n");
        using var notify = new NotifySocket(_dir.Combine("notify.sock"));
        using var broker = BrokerBinary.Start(["--config", config], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path });
        Assert.StartsWith("READY=1", await notify.NextAsync(60));
        var started = BinaryMappings(broker.Pid);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!broker.StandardError.Contains("read-only mappings") && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        var quiet = BinaryMappings(broker.Pid);

        Assert.Matches(@": the start has quieted; unmapped [1-9]\d* read-only mappings \(\d+ KiB\)", broker.StandardError);
        // One mapping per page: a fault maps the page it touches, not the 64 KiB around it.
        Assert.True(quiet.Count > 10 * started.Count, $"{started.Count} mappings at READY, {quiet.Count} once quiet");
        Assert.True(quiet.ResidentKiB < started.ResidentKiB, $"{started.ResidentKiB} KiB resident at READY, {quiet.ResidentKiB} KiB once quiet");
        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>The mappings of the daemon's executable in /proc/PID/smaps, and their resident KiB.</summary>
    private static (int Count, long ResidentKiB) BinaryMappings(int pid)
    {
        var executable = File.ResolveLinkTarget($"/proc/{pid}/exe", false)!.FullName;
        var count = 0;
        long resident = 0;
        var inside = false;
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            // A mapping's header: "start-end perms offset dev inode [path]"; then its fields ("Rss:  48 kB").
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-') && !fields[0].EndsWith(':'))
            {
                inside = fields.Length == 6 && fields[5].Trim() == executable;
                if (inside)
                    count++;
            }
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
                resident += long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim());
        }
        return (count, resident);
    }
}
