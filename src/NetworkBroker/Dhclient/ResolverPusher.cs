using System.Net;
using System.Threading.Channels;
using NetworkBroker.DBus;
using NetworkBroker.Logging;

namespace NetworkBroker.Dhclient;

/// <summary>What the broker tells systemd-resolved and systemd-hostnamed about a DHCP lease.</summary>
public interface IResolverPusher
{
    void SetLinkDns(string link, int ifindex, IReadOnlyList<IPAddress> servers);
    void SetLinkDomains(string link, int ifindex, IReadOnlyList<string> domains);
    void RevertLink(string link, int ifindex);
    void SetHostname(string link, string hostname);
}

/// <summary>
/// Calls org.freedesktop.resolve1 and org.freedesktop.hostname1 over the system bus, one call at a time in
/// the order asked, on a connection of its own made when first needed and again after it is lost. A call
/// that fails is logged with the link and dropped: the next lease change sends the state again.
/// </summary>
public sealed class ResolverPusher(string busAddress, Logger log) : IResolverPusher, IAsyncDisposable
{
    private const int AF_INET = 2, AF_INET6 = 10;
    private const string Resolve1 = "org.freedesktop.resolve1", Hostname1 = "org.freedesktop.hostname1";
    private readonly Channel<(string Link, string What, string Service, Func<DBusConnection, string, Task> Call)> _calls =
        Channel.CreateUnbounded<(string, string, string, Func<DBusConnection, string, Task>)>(new UnboundedChannelOptions { SingleReader = true });
    private Task? _worker;
    private DBusConnection? _connection;

    /// <summary>After each call: the link, what was pushed, and the error (null when it went through). For the monitor.</summary>
    public event Action<string, string, string?>? Pushed;

    public void SetLinkDns(string link, int ifindex, IReadOnlyList<IPAddress> servers) =>
        Enqueue(link, $"DNS servers {string.Join(", ", servers)}", Resolve1, (c, owner) => c.CallAsync(owner, "/org/freedesktop/resolve1",
            "org.freedesktop.resolve1.Manager", "SetLinkDNS", "ia(iay)", w =>
            {
                w.WriteInt32(ifindex);
                w.WriteValue("a(iay)", servers.Select(s => (object)new object[]
                {
                    s.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET, s.GetAddressBytes(),
                }).ToArray());
            }));

    public void SetLinkDomains(string link, int ifindex, IReadOnlyList<string> domains) =>
        Enqueue(link, $"domains {string.Join(", ", domains)}", Resolve1, (c, owner) => c.CallAsync(owner, "/org/freedesktop/resolve1",
            "org.freedesktop.resolve1.Manager", "SetLinkDomains", "ia(sb)", w =>
            {
                w.WriteInt32(ifindex);
                // false: search domains, not routing-only ones (the seed sent true, which made them routing-only).
                w.WriteValue("a(sb)", domains.Select(d => (object)new object[] { d, false }).ToArray());
            }));

    public void RevertLink(string link, int ifindex) =>
        Enqueue(link, "revert", Resolve1, (c, owner) => c.CallAsync(owner, "/org/freedesktop/resolve1",
            "org.freedesktop.resolve1.Manager", "RevertLink", "i", w => w.WriteInt32(ifindex)));

    public void SetHostname(string link, string hostname) =>
        Enqueue(link, $"transient host name {hostname}", Hostname1, (c, owner) => c.CallAsync(owner, "/org/freedesktop/hostname1",
            "org.freedesktop.hostname1", "SetHostname", "sb", w =>
            {
                w.WriteString(hostname);
                w.WriteBoolean(false); // not interactive: never wait for a polkit prompt
            }));

    private void Enqueue(string link, string what, string service, Func<DBusConnection, string, Task> call)
    {
        _calls.Writer.TryWrite((link, what, service, call));
        _worker ??= Task.Run(WorkAsync);
    }

    private async Task WorkAsync()
    {
        await foreach (var (link, what, service, call) in _calls.Reader.ReadAllAsync().ConfigureAwait(false))
        {
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
                log.ForLink(link).Error($"dhclient: pushing {what} failed: {e.Message}");
                Pushed?.Invoke(link, what, e.Message);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _calls.Writer.TryComplete();
        if (_worker is not null)
            await _worker.ConfigureAwait(false);
        if (_connection is not null)
            await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
