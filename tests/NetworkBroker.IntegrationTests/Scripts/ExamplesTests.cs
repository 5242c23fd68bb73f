using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NetworkBroker.IntegrationTests.Packaging;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Scripts;

/// <summary>
/// Every hook shipped in examples/ (installed to /usr/share/doc/network-broker/examples/) runs as the daemon
/// runs it, through `network-broker run-scripts`, and does what its header says: a route really in the
/// namespace's table, the line really in journald, the web hook really posted, the command really called.
/// Commands that would reach outside the test (nsupdate, systemctl) are recorders placed first on the
/// scripts' fixed PATH (/usr/local/sbin) in a private mount namespace; the examples themselves run unchanged
/// or with only their settings block edited, as an admin would.
/// </summary>
public partial class ExamplesTests : IDisposable
{
    /// <summary>The examples covered below. A new example without a test here fails <see cref="Every_shipped_example_has_a_test_here"/>.</summary>
    private static readonly string[] Covered =
    [
        "routable.d/50-ddns-update",
        "routable.d/60-restart-vpn",
        "routable.d/40-secondary-route",
        "any.d/10-log-transition",
        "manager.d/50-online-notify",
    ];

    private readonly TempDirectory _dir = new();
    private readonly string _config;

    public ExamplesTests() => _config = _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");

    public void Dispose() => _dir.Dispose();

    private static string ExamplesDirectory => Path.Combine(DebianPackage.Repository, "examples");

    private static string Broker => Environment.GetEnvironmentVariable("NETWORK_BROKER_BIN") is { Length: > 0 } native
        ? native
        : $"dotnet exec {Path.Combine(AppContext.BaseDirectory, "network-broker.dll")}";

    public static IEnumerable<object[]> Examples => Shipped().Select(e => new object[] { e });

    private static IEnumerable<string> Shipped() =>
        Directory.EnumerateFiles(ExamplesDirectory, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(ExamplesDirectory, f)).Order(StringComparer.Ordinal);

