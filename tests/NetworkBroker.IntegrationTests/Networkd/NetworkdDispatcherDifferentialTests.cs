using System.Diagnostics;
using System.Globalization;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;
using Xunit.Abstractions;

namespace NetworkBroker.IntegrationTests.Networkd;

/// <summary>
/// Debian's networkd-dispatcher (the real Python program) and the network-broker binary side by side on one real
/// systemd-networkd, over one script tree (root-owned, 0755, as networkd-dispatcher insists): every run
/// networkd-dispatcher makes, network-broker makes too, with the same networkd-dispatcher variables.
/// </summary>
public class NetworkdDispatcherDifferentialTests(ITestOutputHelper output)
{
    /// <summary>Two IPv4 and two IPv6 addresses, each pair written in the order opposite to networkctl's (sorted).</summary>
    private const string StaticLink = "[Match]\nName=eth1\n[Network]\nAddress=10.231.1.2/24\nAddress=10.231.0.2/24\n" +
        "Address=fd00:231::9/64\nAddress=fd00:231::2/64\nGateway=10.231.0.1\nIPv6AcceptRA=no\n";

    private const string DhcpLink = "[Match]\nName=eth2\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n";

    /// <summary>Every state networkd-dispatcher knows (its ADMIN_STATES and OPER_STATES) and the broker's.</summary>
    private static readonly string[] States = [.. NetworkdScripts.States.Append("missing").Distinct()];

    private const string Marker = "NBT_NETWORKD_DISPATCHER";
    private const int Rounds = 4;

    /// <summary>How much later than a change ip may stamp it (it reads the kernel's notification after the change).</summary>
    private const double Slack = 0.01;

    private sealed record Run(string Daemon, string Parent, string Iface, string State, string Addr, string IpAddrs, string Ip6Addrs, string Time)
    {
        public (string, string, string) Addresses => (Addr, IpAddrs, Ip6Addrs);

        public double Seconds => double.Parse(Time, CultureInfo.InvariantCulture);

        public override string ToString() => $"{State} ADDR={Addr} IP_ADDRS=\"{IpAddrs}\" IP6_ADDRS=\"{Ip6Addrs}\" at {Time}";
    }

