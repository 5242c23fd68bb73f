using System.Globalization;

namespace NetworkBroker.Privileges;

/// <summary>How the daemon was started: who it is now, its capabilities, and by whom it was launched.</summary>
/// <param name="Uid">The effective uid now.</param>
/// <param name="UserName">That uid's name.</param>
/// <param name="Capabilities">CapEff now.</param>
/// <param name="UnderSystemd">Started by systemd as a service's main process: the unit's User= chose the user.</param>
/// <param name="Reexecuted">This process is the daemon re-executed as User= by <see cref="PrivilegeDrop"/>: it was started as root.</param>
public readonly record struct StartedAs(uint Uid, string UserName, ulong Capabilities, bool UnderSystemd, bool Reexecuted);

/// <summary>What to do about User=, and the one line that says truthfully who runs the scripts and why.</summary>
/// <param name="Become">The user to become (started as root, User= names another); null: stay as we are.</param>
/// <param name="Level">Info when the configuration is in force; Warn when User= cannot take effect; Fatal when the daemon cannot start.</param>
public readonly record struct ScriptUserDecision(string? Become, Logging.LogLevel Level, string Report);

/// <summary>
/// Who the daemon, and so every script, runs as. Under systemd the unit decides (its User=, capabilities and
/// sandbox): User= in the file is then honoured only when the unit starts the daemon as root (it can change
/// user) and said only when it cannot take effect. Started as root by hand, the daemon becomes User=
/// ("network-broker" unless the file says otherwise). Pure: the caller supplies how it was started.
/// </summary>
public static class ScriptUser
{
    /// <summary>The package's switch for hooks that need the whole host (a drop-in and the command that links it).</summary>
    public const string FullHostCommand = "/usr/lib/network-broker/full-host";

    /// <summary>CAP_SETGID, CAP_SETUID and CAP_SETPCAP: what setpriv needs to change user and drop the rest.</summary>
    public const ulong SwitchUserCapabilities = (1UL << 6) | (1UL << 7) | (1UL << 8);

    /// <param name="configured">User= in the file, or its default.</param>
    /// <param name="given">User= is written in the file (not the default).</param>
    /// <param name="allCapabilities">Every capability bit the kernel knows (from /proc/sys/kernel/cap_last_cap).</param>
    /// <param name="fullHostInstalled">The package's switch is installed, so a hint may name it.</param>
    public static ScriptUserDecision Decide(string configured, bool given, string configPath, StartedAs started, ulong allCapabilities, bool fullHostInstalled)
    {
        var setting = given ? $"User = \"{configured}\" in {configPath}" : $"User= (not set in {configPath}; default \"{configured}\")";
        var hint = fullHostInstalled ? $"; hooks that need the whole host (restart services, write /etc or /var) need the full-host switch: {FullHostCommand} enable" : "";
        var now = $"{started.UserName} (uid {started.Uid.ToString(CultureInfo.InvariantCulture)}) with {Describe(started.Capabilities, allCapabilities)}";

        if (started.Uid != 0)
        {
            var launcher = started.Reexecuted ? $"started as root, it became {started.UserName} as {setting} asks"
                : started.UnderSystemd ? $"systemd started the daemon as {started.UserName} (the unit's User=)"
                : $"the daemon was started as {started.UserName}";
            if (!given || configured == started.UserName)
                return new(null, Logging.LogLevel.Info, $"Scripts run as {now}: {launcher}{hint}");
            var fix = started.UnderSystemd
                ? configured == "root" && fullHostInstalled
                    ? $"; to run hooks as root, enable the full-host switch: {FullHostCommand} enable"
                    : $"; to run as {configured}, set User={configured} in the unit (systemctl edit network-broker)"
                : $"; start it as root to run as {configured}";
            return new(null, Logging.LogLevel.Warn,
                $"{setting} cannot take effect: {launcher}, and only a daemon started as root can change user; scripts run as {now}{fix}");
        }

        // Root. The unit chose root (the full-host switch) and the file does not say otherwise: stay.
        if (configured == "root" || started.UnderSystemd && !given)
        {
            var why = configured == "root" && given ? setting
                : started.UnderSystemd ? $"systemd started the daemon as root (the unit's User=) and User= is not set in {configPath}"
                : setting;
            return new(null, Logging.LogLevel.Info, $"Scripts run as root with {Describe(started.Capabilities, allCapabilities)}: {why}");
        }
        if ((started.Capabilities & SwitchUserCapabilities) != SwitchUserCapabilities)
            return new(null, Logging.LogLevel.Fatal,
                $"Cannot become {configured} ({setting}): started as root without CAP_SETUID, CAP_SETGID and CAP_SETPCAP " +
                $"(the unit's CapabilityBoundingSet= leaves them out), the daemon cannot change user; " +
                (started.UnderSystemd ? $"remove User= from {configPath} to run as the unit's user, or give the unit those capabilities"
                    : $"set User = \"root\" or start it with those capabilities"));
        return new(configured, Logging.LogLevel.Info, $"Started as root, becoming {configured} ({setting})");
    }

    /// <summary>
    /// A reload never changes user. Said only when the file's User= and the user in force disagree: when the
    /// daemon was started as root, what the next restart will do; otherwise why it cannot take effect at all.
    /// </summary>
    public static string? OnReload(string configured, bool given, string configPath, StartedAs started, bool startedAsRoot, ulong allCapabilities, bool fullHostInstalled)
    {
        if (startedAsRoot)
        {
            // As the next start would be: root, with what it had then (enough to change user, or the drop would have failed).
            var atRestart = Decide(configured, given, configPath, started with { Uid = 0, UserName = "root", Capabilities = allCapabilities, Reexecuted = false },
                allCapabilities, fullHostInstalled);
            var next = atRestart.Become ?? "root";
            return next == started.UserName ? null
                : $"Reload: User= now means {next}; scripts keep running as {started.UserName} until the next restart (started as root, the daemon becomes {next} then)";
        }
        var decision = Decide(configured, given, configPath, started with { Reexecuted = false }, allCapabilities, fullHostInstalled);
        return decision.Level == Logging.LogLevel.Info ? null : "Reload: " + decision.Report;
    }

    /// <summary>
    /// CapEff in words: "no capabilities", the names of a few, or "every capability" and the names of the few
    /// missing (a container's bounding set may lack one or two that a host's root has).
    /// </summary>
    public static string Describe(ulong capabilities, ulong all)
    {
        if (capabilities == 0)
            return "no capabilities";
        var missing = all & ~capabilities;
        if (all != 0 && System.Numerics.BitOperations.PopCount(missing) < System.Numerics.BitOperations.PopCount(all) / 4)
            return missing == 0 ? "every capability" : "every capability but " + Names(missing);
        return Names(capabilities);
    }

    private static string Names(ulong capabilities)
    {
        var names = new List<string>();
        for (var bit = 0; bit < 64; bit++)
            if ((capabilities & (1UL << bit)) != 0)
                names.Add(bit < CapabilityNames.Length ? CapabilityNames[bit] : $"capability {bit.ToString(CultureInfo.InvariantCulture)}");
        return string.Join(' ', names);
    }

    // linux/capability.h, in bit order.
    private static readonly string[] CapabilityNames =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
        "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];
}
