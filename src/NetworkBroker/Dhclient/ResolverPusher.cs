using System.Net;
using System.Threading.Channels;
using NetworkBroker.Core;
using NetworkBroker.DBus;
using NetworkBroker.Logging;

namespace NetworkBroker.Dhclient;

/// <summary>What the broker tells systemd-resolved and systemd-hostnamed about a DHCP lease.</summary>
public interface IResolverPusher
{
    void SetLinkDns(string link, int ifindex, IReadOnlyList<IPAddress> servers);
    void SetLinkDomains(string link, int ifindex, IReadOnlyList<string> domains);
    void RevertLink(string link, int ifindex);
    /// <summary>The transient host name.</summary>
    void SetHostname(string link, string hostname);
    /// <summary>
    /// Resets the transient host name (hostnamed goes back to the static or default name), if hostnamed's name is still
    /// <paramref name="ours"/>: one set since by someone else is left alone.
    /// </summary>
    void ResetHostname(string link, string ours);
}

/// <summary>
/// Calls org.freedesktop.resolve1 and org.freedesktop.hostname1 over the system bus, one call at a time in
/// the order asked, on a connection of its own made when first needed and again after it is lost. Of the calls
/// still waiting, only the latest of each kind for each link is kept (a newer one goes to the end of the queue,
/// the older one is dropped): what resolved ends up with is the same, and a resolved that hangs while a server
/// changes its lease every second costs a few calls per link, not a queue that grows for as long. A call
/// that fails is logged with the link and dropped: the next lease change sends the state again (an empty list too). resolved
/// and hostnamed ask polkit about a caller that is not root: a refusal names the action and the fix (the
/// package's polkit rule, read only where polkitd is installed), and every failure is counted.
/// </summary>
public sealed class ResolverPusher(string busAddress, Logger log) : IResolverPusher, IAsyncDisposable
{
    private const int AF_INET = 2, AF_INET6 = 10;
    private const string Resolve1 = "org.freedesktop.resolve1", Hostname1 = "org.freedesktop.hostname1";
    /// <summary>The rule the package installs: it grants the daemon's user the four actions below.</summary>
    public const string PolkitRule = "/usr/share/polkit-1/rules.d/50-network-broker.rules";
    private readonly LatestPerKey<(int IfIndex, string Kind), Call> _calls = new();
    private volatile bool _abandoned;

