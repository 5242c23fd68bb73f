using System.Collections.Concurrent;
using NetworkBroker.DBus;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.DBus;

/// <summary>Our D-Bus client against the real dbus-daemon, with sd-bus (busctl) and GLib (gdbus) as oracles.</summary>
public class DBusConnectionTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly PrivateBus _bus;

    public DBusConnectionTests() => _bus = new PrivateBus(_dir.Combine("bus"));

    public void Dispose()
    {
        _bus.Dispose();
        _dir.Dispose();
    }

    private readonly BlockingCollection<DBusMessage> _signals = [];

    private Task<DBusConnection> Connect() => DBusConnection.ConnectAsync(_bus.Address, _signals.Add);

    private DBusMessage NextSignal(string member)
    {
        while (_signals.TryTake(out var message, TimeSpan.FromSeconds(10)))
            if (message.Member == member)
                return message;
        throw new TimeoutException($"no {member} signal");
    }

    [Fact]
    public async Task Hello_gives_a_unique_name_the_bus_lists()
    {
        await using var connection = await Connect();
        Assert.StartsWith(":1.", connection.UniqueName);

        var reader = (await connection.CallAsync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"))
            .BodyReader("as");
        var names = (object[])reader.ReadValue("as");
        Assert.Contains("org.freedesktop.DBus", names);
        Assert.Contains(connection.UniqueName, names);
        Assert.Contains(connection.UniqueName, _bus.Run("busctl", "--system", "list", "--no-pager"));
    }

    [Fact]
    public async Task An_error_reply_becomes_an_exception_with_its_name_and_text()
    {
        await using var connection = await Connect();
        var e = await Assert.ThrowsAsync<DBusErrorException>(() =>
            connection.CallAsync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NoSuchMethod"));
        Assert.Equal("org.freedesktop.DBus.Error.UnknownMethod", e.Name);
        Assert.False(string.IsNullOrEmpty(e.Text));
    }

    [Fact]
    public async Task A_signal_emitted_by_sd_bus_is_read_with_its_dictionary_of_variants()
    {
        await using var connection = await Connect();
        await connection.AddMatchAsync(new DBusMatchRule
        {
            Type = DBusMessageType.Signal, Interface = "org.freedesktop.DBus.Properties", Member = "PropertiesChanged",
            PathNamespace = "/org/freedesktop/network1",
        });

        _bus.Run("busctl", "--system", "emit", "/org/freedesktop/network1/link/_35", "org.freedesktop.DBus.Properties", "PropertiesChanged",
            "sa{sv}as", "org.freedesktop.network1.Link", "3", "OperationalState", "s", "routable", "Flags", "u", "7", "Up", "b", "true", "1", "Invalidated");

        var signal = NextSignal("PropertiesChanged");
        Assert.Equal("/org/freedesktop/network1/link/_35", signal.Path);
        Assert.Equal("sa{sv}as", signal.Signature);
        var reader = signal.BodyReader();
        Assert.Equal("org.freedesktop.network1.Link", reader.ReadString());
        var changed = (Dictionary<object, object>)reader.ReadValue("a{sv}");
        Assert.Equal("routable", changed["OperationalState"]);
        Assert.Equal(7u, changed["Flags"]);
        Assert.Equal(true, changed["Up"]);
        Assert.Equal(new object[] { "Invalidated" }, reader.ReadValue("as"));
    }

    [Fact]
    public async Task Every_supported_type_written_by_us_passes_the_bus_validator_and_reads_back_the_same()
    {
        await using var sender = await Connect();
        await using var receiver = await Connect();
        await receiver.AddMatchAsync(new DBusMatchRule { Type = DBusMessageType.Signal, Interface = "org.test.Types" });

        const string signature = "ybnqiuxtdsogvayasa(iay)a(sb)a{sv}(sa{su})";
        object[] values =
        [
            (byte)200, true, (short)-2, (ushort)65000, -123456, 4000000000u, -9_000_000_000L, 18_000_000_000_000_000_000UL, 2.5,
            "text ü", "/org/test/x_31", "a{sv}", new DBusVariant("i", 42), new byte[] { 1, 2, 3 }, new[] { "a", "", "c" },
            new object[] { new object[] { 2, new byte[] { 192, 0, 2, 1 } }, new object[] { 10, new byte[16] } },
            new object[] { new object[] { "example.com", false }, new object[] { "corp", true } },
            new Dictionary<object, object> { ["x"] = new DBusVariant("s", "y"), ["n"] = new DBusVariant("u", 5u) },
            new object[] { "s", new Dictionary<object, object> { ["k"] = 1u } },
        ];
        // The bus parses and validates every message it routes: a marshalling mistake would be refused or garbled.
        await sender.EmitSignalAsync("/org/test", "org.test.Types", "All", signature, w =>
            {
                var rest = signature.AsSpan();
                foreach (var value in values)
                {
                    var length = DBusSignature.CompleteTypeLength(rest);
                    w.WriteValue(rest[..length], value);
                    rest = rest[length..];
                }
            });

        var reader = NextSignal("All").BodyReader();
        var read = new List<object>();
        var remaining = signature.AsSpan();
        while (!remaining.IsEmpty)
        {
            var length = DBusSignature.CompleteTypeLength(remaining);
            read.Add(reader.ReadValue(remaining[..length]));
            remaining = remaining[length..];
        }
        Assert.Equal(values[..12], read[..12]);
        Assert.Equal(42, read[12]);
        Assert.Equal(new byte[] { 1, 2, 3 }, read[13]);
        Assert.Equal(new object[] { "a", "", "c" }, read[14]);
        var servers = (object[])read[15];
        Assert.Equal(2, ((object[])servers[0])[0]);
        Assert.Equal(new byte[] { 192, 0, 2, 1 }, ((object[])servers[0])[1]);
        Assert.Equal(new object[] { "corp", true }, ((object[])read[16])[1]);
        Assert.Equal("y", ((Dictionary<object, object>)read[17])["x"]);
        Assert.Equal(1u, ((Dictionary<object, object>)((object[])read[18])[1])["k"]);
    }

    [Fact]
    public async Task GLib_reads_what_we_send()
    {
        await using var connection = await Connect();
        // gdbus monitor prints signals it receives in GVariant text format.
        var monitor = new System.Diagnostics.ProcessStartInfo("gdbus", ["monitor", "--system", "--dest", connection.UniqueName])
        { RedirectStandardOutput = true };
        monitor.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = _bus.Address;
        using var gdbus = System.Diagnostics.Process.Start(monitor)!;
        try
        {
            await Task.Delay(500);
            string? line = null;
            // One read at a time: a StreamReader refuses a second read while the first, which timed out here, still waits.
            Task<string?>? pending = null;
            for (var attempt = 0; attempt < 40 && line is null; attempt++)
            {
                await connection.EmitSignalAsync("/org/test", "org.test.Iface", "Changed", "sa{sv}", w =>
                {
                    w.WriteString("hello");
                    w.WriteValue("a{sv}", new Dictionary<object, object> { ["OperationalState"] = new DBusVariant("s", "routable") });
                });
                pending ??= gdbus.StandardOutput.ReadLineAsync();
                // Every line gdbus printed so far; then the next signal, if it has none left.
                while (line is null && pending is { } reading && await Task.WhenAny(reading, Task.Delay(500)) == reading)
                {
                    var read = await reading;
                    pending = read is null ? null : gdbus.StandardOutput.ReadLineAsync();
                    if (read?.Contains("Changed") == true)
                        line = read;
                }
            }
            Assert.NotNull(line);
            Assert.Contains("('hello', {'OperationalState': <'routable'>})", line);
        }
        finally
        {
            gdbus.Kill();
        }
    }

    [Fact]
    public async Task A_match_rule_quoting_an_apostrophe_and_a_comma_is_taken_by_the_bus_and_matches_only_that_value()
    {
        await using var sender = await Connect();
        await using var receiver = await Connect();
        const string value = @"it's, a \ value";
        await receiver.AddMatchAsync(new DBusMatchRule { Type = DBusMessageType.Signal, Interface = "org.test.Quote", Arg0 = value });

        // The near misses go first: had the bus matched any of them, it would come before the exact one.
        foreach (var arg0 in new[] { "it", "it's", @"it\'s, a \ value", "s, a \\ value", value })
            await sender.EmitSignalAsync("/org/test", "org.test.Quote", "Said", "s", w => w.WriteString(arg0));

        Assert.Equal(value, NextSignal("Said").BodyReader("s").ReadString());
        while (_signals.TryTake(out var more, TimeSpan.FromMilliseconds(300)))
            Assert.NotEqual("Said", more.Member);
    }

    [Fact]
    public async Task A_method_call_to_a_client_is_answered_UnknownMethod_not_left_to_time_out()
    {
        await using var client = await Connect();
        await using var caller = await Connect();
        var e = await Assert.ThrowsAsync<DBusErrorException>(() =>
            caller.CallAsync(client.UniqueName, "/org/test", "org.test.Iface", "Ping", timeout: TimeSpan.FromSeconds(10)));
        Assert.Equal("org.freedesktop.DBus.Error.UnknownMethod", e.Name);
        Assert.Contains("org.test.Iface.Ping", e.Text);
    }

    [Fact]
    public async Task When_the_bus_dies_pending_calls_fail_and_Closed_says_why()
    {
        var connection = await Connect();
        _bus.Kill();
        var reason = await connection.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.IsType<DBusConnectionException>(reason);
        await Assert.ThrowsAsync<DBusConnectionException>(() =>
            connection.CallAsync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"));
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task Connecting_to_a_missing_socket_is_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<DBusConnectionException>(() =>
            DBusConnection.ConnectAsync($"unix:path={_dir.Combine("nothing.sock")}", _ => { }));
        Assert.Contains("nothing.sock", e.Message);
        Assert.EndsWith("no such socket (is the bus running?)", e.Message);
    }

    [Fact]
    public async Task Giving_up_on_a_bus_that_accepts_but_never_answers_returns_at_once_and_a_signal_needs_no_pool_thread()
    {
        // A listener that never accepts: the kernel completes the connect from its backlog, and the exchange waits.
        using var silent = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
            System.Net.Sockets.ProtocolType.Unspecified);
        var path = _dir.Combine("silent.sock");
        silent.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        silent.Listen(4);
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var connecting = DBusConnection.ConnectAsync($"unix:path={path}", _ => { }, cancellation: giveUp.Token);
        // Not a measure of speed: the exchange's own timeout is 25 s, and the caller must not wait for it.
        Assert.True(await Task.WhenAny(connecting, Task.Delay(TimeSpan.FromSeconds(20))) == connecting, "the caller waited for the silent bus");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting);

        // Signals arrive on the connection's own reader, not on the runtime's socket engine and thread pool.
        var threads = new ConcurrentBag<string?>();
        await using var connection = await DBusConnection.ConnectAsync(_bus.Address, _ => threads.Add(Thread.CurrentThread.Name));
        await connection.AddMatchAsync(new DBusMatchRule { Type = DBusMessageType.Signal, Interface = "org.example.Test" });
        _bus.Run("busctl", "--system", "emit", "/org/example", "org.example.Test", "Ping");
        await BrokerHarness.WaitForAsync(() => !threads.IsEmpty, 10);
        Assert.Equal(["dbus-reader"], threads.Distinct());
    }
}
