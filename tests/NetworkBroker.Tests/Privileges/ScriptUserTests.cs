using NetworkBroker.Logging;
using NetworkBroker.Privileges;

namespace NetworkBroker.Tests.Privileges;

/// <summary>Who runs the scripts, and what the journal says about User= against the way systemd started the daemon.</summary>
public class ScriptUserTests
{
    private const string File = "/etc/network-broker/network-broker.toml";
    private const ulong All = (1UL << 41) - 1;
    private const ulong NetAdminSysAdmin = 0x201000;
    private static readonly StartedAs UnitUser = new(994, "network-broker", NetAdminSysAdmin, UnderSystemd: true, Reexecuted: false);
    private static readonly StartedAs UnitRoot = new(0, "root", All, UnderSystemd: true, Reexecuted: false);
    private static readonly StartedAs ShellRoot = new(0, "root", All, UnderSystemd: false, Reexecuted: false);

    [Fact]
    public void The_packaged_unit_with_user_unset_reports_the_units_user_and_its_two_capabilities()
    {
        var decision = ScriptUser.Decide("network-broker", given: false, File, UnitUser, All, fullHostInstalled: true);
        Assert.Null(decision.Become);
        Assert.Equal(LogLevel.Info, decision.Level);
        Assert.StartsWith("Scripts run as network-broker (uid 994) with CAP_NET_ADMIN CAP_SYS_ADMIN: systemd started the daemon as network-broker (the unit's User=)", decision.Report);
        Assert.Contains("/usr/lib/network-broker/full-host enable", decision.Report);
    }

    [Fact]
    public void User_root_in_the_file_under_the_packaged_unit_cannot_take_effect_and_says_so_with_the_switch()
    {
        var decision = ScriptUser.Decide("root", given: true, File, UnitUser, All, fullHostInstalled: true);
        Assert.Null(decision.Become);
        Assert.Equal(LogLevel.Warn, decision.Level);
        Assert.StartsWith($"User = \"root\" in {File} cannot take effect: systemd started the daemon as network-broker (the unit's User=), " +
                          "and only a daemon started as root can change user; scripts run as network-broker (uid 994)", decision.Report);
        Assert.EndsWith("to run hooks as root, enable the full-host switch: /usr/lib/network-broker/full-host enable", decision.Report);
    }

    [Fact]
    public void Another_user_in_the_file_under_a_non_root_unit_names_the_units_user_as_the_fix()
    {
        var decision = ScriptUser.Decide("hooks", given: true, File, UnitUser, All, fullHostInstalled: false);
        Assert.Equal(LogLevel.Warn, decision.Level);
        Assert.EndsWith("to run as hooks, set User=hooks in the unit (systemctl edit network-broker)", decision.Report);
    }

    [Fact]
    public void The_full_host_unit_with_user_unset_keeps_root_with_every_capability()
    {
        var decision = ScriptUser.Decide("network-broker", given: false, File, UnitRoot, All, fullHostInstalled: true);
        Assert.Null(decision.Become);
        Assert.Equal(LogLevel.Info, decision.Level);
        Assert.Equal($"Scripts run as root with every capability: systemd started the daemon as root (the unit's User=) and User= is not set in {File}", decision.Report);
    }

    [Fact]
    public void The_full_host_unit_with_a_user_in_the_file_becomes_that_user()
    {
        var decision = ScriptUser.Decide("network-broker", given: true, File, UnitRoot, All, fullHostInstalled: true);
        Assert.Equal("network-broker", decision.Become);
        Assert.Equal(LogLevel.Info, decision.Level);
    }

    [Fact]
    public void Started_as_root_by_hand_the_default_user_is_become_as_before()
    {
        var decision = ScriptUser.Decide("network-broker", given: false, File, ShellRoot, All, fullHostInstalled: false);
        Assert.Equal("network-broker", decision.Become);
        var after = ScriptUser.Decide("network-broker", given: false, File, new StartedAs(994, "network-broker", NetAdminSysAdmin, false, Reexecuted: true), All, false);
        Assert.Equal(LogLevel.Info, after.Level);
        Assert.StartsWith("Scripts run as network-broker (uid 994) with CAP_NET_ADMIN CAP_SYS_ADMIN: started as root, it became network-broker", after.Report);
    }

    [Fact]
    public void Root_without_the_capabilities_to_change_user_is_a_configuration_error_not_a_restart_loop()
    {
        // CapabilityBoundingSet= (empty) in a drop-in with User=root: setpriv would fail, and systemd restart it for ever.
        var decision = ScriptUser.Decide("network-broker", given: true, File, UnitRoot with { Capabilities = 0 }, All, fullHostInstalled: true);
        Assert.Null(decision.Become);
        Assert.Equal(LogLevel.Fatal, decision.Level);
        Assert.Contains("without CAP_SETUID, CAP_SETGID and CAP_SETPCAP", decision.Report);
        Assert.Contains($"remove User= from {File}", decision.Report);
        // User= unset: the unit's root stays, powerless but running, and the start says so.
        var unset = ScriptUser.Decide("network-broker", given: false, File, UnitRoot with { Capabilities = 0 }, All, fullHostInstalled: true);
        Assert.Equal(LogLevel.Info, unset.Level);
        Assert.StartsWith("Scripts run as root with no capabilities", unset.Report);
    }

    [Fact]
    public void A_reload_says_nothing_when_nothing_disagrees_and_the_truth_when_something_does()
    {
        Assert.Null(ScriptUser.OnReload("network-broker", false, File, UnitUser, startedAsRoot: false, All, true));
        Assert.Null(ScriptUser.OnReload("network-broker", true, File, UnitUser, startedAsRoot: false, All, true));
        var root = ScriptUser.OnReload("root", true, File, UnitUser, startedAsRoot: false, All, true);
        Assert.NotNull(root);
        Assert.StartsWith($"Reload: User = \"root\" in {File} cannot take effect: systemd started the daemon as network-broker", root);
        Assert.DoesNotContain("next restart", root);

        // Started as root (by hand, dropped to network-broker): a restart does apply a new User=, and only then.
        var dropped = new StartedAs(994, "network-broker", NetAdminSysAdmin, UnderSystemd: false, Reexecuted: false);
        Assert.Equal("Reload: User= now means root; scripts keep running as network-broker until the next restart (started as root, the daemon becomes root then)",
            ScriptUser.OnReload("root", true, File, dropped, startedAsRoot: true, All, false));
        Assert.Null(ScriptUser.OnReload("network-broker", false, File, dropped, startedAsRoot: true, All, false));
        // The full-host unit, user written then removed: the next start stays root.
        var unitDropped = dropped with { UnderSystemd = true };
        Assert.Contains("becomes root then", ScriptUser.OnReload("network-broker", false, File, unitDropped, startedAsRoot: true, All, true));
    }

    [Fact]
    public void Capabilities_are_named_or_summed_up()
    {
        Assert.Equal("CAP_NET_ADMIN CAP_SYS_ADMIN", ScriptUser.Describe(0x201000, All));
        Assert.Equal("every capability", ScriptUser.Describe(All, All));
        Assert.Equal("every capability but CAP_SYS_RESOURCE", ScriptUser.Describe(All & ~(1UL << 24), All));
        Assert.Equal("no capabilities", ScriptUser.Describe(0, All));
        Assert.Equal("capability 45", ScriptUser.Describe(1UL << 45, All));
    }
}