    [Fact]
    public async Task Network_broker_runs_every_transition_networkd_dispatcher_runs_with_the_same_variables()
    {
        Process? dnsmasq = null;
        Process? dispatcher = null;
        var dispatcherLog = new List<string>();
        using var tree = new TempDirectory();
        using var sandbox = new NetworkdSandbox(StaticLink, prepare: s =>
        {
            // eth2, a DHCP client of dnsmasq on its peer end (started below: networkd's client keeps asking).
            s.Peer.Ip("link add veth2 type veth peer name eth2");
            s.Peer.Ip($"link set eth2 netns {s.Node.Name}");
            s.Peer.Ip("addr add 10.234.0.1/24 dev veth2");
            s.Peer.Ip("link set veth2 up");
            s.WriteNodeNetwork("20-eth2.network", DhcpLink);
        });
        try
        {
            dnsmasq = StartDnsmasq(sandbox, tree.Combine("dnsmasq.leases"));
            var record = tree.Combine("record");
            var scripts = tree.Combine("scripts");
            Directory.CreateDirectory(scripts, (UnixFileMode)0b111_101_101);
            foreach (var state in States)
            {
                var directory = Path.Combine(scripts, state + ".d");
                Directory.CreateDirectory(directory, (UnixFileMode)0b111_101_101);
                var hook = Path.Combine(directory, "50-record");
                // The daemon that ran it: LINKINDEX is the broker's own variable, the marker is in networkd-dispatcher's
                // environment (which it passes on); the parent's name is recorded as a second witness.
                File.WriteAllText(hook, $"""
                    #!/bin/sh
                    if [ -n "$LINKINDEX" ] && [ -z "${Marker}" ]; then who=network-broker
                    elif [ -z "$LINKINDEX" ] && [ -n "${Marker}" ]; then who=networkd-dispatcher
                    else who=unknown; fi
                    printf '%s|%s|%s|%s|%s|%s|%s|%s\n' "$who" "$(cat /proc/$PPID/comm)" "$IFACE" "$STATE" "$ADDR" "$IP_ADDRS" "$IP6_ADDRS" "$(date +%s.%N)" >> {record}

                    """);
                File.SetUnixFileMode(hook, (UnixFileMode)0b111_101_101);
            }

            var eth1 = sandbox.Node.IfIndex("eth1");
            var eth2 = sandbox.Node.IfIndex("eth2");
            await WaitForLinks(sandbox, "OPER_STATE=routable", "ADMIN_STATE=configured", 60, eth1, eth2);

            // Both daemons in networkd's namespaces (networkctl and the broker read its /run/systemd/netif), on its bus.
            string[] inNetworkd = ["nsenter", "-t", sandbox.NetworkdPid.ToString(CultureInfo.InvariantCulture), "-n", "-m"];
            var config = tree.Write("network-broker.toml", $"[System]\nUser = \"root\"\nScriptDirectories = \"{scripts}\"\n");
            using var brokerNotify = new NotifySocket(tree.Combine("broker-notify.sock"));
            using var broker = BrokerBinary.Start(["--config", config],
                new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address, ["NOTIFY_SOCKET"] = brokerNotify.Path },
                prefix: inNetworkd);
            using var dispatcherNotify = new NotifySocket(tree.Combine("dispatcher-notify.sock"));
            var info = new ProcessStartInfo(inNetworkd[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in inNetworkd.Skip(1).Concat(["networkd-dispatcher", "-v", "-S", scripts]))
                info.ArgumentList.Add(arg);
            info.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = sandbox.Bus.Address;
            info.Environment["NOTIFY_SOCKET"] = dispatcherNotify.Path;
            info.Environment[Marker] = "1";
            dispatcher = Process.Start(info)!;
            dispatcher.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (dispatcherLog) dispatcherLog.Add(e.Data); };
            dispatcher.OutputDataReceived += (_, _) => { };
            dispatcher.BeginErrorReadLine();
            dispatcher.BeginOutputReadLine();
            Assert.StartsWith("READY=1", await brokerNotify.NextAsync(60));
            Assert.StartsWith("READY=1", await dispatcherNotify.NextAsync(60));
            using var timeline = new AddressTimeline(sandbox.Node);
            var before = Lines(record).Length;
            var roundStarts = new List<double>();

            for (var round = 1; round <= Rounds; round++)
            {
                roundStarts.Add((DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds);
                sandbox.Peer.Ip("link set veth0 down");
                sandbox.Peer.Ip("link set veth2 down");
                // Wait for networkd to drop the addresses too: a quick return can leave networkd 252 at "carrier".
                await WaitForLinks(sandbox, "OPER_STATE=no-carrier", "IPV4_ADDRESS_STATE=off", 30, eth1, eth2);
                sandbox.Peer.Ip("link set veth0 up");
                sandbox.Peer.Ip("link set veth2 up");
                await WaitForLinks(sandbox, "OPER_STATE=routable", "ADMIN_STATE=configured", 30, eth1, eth2);
                // Both daemons done with the round before the next: what either reads late is then of this round.
                var done = round;
                await BrokerHarness.WaitForAsync(() =>
                {
                    var configured = Lines(record)[before..].Select(Parse).Where(r => r.State == "configured").ToList();
                    return new[] { "network-broker", "networkd-dispatcher" }.All(daemon =>
                        new[] { "eth1", "eth2" }.All(link => configured.Count(r => r.Daemon == daemon && r.Iface == link) >= done));
                });
            }
            await Task.Delay(500);

            var runs = Lines(record)[before..].Select(Parse).ToList();
            Assert.DoesNotContain(runs, r => r.Daemon == "unknown");
            // (The program is "dotnet" where NETWORK_BROKER_BIN does not name the native binary.)
            Assert.All(runs.Where(r => r.Daemon == "network-broker"), r => Assert.Contains(r.Parent, new[] { "network-broker", "dotnet" }));
            Assert.All(runs.Where(r => r.Daemon == "networkd-dispatcher"), r => Assert.StartsWith("networkd-dispat", r.Parent));
            Assert.All(runs, r => Assert.NotEqual("", r.Iface));

            var (missing, disagreements, matched, late, brokerLater) = (new List<string>(), new List<string>(), 0, 0, 0);
            foreach (var link in new[] { "eth1", "eth2" })
            {
                var ours = runs.Where(r => r.Daemon == "network-broker" && r.Iface == link).ToList();
                var theirs = runs.Where(r => r.Daemon == "networkd-dispatcher" && r.Iface == link).ToList();
                output.WriteLine($"{link}: networkd-dispatcher ran {theirs.Count} transitions, network-broker {ours.Count}");
                // Not vacuous: every round went down and came back for networkd-dispatcher as well.
                Assert.True(theirs.Count(r => r.State == "no-carrier") >= Rounds && theirs.Count(r => r.State == "routable") >= Rounds,
                    $"{link}: networkd-dispatcher ran only {string.Join(", ", theirs.Select(r => r.State))}");
                var (next, paired) = (0, new HashSet<int>());
                for (var i = 0; i < theirs.Count; i++)
                {
                    var run = theirs[i];
                    var at = ours.FindIndex(next, r => r.State == run.State);
                    if (at < 0)
                    {
                        missing.Add($"{link}: {run}");
                        continue;
                    }
                    matched++;
                    paired.Add(at);
                    next = at + 1;
                    if (run.Addresses == ours[at].Addresses)
                        continue;
                    // Each reads the link when it handles the signal: after this round's flap began and before its hook
                    // ran. Where the values differ, each must be a state the link was really in then (the kernel's record
                    // says); networkd-dispatcher read late where its state can have come after the broker's. The same
                    // addresses in another order, or another ADDR of them, is a discrepancy whatever the timing.
                    var from = roundStarts.Last(start => start <= Math.Min(run.Seconds, ours[at].Seconds));
                    var states = timeline.States(link, from, Math.Max(run.Seconds, ours[at].Seconds) + Slack);
                    var theirStates = Consistent(states, from, run);
                    var ourStates = Consistent(states, from, ours[at]);
                    if (!SameAddresses(run, ours[at]) && theirStates.Count > 0 && ourStates.Count > 0 && theirStates[^1] > ourStates[0])
                    {
                        late++;
                        output.WriteLine($"  late read by networkd-dispatcher: {link} {run.State}: it saw {run}, network-broker {ours[at]}");
                    }
                    else if (!SameAddresses(run, ours[at]) && theirStates.Count > 0 && ourStates.Count > 0)
                    {
                        brokerLater++;
                        output.WriteLine($"  network-broker read later than networkd-dispatcher: {link} {run.State}: it saw {ours[at]}, networkd-dispatcher {run}");
                    }
                    else
                    {
                        disagreements.Add($"{link}: networkd-dispatcher {run}, network-broker {ours[at]}; the link's addresses meanwhile: " +
                            string.Join(" / ", states.Select(s => $"{s.Start:F3} {string.Join(' ', s.State.IPv4.Concat(s.State.IPv6))}")));
                    }
                }
                foreach (var extra in ours.Where((_, i) => !paired.Contains(i)))
                    output.WriteLine($"  network-broker only: {link} {extra}");
            }
            output.WriteLine($"matched {matched}, late reads by networkd-dispatcher {late}, by network-broker {brokerLater}, " +
                $"disagreements {disagreements.Count}, missed by network-broker {missing.Count}");
            Assert.True(missing.Count == 0, "network-broker did not run:\n" + string.Join('\n', missing) + "\n" + Log(broker, dispatcherLog));
            Assert.True(disagreements.Count == 0, "variables differ:\n" + string.Join('\n', disagreements));

            // The broker's values checked against networkd's meaning of the state, not against networkd-dispatcher:
            // configured has every address networkd was told to set (in networkctl's order), routable a routable one.
            Assert.All(runs.Where(r => r.Daemon == "network-broker" && r.Iface == "eth1" && r.State == "configured"),
                r => Assert.Equal(("10.231.0.2", "10.231.0.2 10.231.1.2", "fd00:231::2 fd00:231::9"), r.Addresses));
            Assert.All(runs.Where(r => r.Daemon == "network-broker" && r.Iface == "eth2" && r.State == "configured"),
                r =>
                {
                    Assert.Matches(@"^10\.234\.0\.\d+$", r.IpAddrs);
                    Assert.Equal((r.IpAddrs, ""), (r.Addr, r.Ip6Addrs));
                });
            Assert.All(runs.Where(r => r.Daemon == "network-broker" && r.State == "routable"),
                r => Assert.NotEqual("", r.IpAddrs + r.Ip6Addrs));
        }
        finally
        {
            if (dispatcher is { HasExited: false })
                dispatcher.Kill(entireProcessTree: true);
            dispatcher?.Dispose();
            if (dnsmasq is { HasExited: false })
                dnsmasq.Kill();
            dnsmasq?.Dispose();
        }
    }

