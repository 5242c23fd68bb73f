using System.Diagnostics;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>A real dbus-daemon on a private socket, configured like the system bus, killed on Dispose.</summary>
public sealed class PrivateBus : IDisposable
{
    private Process _daemon;

    public PrivateBus(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        WriteConfiguration("");
        _daemon = Start();
    }

    public string Directory { get; }

    /// <summary>Configured like the system bus (any user may send signals and own names), with <paramref name="more"/> rules last.</summary>
    private void WriteConfiguration(string more) =>
        File.WriteAllText(Path.Combine(Directory, "bus.conf"), $"""
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>system</type>
              <auth>EXTERNAL</auth>
              <listen>unix:path={SocketPath}</listen>
              <policy context="default">
                <allow user="*"/> <allow own="*"/>
                <allow send_type="method_call"/> <allow send_type="signal"/>
                <allow send_requested_reply="true" send_type="method_return"/>
                <allow send_requested_reply="true" send_type="error"/>
                <allow receive_type="method_call"/> <allow receive_type="method_return"/>
                <allow receive_type="error"/> <allow receive_type="signal"/>
                {more}
              </policy>
            </busconfig>
            """);

    /// <summary>
    /// Refuses (or, with null, allows again) one method of the bus itself to every client, as a bus whose policy or
    /// state makes it fail would: the configuration rewritten and reloaded (SIGHUP), and waited for to apply.
    /// </summary>
    public void RefuseBusMethod(string? member)
    {
        WriteConfiguration(member is null ? "" :
            $"""<deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="{member}"/>""");
        Shell.Run("kill", "-HUP", _daemon.Id.ToString());
        var probe = member ?? "GetConnectionUnixUser";
        for (var waited = 0; ; waited += 50)
        {
            bool refused;
            try
            {
                Run("busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", probe, "s", "org.freedesktop.DBus");
                refused = false;
            }
            catch (InvalidOperationException)
            {
                refused = true;
            }
            if (refused == (member is not null))
                return;
            if (waited > 10_000)
                throw new TimeoutException($"the bus did not apply its new configuration ({probe} {(member is null ? "still refused" : "still allowed")})");
            Thread.Sleep(50);
        }
    }

    public string SocketPath => Path.Combine(Directory, "bus.sock");

    public string Address => $"unix:path={SocketPath}";

    private Process Start()
    {
        File.Delete(SocketPath);
        var info = new ProcessStartInfo("dbus-daemon") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { $"--config-file={Path.Combine(Directory, "bus.conf")}", "--nofork", "--print-address" })
            info.ArgumentList.Add(arg);
        var daemon = Process.Start(info)!;
        // --print-address prints once the socket listens.
        var line = daemon.StandardOutput.ReadLine();
        if (line is null)
            throw new InvalidOperationException($"dbus-daemon did not start: {daemon.StandardError.ReadToEnd()}");
        return daemon;
    }

    /// <summary>Kills the daemon (every connection drops), as a crash or a restart would.</summary>
    public void Kill()
    {
        _daemon.Kill();
        _daemon.WaitForExit();
        _daemon.Dispose();
    }

    public void Restart()
    {
        if (!_daemon.HasExited)
            Kill();
        _daemon = Start();
    }

    /// <summary>Stops the daemon (SIGSTOP) without closing anything: a bus that hangs; what is sent to it waits in its sockets.</summary>
    public void Pause() => Shell.Run("kill", "-STOP", _daemon.Id.ToString());

    /// <summary>Lets a paused daemon go on (SIGCONT).</summary>
    public void Resume() => Shell.Run("kill", "-CONT", _daemon.Id.ToString());

    /// <summary>A command with DBUS_SYSTEM_BUS_ADDRESS pointing here (busctl, gdbus, dbus-send).</summary>
    public string Run(string file, params string[] args) =>
        Shell.Run(new Dictionary<string, string> { ["DBUS_SYSTEM_BUS_ADDRESS"] = Address }, file, args);

    public void Dispose()
    {
        try
        {
            if (!_daemon.HasExited)
                _daemon.Kill();
        }
        catch (InvalidOperationException)
        {
        }
        _daemon.Dispose();
    }
}