    /// <summary>How long the calls still waiting at stop may take, in all: a hung resolved must not hold the stop for minutes.</summary>
    public static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(10);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });

    private sealed record Call(string Link, string What, string Service, string Action, Func<DBusConnection, string, Task> Run);
    private Task? _worker;
    private DBusConnection? _connection;
    private long _pushes, _failed;

    /// <summary>Calls made, and of those the ones that failed (refused, or no answer), since start.</summary>
    public (long Pushes, long Failed) Statistics => (Interlocked.Read(ref _pushes), Interlocked.Read(ref _failed));

    /// <summary>After each call: the link, what was pushed, and the error (null when it went through). For the monitor.</summary>
    public event Action<string, string, string?>? Pushed;

    public void SetLinkDns(string link, int ifindex, IReadOnlyList<IPAddress> servers) =>
        Enqueue(link, ifindex, "SetLinkDNS", servers.Count == 0 ? "no DNS servers" : $"DNS servers {PeerText.List([.. servers.Select(s => s.ToString())])}", Resolve1, "org.freedesktop.resolve1.set-dns-servers", (c, owner) => c.CallAsync(owner, "/org/freedesktop/resolve1",
            "org.freedesktop.resolve1.Manager", "SetLinkDNS", "ia(iay)", w =>
            {
                w.WriteInt32(ifindex);
                var array = w.BeginArray('(');
                foreach (var server in servers)
                {
                    w.AlignStruct();
                    w.WriteInt32(server.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET);
                    w.WriteByteArray(server.GetAddressBytes());
                }
                w.EndArray(array);
            }));

    public void SetLinkDomains(string link, int ifindex, IReadOnlyList<string> domains) =>
        Enqueue(link, ifindex, "SetLinkDomains", domains.Count == 0 ? "no domains" : $"domains {PeerText.List(domains)}", Resolve1, "org.freedesktop.resolve1.set-domains", (c, owner) => c.CallAsync(owner, "/org/freedesktop/resolve1",
            "org.freedesktop.resolve1.Manager", "SetLinkDomains", "ia(sb)", w =>
            {
                w.WriteInt32(ifindex);
                var array = w.BeginArray('(');
                foreach (var domain in domains)
                {
                    w.AlignStruct();
                    w.WriteString(domain);
                    // false: a search domain, not a routing-only one (the Go network-event-broker sent true, which made them routing-only).
                    w.WriteBoolean(false);
                }
                w.EndArray(array);
            }));

    public void RevertLink(string link, int ifindex) =>
        Enqueue(link, ifindex, "RevertLink", "revert", Resolve1, "org.freedesktop.resolve1.revert", (c, owner) => c.CallAsync(owner, "/org/freedesktop/resolve1",
            "org.freedesktop.resolve1.Manager", "RevertLink", "i", w => w.WriteInt32(ifindex)));

    public void SetHostname(string link, string hostname) =>
        // One host name for the machine, whichever link's lease gave it: the latest wins across links.
        Enqueue(link, 0, "SetHostname", $"transient host name {hostname}", Hostname1, "org.freedesktop.hostname1.set-hostname", async (c, owner) =>
        {
            await c.CallAsync(owner, "/org/freedesktop/hostname1", "org.freedesktop.hostname1", "SetHostname", "sb", w =>
            {
                w.WriteString(hostname);
                w.WriteBoolean(false); // not interactive: never wait for a polkit prompt
            }).ConfigureAwait(false);
            // hostnamed accepts the call either way, but a static name (/etc/hostname) wins over the transient one,
            // which is then not even kept: say so rather than report a name that is not in force.
            var reply = await c.CallAsync(owner, "/org/freedesktop/hostname1", "org.freedesktop.DBus.Properties", "Get", "ss", w =>
            {
                w.WriteString("org.freedesktop.hostname1");
                w.WriteString("StaticHostname");
            }).ConfigureAwait(false);
            if (StringProperty(reply) is { Length: > 0 } name && name != hostname)
                log.ForLink(link).Warn($"dhclient: the transient host name {hostname} does not apply: systemd-hostnamed keeps the static " +
                                       $"name \"{PeerText.Excerpt(name)}\" (/etc/hostname), which wins over a transient one; empty /etc/hostname to use the lease's");
        });

    public void ResetHostname(string link, string ours) =>
        // The same kind as SetHostname: a waiting set and a later reset leave what the reset says, and the other way round.
        Enqueue(link, 0, "SetHostname", $"reset of the transient host name {ours}", Hostname1, "org.freedesktop.hostname1.set-hostname", async (c, owner) =>
        {
            var reply = await c.CallAsync(owner, "/org/freedesktop/hostname1", "org.freedesktop.DBus.Properties", "Get", "ss", w =>
            {
                w.WriteString("org.freedesktop.hostname1");
                w.WriteString("Hostname");
            }).ConfigureAwait(false);
            if (StringProperty(reply) is { } now && now != ours)
            {
                log.ForLink(link).Info($"dhclient: the host name is \"{PeerText.Excerpt(now)}\" now, not the lease's {ours}: left as it is");
                return;
            }
            await c.CallAsync(owner, "/org/freedesktop/hostname1", "org.freedesktop.hostname1", "SetHostname", "sb", w =>
            {
                w.WriteString("");
                w.WriteBoolean(false);
            }).ConfigureAwait(false);
        });

    /// <summary>Properties.Get's answer for a string property (StaticHostname, Hostname): its string, or null when it holds something else.</summary>
    private static string? StringProperty(DBusMessage reply) => reply.BodyReader("v").ReadStringVariant();

    /// <summary>Calls waiting to be made (the one being made not counted).</summary>
    public int Waiting => _calls.Count;

    private void Enqueue(string link, int ifindex, string kind, string what, string service, string action, Func<DBusConnection, string, Task> call)
    {
        // By ifindex, as resolved knows a link: a waiting revert of index 3 is never taken for one of a new eth0.
        _calls.Add((ifindex, kind), new Call(link, what, service, action, call));
        _wake.Writer.TryWrite(true);
        _worker ??= Task.Run(WorkAsync);
    }

    private async Task WorkAsync()
    {
        while (await _wake.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            _wake.Reader.TryRead(out _);
            while (_calls.TryTake(out var next))
                await MakeAsync(next).ConfigureAwait(false);
        }
        // Stopping: what was asked before the stop still goes, in order, within the stop's deadline (MakeAsync drops
        // each call once it has passed).
        while (_calls.TryTake(out var last))
            await MakeAsync(last).ConfigureAwait(false);
    }

    private async Task MakeAsync(Call next)
    {
        var (link, what, service, action, call) = next;
        if (_abandoned)
            return;
        Interlocked.Increment(ref _pushes);
        try
        {
            if (_connection is null || _connection.Closed.IsCompleted)
                _connection = await DBusConnection.ConnectAsync(busAddress, static _ => { }).ConfigureAwait(false);
            // The service's unique name, so that only it can answer (started by the bus if it is activatable and not running).
            var owner = await _connection.StartNameOwnerAsync(service).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            await call(_connection, owner).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            log.ForLink(link).Info($"dhclient: pushed {what}");
            Pushed?.Invoke(link, what, null);
        }
        catch (Exception e) when (e is DBusConnectionException or DBusErrorException or TimeoutException or DBusFormatException)
        {
            Interlocked.Increment(ref _failed);
            log.ForLink(link).Error(e is DBusErrorException refused && IsRefusal(refused.Name)
                ? Refused(what, service, action, refused.Name, Environment.UserName)
                : $"dhclient: pushing {what} failed: {e.Message}");
            Pushed?.Invoke(link, what, e.Message);
        }
    }

    /// <summary>What resolved and hostnamed answer when polkit says no (no rule, or no polkitd to ask).</summary>
    public static bool IsRefusal(string error) =>
        error is "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired" or "org.freedesktop.DBus.Error.AccessDenied";

    /// <summary>One line for a refused call: what was refused, by whom, for which polkit action, and how to grant it.</summary>
    public static string Refused(string what, string service, string action, string error, string user) =>
        $"dhclient: {(service == Hostname1 ? "systemd-hostnamed" : "systemd-resolved")} refused {what} ({error}): polkit does not " +
        $"grant {action} to user {user}; install polkitd (the package's {PolkitRule} grants it to network-broker), " +
        "or run the daemon as root";

    public async ValueTask DisposeAsync()
    {
        _wake.Writer.TryComplete();
        if (_worker is not null)
        {
            try
            {
                await _worker.WaitAsync(StopDeadline).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _abandoned = true;
                log.Warn($"dhclient: resolved or hostnamed did not answer within {StopDeadline.TotalSeconds:0} s of the stop: " +
                         $"{_calls.Count + 1} call(s) not made (the next start pushes every lease again)");
            }
        }
        if (_connection is not null)
            await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