    /// <summary>A link's addresses at one moment (deprecated ones left out, as networkctl leaves them out).</summary>
    private sealed record AddressState(IReadOnlyList<string> IPv4, IReadOnlyList<string> IPv6)
    {
        /// <summary>Whether networkd-dispatcher, reading the link in this state, gives these values. The order is not
        /// compared here: where the values are compared with the broker's, it is.</summary>
        public bool Gives((string Addr, string IpAddrs, string Ip6Addrs) values)
        {
            static string[] Sorted(IEnumerable<string> addresses) => [.. addresses.Order(StringComparer.Ordinal)];
            var ipv4 = Sorted(IPv4.Where(a => !a.StartsWith("127.", StringComparison.Ordinal)));
            var ipv6 = Sorted(IPv6.Where(a => !a.StartsWith("fe80:", StringComparison.Ordinal)));
            var first = IPv4.Count > 0 ? IPv4 : IPv6;
            return Sorted(values.IpAddrs.Split(' ', StringSplitOptions.RemoveEmptyEntries)).SequenceEqual(ipv4)
                && Sorted(values.Ip6Addrs.Split(' ', StringSplitOptions.RemoveEmptyEntries)).SequenceEqual(ipv6)
                && (first.Count == 0 ? values.Addr == "" : first.Contains(values.Addr));
        }
    }

