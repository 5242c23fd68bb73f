using System.Globalization;
using System.Runtime.InteropServices;
using NetworkBroker.Commands;
using NetworkBroker.Configuration;
using NetworkBroker.Logging;
using NetworkBroker.Native;

namespace NetworkBroker.Privileges;

/// <summary>
/// Started as root, the daemon becomes User= with exactly CAP_NET_ADMIN and CAP_SYS_ADMIN by
/// re-executing itself through setpriv(1) before doing any work. An in-process setuid would change
/// one thread only: uids and capabilities are per thread on Linux and the .NET runtime starts threads
/// before Main (the Go network-event-broker's in-process drop left 11 of 12 threads and every script as uid 0). The
/// capabilities are made ambient so that scripts (ip rule, ...) get them too. Under systemd the unit's
/// User= and AmbientCapabilities= do the same and the daemon starts unprivileged: nothing to do then.
/// Whether to change user at all is <see cref="ScriptUser.Decide"/>'s (the unit decides under systemd).
/// </summary>
public static unsafe class PrivilegeDrop
{
    /// <summary>Set in the re-executed daemon's environment (never in scripts': theirs is built from scratch).</summary>
    public const string Marker = "NETWORK_BROKER_PRIVILEGES_DROPPED";
    private const string Capabilities = "-all,+net_admin,+sys_admin";
    private const ulong CapNetAdmin = 1UL << 12;

    /// <summary>How this process was started (<see cref="ScriptUser"/> decides from it).</summary>
    public static StartedAs Current() => new(Libc.geteuid(), Environment.UserName, EffectiveCapabilities(), StartedBySystemd(),
        Environment.GetEnvironmentVariable(Marker) == "1");

    /// <summary>
    /// A service's main process: systemd (PID 1) is the parent and INVOCATION_ID is set. Either alone is not
    /// enough: every descendant of a service inherits INVOCATION_ID (a test runner that is itself a service),
    /// and an orphan has PID 1 as parent too.
    /// </summary>
    private static bool StartedBySystemd()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("INVOCATION_ID")))
            return false;
        try
        {
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count from the last ')'.
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 1 && fields[1] == "1";
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Who runs the scripts under this configuration, started as this process was, and the line that says so.</summary>
    public static ScriptUserDecision Decide(BrokerConfiguration config) =>
        ScriptUser.Decide(config.User, config.UserGiven, config.Path, Current(), AllCapabilities(), File.Exists(ScriptUser.FullHostCommand));

    /// <returns>null when nothing is to be done; an exit code when the drop failed (on success exec does not return).</returns>
    public static int? ReexecAsUser(BrokerConfiguration config, Logger log, IReadOnlyList<string> args)
    {
        var decision = Decide(config);
        if (decision.Level == LogLevel.Fatal)
        {
            // EX_CONFIG: systemd does not restart it (RestartPreventExitStatus=78); starting again would fail the same way.
            log.Fatal(decision.Report);
            return ExitCodes.Config;
        }
        if (decision.Become is not { } user)
            return null;

        if (!LookUp(user, out var uid, out var gid))
        {
            log.Fatal($"User \"{user}\" (User= in {config.Path}) does not exist: create it (make install ships sysusers.d/network-broker.conf) or set User=\"root\"");
            return ExitCodes.Config;
        }
        var setpriv = new[] { "/usr/bin/setpriv", "/bin/setpriv" }.FirstOrDefault(File.Exists);
        if (setpriv is null)
        {
            log.Fatal($"Cannot drop privileges to {user}: setpriv (util-linux) is not installed; install it or set User=\"root\"");
            return ExitCodes.Failure;
        }

        var self = Environment.ProcessPath ?? "/proc/self/exe";
        var command = new List<string>
        {
            setpriv, $"--reuid={uid}", $"--regid={gid}", "--clear-groups",
            $"--inh-caps={Capabilities}", $"--ambient-caps={Capabilities}", $"--bounding-set={Capabilities}", "--", self,
        };
        // Under `dotnet exec` (tests of the JIT build) the program is the host plus the assembly.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            command.AddRange(["exec", Environment.GetCommandLineArgs()[0]]);
        command.AddRange(args);

        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(name => name != Marker)
            .Select(name => $"{name}={Environment.GetEnvironmentVariable(name)}")
            .Append($"{Marker}=1")
            .ToList();

        log.Info($"Dropping privileges: re-executing as {user} (uid {uid}) with CAP_NET_ADMIN and CAP_SYS_ADMIN only");
        using var argv = new NativeStringArray(command);
        using var envp = new NativeStringArray(environment);
        fixed (byte* path = System.Text.Encoding.UTF8.GetBytes(setpriv + "\0"))
            Libc.execve(path, argv.Pointer, envp.Pointer);
        log.Fatal($"Cannot execute {setpriv}: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        return ExitCodes.Failure;
    }

    /// <summary>Started as root: the runtime directory (control socket), made for the user the daemon is about to become.</summary>
    public static void PrepareRuntimeDirectory(BrokerConfiguration config, Logger log)
    {
        if (Libc.geteuid() != 0)
            return;
        uint uid = 0, gid = 0;
        if (Decide(config).Become is { } user && !LookUp(user, out uid, out gid))
            return; // ReexecAsUser says why
        Control.RuntimeDirectory.Prepare(uid, gid, log);
    }

    /// <summary>
    /// The user whose files the daemon will trust besides root's once it runs (the scripts' DaemonUid): User= when
    /// about to become it, else this process's own. Started as root, that is not yet the user this process is.
    /// </summary>
    public static uint DaemonUid(BrokerConfiguration config) =>
        Decide(config).Become is { } user && LookUp(user, out var uid, out _) ? uid : Libc.geteuid();

    /// <summary>Says plainly what will not work when the daemon lacks CAP_NET_ADMIN.</summary>
    public static void CheckCapabilities(BrokerConfiguration config, Logger log)
    {
        if (HasNetAdmin())
            return;
        log.Warn("Running without CAP_NET_ADMIN: the rtnetlink receive buffer stays at the system default (notifications may be lost under load)" +
                 (config.RoutingPolicyRules.IsEmpty ? "" : ", and policy routing for " + string.Join(' ', config.RoutingPolicyRules) + " will fail"));
    }

    public static bool HasNetAdmin() => (EffectiveCapabilities() & CapNetAdmin) != 0;

    /// <summary>CapEff of this thread (0 when it cannot be read).</summary>
    public static ulong EffectiveCapabilities()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            return line is null ? 0 : ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return 0;
        }
    }

    /// <summary>Every capability this kernel knows (bits 0 to /proc/sys/kernel/cap_last_cap).</summary>
    public static ulong AllCapabilities()
    {
        try
        {
            var last = int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), CultureInfo.InvariantCulture);
            return last >= 63 ? ulong.MaxValue : (1UL << (last + 1)) - 1;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    internal static bool LookUp(string user, out uint uid, out uint gid)
    {
        uid = gid = 0;
        // struct passwd: pw_name, pw_passwd (pointers), then pw_uid and pw_gid.
        var entry = Libc.getpwnam(user);
        if (entry == 0)
            return false;
        uid = (uint)Marshal.ReadInt32(entry, 2 * IntPtr.Size);
        gid = (uint)Marshal.ReadInt32(entry, 2 * IntPtr.Size + 4);
        return true;
    }
}
