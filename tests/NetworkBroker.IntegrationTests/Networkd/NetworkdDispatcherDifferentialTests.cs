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

    private sealed record Run(string Daemon, string Parent, string Iface, string State, string Addr, string IpAddrs, string Ip6Addrs, string Time)
    {
        public (string, string, string) Addresses => (Addr, IpAddrs, Ip6Addrs);

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
            // eth2, a DHCP client of dnsmasq running on its peer end.
            s.Peer.Ip("link add veth2 type veth peer name eth2");
            s.Peer.Ip($"link set eth2 netns {s.Node.Name}");
            s.Peer.Ip("addr add 10.234.0.1/24 dev veth2");
            s.Peer.Ip("link set veth2 up");
            s.WriteNodeNetwork("20-eth2.network", DhcpLink);
            dnsmasq = StartDnsmasq(s, tree.Combine("dnsmasq.leases"));
        });
        try
        {
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
            var before = Lines(record).Length;

            for (var round = 0; round < Rounds; round++)
            {
                sandbox.Peer.Ip("link set veth0 down");
                sandbox.Peer.Ip("link set veth2 down");
                // Wait for networkd to drop the addresses too: a quick return can leave networkd 252 at "carrier".
                await WaitForLinks(sandbox, "OPER_STATE=no-carrier", "IPV4_ADDRESS_STATE=off", 30, eth1, eth2);
                sandbox.Peer.Ip("link set veth0 up");
                sandbox.Peer.Ip("link set veth2 up");
                await WaitForLinks(sandbox, "OPER_STATE=routable", "ADMIN_STATE=configured", 30, eth1, eth2);
            }
            // Both have run everything once the record has been still for 2 s.
            var last = -1;
            while (last != Lines(record).Length)
            {
                last = Lines(record).Length;
                await Task.Delay(2000);
            }

            var runs = Lines(record)[before..].Select(Parse).ToList();
            Assert.DoesNotContain(runs, r => r.Daemon == "unknown");
            Assert.All(runs.Where(r => r.Daemon == "network-broker"), r => Assert.Equal("network-broker", r.Parent));
            Assert.All(runs.Where(r => r.Daemon == "networkd-dispatcher"), r => Assert.StartsWith("networkd-dispat", r.Parent));
            Assert.All(runs, r => Assert.NotEqual("", r.Iface));

            // The broker's values as of each event, checked against networkd's meaning of the state and not against
            // networkd-dispatcher: configured has every address networkd was told to set (in networkctl's order), and
            // routable has a routable one. A broker one event behind would fail here even where the comparison
            // below took its values for a late read.
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

            var (missing, disagreements, matched, late) = (new List<string>(), new List<string>(), 0, 0);
            foreach (var link in new[] { "eth1", "eth2" })
            {
                var ours = runs.Where(r => r.Daemon == "network-broker" && r.Iface == link).ToList();
                var theirs = runs.Where(r => r.Daemon == "networkd-dispatcher" && r.Iface == link).ToList();
                output.WriteLine($"{link}: networkd-dispatcher ran {theirs.Count} transitions, network-broker {ours.Count}");
                // The networkd-dispatcher run is not vacuous: every round went down and came back for it as well.
                Assert.True(theirs.Count(r => r.State == "no-carrier") >= Rounds && theirs.Count(r => r.State == "routable") >= Rounds,
                    $"{link}: networkd-dispatcher ran only {string.Join(", ", theirs.Select(r => r.State))}");
                var (next, paired) = (0, new HashSet<int>());
                foreach (var run in theirs)
                {
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
                    // networkd-dispatcher asks networkctl after the signal: what it read may be the link as a later
                    // transition left it. The broker's variables are the link as of the event.
                    if (ours.Skip(at + 1).Any(r => r.Addresses == run.Addresses))
                    {
                        late++;
                        output.WriteLine($"  late read by networkd-dispatcher: {link} {run.State}: it saw {run}, the event had {ours[at]}");
                    }
                    else
                    {
                        disagreements.Add($"{link}: networkd-dispatcher {run}, network-broker {ours[at]}");
                    }
                }
                foreach (var extra in ours.Where((_, i) => !paired.Contains(i)))
                    output.WriteLine($"  network-broker only: {link} {extra}");
            }
            output.WriteLine($"matched {matched}, late reads by networkd-dispatcher {late}, disagreements {disagreements.Count}, missed by network-broker {missing.Count}");
            Assert.True(missing.Count == 0, "network-broker did not run:\n" + string.Join('\n', missing) + "\n" + Log(broker, dispatcherLog));
            Assert.True(disagreements.Count == 0, "variables differ:\n" + string.Join('\n', disagreements));
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