    /// <summary>
    /// The kernel's record of every address change in a namespace, apart from both daemons: <c>ip -ts -o monitor
    /// address</c>, each change stamped when ip read it, after a dump of the addresses there were.
    /// </summary>
    private sealed class AddressTimeline : IDisposable
    {
        private readonly Process _monitor;
        private readonly Dictionary<string, Dictionary<string, (bool IPv6, bool Deprecated)>> _initial = [];
        private readonly List<(double Time, bool Deleted, string Link, string Address, bool IPv6, bool Deprecated)> _changes = [];
        private const string ListeningMarker = "127.0.0.77";
        private readonly ManualResetEventSlim _listening = new();

        public AddressTimeline(NetworkNamespace ns)
        {
            var info = new ProcessStartInfo("ip", ["-n", ns.Name, "-ts", "-o", "monitor", "address"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            _monitor = Process.Start(info)!;
            _monitor.OutputDataReceived += (_, e) => Read(e.Data);
            _monitor.ErrorDataReceived += (_, _) => { };
            _monitor.BeginOutputReadLine();
            _monitor.BeginErrorReadLine();
            // ip has no word for "listening": a host-scope address on lo (no state of networkd's changes with it) comes
            // and goes until the monitor prints it.
            for (var attempt = 0; !_listening.IsSet; attempt++)
            {
                if (attempt == 100)
                    throw new TimeoutException("ip monitor never printed the marker address");
                ns.Ip($"addr add {ListeningMarker}/32 dev lo scope host");
                ns.Ip($"addr del {ListeningMarker}/32 dev lo");
                _listening.Wait(100);
            }
            foreach (var line in ns.Ip("-o addr show").Split('\n', StringSplitOptions.RemoveEmptyEntries))
                if (Parse(line) is { } address)
                    (_initial.TryGetValue(address.Link, out var set) ? set : _initial[address.Link] = [])[address.Address] = (address.IPv6, address.Deprecated);
        }

        private static (string Link, string Address, bool IPv6, bool Deprecated)? Parse(string line)
        {
            var words = line.Split('\\')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var at = Array.FindIndex(words, w => w is "inet" or "inet6");
            return at < 2 ? null : (words[at - 1], words[at + 1].Split('/')[0], words[at] == "inet6", words.Contains("deprecated"));
        }

        private void Read(string? line)
        {
            // [2026-12-01T03:26:19.135073] [Deleted ]3: eth1    inet 10.231.0.2/24 ... scope global eth1\ valid_lft ...
            if (line is null || !line.StartsWith('[') || Parse(line[(line.IndexOf(']') + 1)..]) is not { } address)
                return;
            if (address.Address == ListeningMarker)
            {
                _listening.Set();
                return;
            }
            var stamp = DateTime.ParseExact(line[1..line.IndexOf(']')], "yyyy-MM-ddTHH:mm:ss.ffffff", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal);
            var time = (stamp.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds;
            lock (_changes)
                _changes.Add((time, line.Contains("] Deleted ", StringComparison.Ordinal), address.Link, address.Address, address.IPv6, address.Deprecated));
        }

        /// <summary>Every state <paramref name="link"/> was in between the two times (epoch seconds), with when it began and ended.</summary>
        public List<(double Start, double Ends, AddressState State)> States(string link, double from, double to)
        {
            var addresses = new Dictionary<string, (bool IPv6, bool Deprecated)>(_initial.GetValueOrDefault(link) ?? []);
            AddressState Now() => new([.. addresses.Where(a => !a.Value.IPv6 && !a.Value.Deprecated).Select(a => a.Key)],
                [.. addresses.Where(a => a.Value.IPv6 && !a.Value.Deprecated).Select(a => a.Key)]);
            var states = new List<(double Start, double Ends, AddressState State)>();
            var since = double.NegativeInfinity;
            lock (_changes)
            {
                foreach (var change in _changes.Where(c => c.Link == link && c.Time <= to))
                {
                    if (change.Time >= from)
                        states.Add((since, change.Time, Now()));
                    if (change.Deleted)
                        addresses.Remove(change.Address);
                    else
                        addresses[change.Address] = (change.IPv6, change.Deprecated);
                    since = change.Time;
                }
            }
            states.Add((since, double.PositiveInfinity, Now()));
            return states;
        }

        public void Dispose()
        {
            if (!_monitor.HasExited)
                _monitor.Kill();
            _monitor.Dispose();
            _listening.Dispose();
        }
    }

    /// <summary>Which of the link's states (their indexes, in order) could have given a run its values: held between the
    /// round's start and the run's hook.</summary>
    private static List<int> Consistent(List<(double Start, double Ends, AddressState State)> states, double from, Run run) =>
        [.. states.Select((s, i) => (s, i)).Where(x => x.s.Start <= run.Seconds + Slack && x.s.Ends > from && x.s.State.Gives(run.Addresses)).Select(x => x.i)];

    private static bool SameAddresses(Run a, Run b)
    {
        static string Set(string list) => string.Join(' ', list.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        return Set(a.IpAddrs) == Set(b.IpAddrs) && Set(a.Ip6Addrs) == Set(b.Ip6Addrs);
    }

    private static Process StartDnsmasq(NetworkdSandbox sandbox, string leases)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "netns", "exec", sandbox.Peer.Name, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                     "--interface=veth2", "--bind-interfaces", "--dhcp-range=10.234.0.50,10.234.0.90,255.255.255.0,2m",
                     "--dhcp-option=option:router,10.234.0.1", $"--dhcp-leasefile={leases}" })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }

    /// <summary>Waits until networkd's state file of every link has both lines.</summary>
    private static async Task WaitForLinks(NetworkdSandbox sandbox, string first, string second, int seconds, params int[] links)
    {
        bool Has(int ifindex)
        {
            var path = Path.Combine(sandbox.NetifDirectory, "links", ifindex.ToString(CultureInfo.InvariantCulture));
            try
            {
                var lines = File.ReadAllLines(path);
                return lines.Contains(first) && lines.Contains(second);
            }
            catch (IOException)
            {
                return false;
            }
        }
        try
        {
            await BrokerHarness.WaitForAsync(() => links.All(Has), seconds);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"links {string.Join(", ", links)} not {first} and {second} after {seconds} s:\n" +
                string.Join('\n', sandbox.NetworkdLog));
        }
    }

    private static string[] Lines(string path) => File.Exists(path) ? File.ReadAllLines(path) : [];

    private static Run Parse(string line)
    {
        var f = line.Split('|');
        Assert.True(f.Length == 8, $"malformed record line: {line}");
        return new Run(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
    }

    private static string Log(BrokerBinary broker, List<string> dispatcher)
    {
        lock (dispatcher)
            return $"network-broker's log:\n{broker.StandardError}\nnetworkd-dispatcher's log:\n{string.Join('\n', dispatcher)}";
    }
}
