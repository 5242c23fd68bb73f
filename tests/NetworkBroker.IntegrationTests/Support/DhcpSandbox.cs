using System.Diagnostics;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>A real DHCP server (dnsmasq) in one namespace and a real dhclient in another, joined by a veth.</summary>
public sealed class DhcpSandbox : IDisposable
{
    private Process? _dnsmasq;

    public DhcpSandbox()
    {
        Directory = new TempDirectory();
        Server = NetworkNamespace.Create();
        Client = NetworkNamespace.Create();
        try
        {
            Server.Ip($"link add veth0 type veth peer name eth0 netns {Client.Name}");
            Server.Ip("addr add 10.233.0.1/24 dev veth0");
            Server.Ip("link set veth0 up");
            Client.Ip("link set eth0 up");
            // dhclient-script writes /etc/resolv.conf: `ip netns exec` binds this private one over it.
            System.IO.Directory.CreateDirectory($"/etc/netns/{Client.Name}");
            File.WriteAllText($"/etc/netns/{Client.Name}/resolv.conf", "");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public TempDirectory Directory { get; }
    public NetworkNamespace Server { get; }
    public NetworkNamespace Client { get; }
    public string LeaseFile => Directory.Combine("leases", "dhclient.eth0.leases");

    /// <summary>
    /// (Re)starts dnsmasq offering a lease with these DNS servers (null: the option sent empty, as a broken or rogue server
    /// may), domain, search list and host name, and any other dnsmasq <paramref name="options"/> (--dhcp-option=...).
    /// </summary>
    public void Serve(string? dns = "10.233.0.53,10.233.0.54", string domain = "example.test", string search = "example.test,corp.test", string host = "node7",
        params string[] options)
    {
        StopServer();
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "netns", "exec", Server.Name, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                     "--interface=veth0", "--bind-interfaces", "--dhcp-range=10.233.0.50,10.233.0.90,255.255.255.0,2m",
                     "--dhcp-option=option:router,10.233.0.1", dns is null ? "--dhcp-option=option:dns-server" : $"--dhcp-option=option:dns-server,{dns}",
                     $"--dhcp-option=option:domain-name,{domain}", $"--dhcp-option=option:domain-search,{search}", $"--dhcp-option=12,{host}",
                     $"--dhcp-leasefile={Directory.Combine("dnsmasq.leases")}" }.Concat(options))
            info.ArgumentList.Add(arg);
        _dnsmasq = Process.Start(info)!;
        _dnsmasq.BeginErrorReadLine();
        _dnsmasq.BeginOutputReadLine();
        Thread.Sleep(300);
    }

    private void StopServer()
    {
        if (_dnsmasq is { HasExited: false })
        {
            _dnsmasq.Kill();
            _dnsmasq.WaitForExit();
        }
        _dnsmasq?.Dispose();
        _dnsmasq = null;
    }

    /// <summary>dhclient -1: get (or renew) a lease and go to the background.</summary>
    public void Acquire()
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(LeaseFile)!);
        Client.Exec($"dhclient -1 -lf {LeaseFile} -pf {Directory.Combine("dhclient.pid")} eth0");
    }

    /// <summary>dhclient -r: release the lease (the daemon stops).</summary>
    public void Release() => Client.Exec($"dhclient -r -lf {LeaseFile} -pf {Directory.Combine("dhclient.pid")} eth0");

    public void Dispose()
    {
        try
        {
            // Every dhclient of this sandbox, not only the pid file's: a second Acquire (a renewal) starts a second
            // daemon beside the first, and the pid file names only the later one.
            Client.Exec($"[ -f {Directory.Combine("dhclient.pid")} ] && kill $(cat {Directory.Combine("dhclient.pid")}) 2>/dev/null; pkill -f -- '-l[f] {LeaseFile} ' ; true");
        }
        catch (InvalidOperationException)
        {
        }
        StopServer();
        try
        {
            System.IO.Directory.Delete($"/etc/netns/{Client.Name}", recursive: true);
        }
        catch (IOException)
        {
        }
        Client.Dispose();
        Server.Dispose();
        Directory.Dispose();
    }
}