    [Fact]
    public void Every_shipped_example_has_a_test_here()
    {
        Assert.Equal(Covered.Order(StringComparer.Ordinal), Shipped());
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void An_example_is_a_POSIX_sh_script_saying_where_it_goes_and_what_it_needs_and_reads_only_documented_variables(string example)
    {
        var path = Path.Combine(ExamplesDirectory, example);
        var text = File.ReadAllText(path);
        Assert.StartsWith("#!/bin/sh\n", text);
        Assert.Contains("\n# Goes in: ", text);
        Assert.Contains("\n# Needs: ", text);
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(path));
        // dash is Debian's /bin/sh and knows no bash extensions.
        Shell.Run("dash", "-n", path);

        var code = string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith('#')));
        var assigned = AssignedName().Matches(code).Select(m => m.Groups[1].Value)
            .Concat(LoopName().Matches(code).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);
        var documented = ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates).Concat(ScriptVariables.ProcessVariables);
        var foreign = UsedName().Matches(code).Select(m => m.Groups[1].Value)
            .Where(name => !assigned.Contains(name) && !documented.Contains(name)).Distinct().ToList();
        Assert.True(foreign.Count == 0, $"{example} reads variables the daemon never sets: {string.Join(", ", foreign)}");
        // The plain variables carry what a hook needs: nothing digs in the JSON.
        Assert.DoesNotContain("$JSON", code);
        Assert.DoesNotContain("${JSON", code);
    }

    [Fact]
    public void Ddns_update_sends_the_links_new_addresses_to_nsupdate_with_the_key()
    {
        Install("routable.d/50-ddns-update");
        var record = _dir.Combine("nsupdate.record");

        var output = InMountNamespace(Recorder("nsupdate", record),
            $"{Broker} run-scripts --config {_config} --link eth0 --state routable --env ADDR=192.0.2.10 --env 'IP6_ADDRS=2001:db8::10 2001:db8::11' 2>&1");

        Assert.Equal("""
            nsupdate -k /etc/network-broker/ddns.key
            server ns1.example.org
            update delete host.example.org. A
            update add host.example.org. 300 A 192.0.2.10
            update delete host.example.org. AAAA
            update add host.example.org. 300 AAAA 2001:db8::10
            send

            """, File.ReadAllText(record));
        Assert.Contains("host.example.org. now points at 192.0.2.10 2001:db8::10", output);
    }

    [Fact]
    public void Ddns_update_takes_dhclients_address_from_DHCP_LEASE_and_ignores_other_links()
    {
        Install("routable.d/50-ddns-update", ("DDNS_KEY", ""));
        var record = _dir.Combine("nsupdate.record");

        InMountNamespace(Recorder("nsupdate", record),
            $"{Broker} run-scripts --config {_config} --link eth1 --state routable --env ADDR=198.51.100.7 >/dev/null 2>&1\n" +
            // As a dhclient event: no ADDR (the kernel's address would otherwise be in it, as on a networkd run).
            $"{Broker} run-scripts --config {_config} --link eth0 --state routable --env ADDR= --env IP6_ADDRS= " +
            "--env 'DHCP_LEASE=ADDRESS=10.0.0.5,ROUTER=10.0.0.1,SUBNETMASK=255.255.255.0,DNS=10.0.0.53 10.0.0.54,DOMAIN=example.test' >/dev/null 2>&1");

        Assert.Equal("""
            nsupdate
            server ns1.example.org
            update delete host.example.org. A
            update add host.example.org. 300 A 10.0.0.5
            send

            """, File.ReadAllText(record));
    }

    [Fact]
    public void Ddns_update_fails_the_run_when_nsupdate_fails()
    {
        Install("routable.d/50-ddns-update");
        var output = InMountNamespace(Recorder("nsupdate", _dir.Combine("nsupdate.record"), exitStatus: 2),
            $"{Broker} run-scripts --config {_config} --link eth0 --state routable --env ADDR=192.0.2.10 2>&1; echo \"exit $?\"");
        Assert.Contains("nsupdate failed for host.example.org.", output);
        Assert.EndsWith("exit 1\n", output);
    }

    [Fact]
    public void Restart_vpn_restarts_the_unit_when_the_uplink_becomes_routable_and_only_then()
    {
        Install("routable.d/60-restart-vpn");
        var record = _dir.Combine("systemctl.record");

        var output = InMountNamespace(Recorder("systemctl", record),
            $"{Broker} run-scripts --config {_config} --link eth1 --state routable >/dev/null 2>&1\n" +
            $"{Broker} run-scripts --config {_config} --link eth0 --state routable 2>&1");

        Assert.Equal("systemctl try-restart wg-quick@wg0.service\n", File.ReadAllText(record));
        Assert.Contains("eth0 is routable: restarted wg-quick@wg0.service", output);
    }

    [Fact]
    public void Secondary_route_puts_the_route_in_the_table_of_a_real_namespace_and_one_rule_however_often_it_runs()
    {
        Install("routable.d/40-secondary-route");
        using var ns = NetworkNamespace.Create();
        ns.Ip("link add eth1 type veth peer name eth1-peer");
        ns.Ip("addr add 192.0.2.10/24 dev eth1");
        ns.Ip("link set eth1 up");
        ns.Ip("link set eth1-peer up");

        // Another link: nothing. The secondary link, twice: the same route, one rule.
        ns.Exec($"{Broker} run-scripts --config {_config} --link eth0 --state routable --env ADDR=192.0.2.10");
        Assert.DoesNotContain(JsonDocument.Parse(ns.Ip("-j route show table all")).RootElement.EnumerateArray(),
            r => r.TryGetProperty("table", out var table) && table.ToString() == "100");
        ns.Exec($"{Broker} run-scripts --config {_config} --link eth1 --state routable --env ADDR=192.0.2.10");
        ns.Exec($"{Broker} run-scripts --config {_config} --link eth1 --state routable --env ADDR=192.0.2.10");

        var route = Assert.Single(JsonDocument.Parse(ns.Ip("-j route show table 100")).RootElement.EnumerateArray());
        Assert.Equal("198.51.100.0/24", route.GetProperty("dst").GetString());
        Assert.Equal("192.0.2.1", route.GetProperty("gateway").GetString());
        Assert.Equal("eth1", route.GetProperty("dev").GetString());
        var rule = Assert.Single(JsonDocument.Parse(ns.Ip("-j rule show lookup 100")).RootElement.EnumerateArray());
        Assert.Equal("192.0.2.10", rule.GetProperty("src").GetString());
        // The kernel routes by it: a packet from the link's address to that network goes by the gateway on eth1.
        var lookup = ns.Ip("route get 198.51.100.9 from 192.0.2.10");
        Assert.Contains("via 192.0.2.1 dev eth1 table 100", lookup);
    }

    [Fact]
    public void Log_transition_writes_each_event_to_the_real_journal()
    {
        var state = Install("any.d/10-log-transition");
        Directory.CreateDirectory(_dir.Combine("routes.d"));
        File.Copy(state, _dir.Combine("routes.d", "10-log-transition"));
        File.SetUnixFileMode(_dir.Combine("routes.d", "10-log-transition"), (UnixFileMode)0b111_101_101);

        var script = $"""
            mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal /run/log && mount -t tmpfs tmpfs /run/log
            /lib/systemd/systemd-journald >/dev/null 2>&1 & journald=$!
            for i in $(seq 50); do [ -S /run/systemd/journal/dev-log ] && break; sleep 0.1; done
            # logger writes to /dev/log, which systemd makes a link to journald's socket; a machine without it gets one for the test.
            made=; if [ ! -e /dev/log ] && [ ! -L /dev/log ]; then ln -s /run/systemd/journal/dev-log /dev/log && made=1; fi
            {Broker} run-scripts --config {_config} --link eth0 --state routable --env OperationalState=routable --env AdministrativeState=configured --env OnlineState=online --env 'IP_ADDRS=192.0.2.10' --env 'IP6_ADDRS=2001:db8::10' >/dev/null 2>&1
            {Broker} run-scripts --config {_config} --link eth0 --state routes --env ROUTE_EVENT=add --env ROUTE_DST=0.0.0.0/0 --env ROUTE_GATEWAY=192.0.2.1 --env ROUTE_CHANGES=3 >/dev/null 2>&1
            for i in $(seq 100); do [ "$(journalctl -D /run/log/journal --no-pager -o cat -t network-transition | wc -l)" -ge 2 ] && break; sleep 0.1; done
            journalctl -D /run/log/journal --no-pager -o cat -t network-transition
            [ -n "$made" ] && rm -f /dev/log
            kill $journald
            """;
        var output = Shell.Run("timeout", "60", "unshare", "-m", "--propagation", "private", "sh", "-c", script);

        Assert.Equal(
        [
            "eth0: routable (operational routable, administrative configured, online online) addresses 192.0.2.10 2001:db8::10",
            "eth0: routes: 3 change(s), last add 0.0.0.0/0 via 192.0.2.1",
        ], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Online_notify_posts_to_the_web_hook_when_OnlineState_changed_and_fails_the_run_when_the_hook_refuses()
    {
        using var hook = new WebHook();
        Install("manager.d/50-online-notify", ("NOTIFY_URL", $"http://127.0.0.1:{hook.Port}/network"), ("NOTIFY_HOST", "db1"));

        // A manager change that leaves OnlineState alone posts nothing.
        var quiet = await BrokerBinary.RunAsync("run-scripts", "--config", _config, "--link", "host", "--state", "manager", "--env", "CarrierState=carrier");
        Assert.Equal(0, quiet.ExitCode);
        Assert.Empty(hook.Requests);

        var offline = await BrokerBinary.RunAsync("run-scripts", "--config", _config, "--link", "host", "--state", "manager", "--env", "OnlineState=offline");
        Assert.Equal(0, offline.ExitCode);
        var request = Assert.Single(hook.Requests);
        Assert.StartsWith("POST /network HTTP/1.1", request.Head);
        Assert.Equal("db1 is offline", request.Body);

        hook.Status = 500;
        var refused = await BrokerBinary.RunAsync("run-scripts", "--config", _config, "--link", "host", "--state", "manager", "--env", "OnlineState=online");
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal("db1 is online", hook.Requests[^1].Body);
        Assert.Contains($"could not post to http://127.0.0.1:{hook.Port}/network", refused.Stderr);
    }

    [Fact]
    public async Task Online_notify_posts_offline_then_online_when_the_real_networkd_loses_and_regains_the_hosts_only_uplink()
    {
        using var hook = new WebHook();
        using var sandbox = new NetworkdSandbox(Networkd.NetworkdScripts.StaticNetwork);
        await using var broker = await BrokerHarness.StartAsync(sandbox.Node, networkd: sandbox);
        broker.Directory.Script("manager", "50-online-notify",
            Configured("manager.d/50-online-notify", ("NOTIFY_URL", $"http://127.0.0.1:{hook.Port}/network"), ("NOTIFY_HOST", "db1")));
        var ifindex = sandbox.Node.IfIndex("eth1");
        await Networkd.NetworkdScripts.WaitForNetworkdState(broker, ifindex, "OnlineState", "online");
        await broker.IdleAsync();
        var before = hook.Requests.Count;

        sandbox.Carrier(false);
        await BrokerHarness.WaitForAsync(() => hook.Requests.Skip(before).Any(r => r.Body == "db1 is offline"));
        sandbox.Carrier(true);
        await BrokerHarness.WaitForAsync(() => hook.Requests.Skip(before).Any(r => r.Body == "db1 is online"));
        await broker.IdleAsync();

        // One post per change of the host's OnlineState, whatever else networkd's manager said meanwhile.
        Assert.Equal(["db1 is offline", "db1 is online"], hook.Requests.Skip(before).Select(r => r.Body));
    }

    /// <summary>An example's text, its settings block edited as an admin would.</summary>
    private static string Configured(string example, params (string Name, string Value)[] settings)
    {
        var text = File.ReadAllText(Path.Combine(ExamplesDirectory, example));
        foreach (var (name, value) in settings)
        {
            var line = new Regex($"(?m)^{name}=.*$");
            Assert.True(line.IsMatch(text), $"{example} has no setting {name}=");
            text = line.Replace(text, $"{name}={value}", 1);
        }
        return text;
    }

    /// <summary>Copies an example, configured, into this test's STATE.d; returns its path.</summary>
    private string Install(string example, params (string Name, string Value)[] settings)
    {
        var directory = Path.GetDirectoryName(example)!;
        var state = directory == "any.d" ? "routable" : directory[..^2];
        return _dir.Script(state, Path.GetFileName(example), Configured(example, settings));
    }

    /// <summary>A stand-in for COMMAND that appends its name, its arguments and its stdin to RECORD.</summary>
    private string Recorder(string command, string record, int exitStatus = 0)
    {
        var path = _dir.Write($"{command}.recorder", $"#!/bin/sh\necho \"{command}${{*:+ $*}}\" >> {record}\n" +
            (command == "nsupdate" ? $"cat >> {record}\n" : "") + $"exit {exitStatus}\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    /// <summary>Runs SCRIPT with RECORDER as the first command of its name on the scripts' PATH (/usr/local/sbin), in a private mount namespace.</summary>
    private static string InMountNamespace(string recorder, string script)
    {
        var command = Path.GetFileNameWithoutExtension(recorder);
        return Shell.Run("timeout", "60", "unshare", "-m", "--propagation", "private", "sh", "-c",
            $"mount -t tmpfs -o mode=0755 tmpfs /usr/local/sbin && cp {recorder} /usr/local/sbin/{command} && chmod 0755 /usr/local/sbin/{command}\n{script}");
    }

    [GeneratedRegex(@"(?:^|[\s;(""])([A-Za-z_][A-Za-z0-9_]*)=", RegexOptions.Multiline)]
    private static partial Regex AssignedName();

    [GeneratedRegex(@"\bfor ([A-Za-z_][A-Za-z0-9_]*) in\b")]
    private static partial Regex LoopName();

    [GeneratedRegex(@"\$\{?([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex UsedName();

    /// <summary>A web hook on the loopback: records each request and answers with <see cref="Status"/>.</summary>
    private sealed class WebHook : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<(string Head, string Body)> _requests = [];
        private readonly Task _serving;

        public WebHook()
        {
            _listener.Start();
            _serving = Task.Run(ServeAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Status { get; set; } = 200;

        public IReadOnlyList<(string Head, string Body)> Requests
        {
            get { lock (_requests) return _requests.ToList(); }
        }

        private async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync();
                    var stream = client.GetStream();
                    var received = new List<byte>();
                    var buffer = new byte[4096];
                    int headEnd;
                    while ((headEnd = IndexOfBlankLine(received)) < 0)
                    {
                        var n = await stream.ReadAsync(buffer);
                        if (n == 0)
                            break;
                        received.AddRange(buffer[..n]);
                    }
                    if (headEnd < 0)
                        continue;
                    var head = Encoding.ASCII.GetString(received.ToArray(), 0, headEnd);
                    var length = ContentLength().Match(head) is { Success: true } m ? int.Parse(m.Groups[1].Value) : 0;
                    while (received.Count < headEnd + 4 + length)
                    {
                        var n = await stream.ReadAsync(buffer);
                        if (n == 0)
                            break;
                        received.AddRange(buffer[..n]);
                    }
                    var body = Encoding.UTF8.GetString(received.ToArray(), headEnd + 4, Math.Min(length, received.Count - headEnd - 4));
                    lock (_requests)
                        _requests.Add((head, body));
                    var reply = Encoding.ASCII.GetBytes($"HTTP/1.1 {Status} {(Status == 200 ? "OK" : "Error")}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    await stream.WriteAsync(reply);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
            }
        }

        private static int IndexOfBlankLine(List<byte> bytes)
        {
            for (var i = 0; i + 3 < bytes.Count; i++)
                if (bytes[i] == '\r' && bytes[i + 1] == '\n' && bytes[i + 2] == '\r' && bytes[i + 3] == '\n')
                    return i;
            return -1;
        }

        public void Dispose()
        {
            _listener.Stop();
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
    }

    [GeneratedRegex(@"(?im)^Content-Length:\s*(\d+)")]
    private static partial Regex ContentLength();
}
