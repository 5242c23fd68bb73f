using NetworkBroker.Scripts;

namespace NetworkBroker.Tests.Scripts;

public class ScriptSelectionTests
{
    private const UnixFileMode Mode0755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private const uint DaemonUid = 998;

    private static ScriptFileFacts Script(string name, UnixFileMode mode = Mode0755, uint uid = 0,
        ScriptFileKind kind = ScriptFileKind.Regular) => new(name, kind, mode, uid);

    private static string? Reason(ScriptFileFacts facts) => ScriptSelection.SkipReason(facts, DaemonUid);

    [Fact]
    public void Scripts_run_in_bytewise_lexical_order()
    {
        var merged = ScriptSelection.Merge([("/etc/nb/routable.d", [Script("b"), Script("10-a"), Script("B"), Script("2-x"), Script("01")])]);
        Assert.Equal(["01", "10-a", "2-x", "B", "b"], merged.Select(m => m.Facts.Name));
        Assert.All(merged, m => Assert.Null(Reason(m.Facts)));
    }

    [Fact]
    public void A_root_owned_executable_runs()
    {
        Assert.Null(Reason(Script("10-log")));
    }

    [Fact]
    public void A_script_owned_by_the_daemons_user_runs()
    {
        Assert.Null(Reason(Script("10-log", uid: DaemonUid)));
    }

    [Fact]
    public void A_script_owned_by_another_user_is_skipped()
    {
        Assert.Equal("owned by uid 1000, not by root or the daemon's user", Reason(Script("10-log", uid: 1000)));
    }

    [Theory]
    [InlineData(UnixFileMode.GroupWrite)]
    [InlineData(UnixFileMode.OtherWrite)]
    public void A_script_writable_by_group_or_others_is_skipped(UnixFileMode extra)
    {
        Assert.Equal("writable by group or others", Reason(Script("10-log", Mode0755 | extra)));
    }

    [Fact]
    public void A_file_without_execute_permission_is_skipped()
    {
        Assert.Equal("not executable", Reason(Script("10-log", UnixFileMode.UserRead | UnixFileMode.UserWrite)));
    }

    [Theory]
    [InlineData(ScriptFileKind.Directory, "a directory")]
    [InlineData(ScriptFileKind.Other, "not a regular file")]
    [InlineData(ScriptFileKind.Missing, "vanished or is a dangling symbolic link")]
    public void Anything_but_a_regular_file_is_skipped(ScriptFileKind kind, string reason)
    {
        Assert.Equal(reason, Reason(Script("10-log", kind: kind)));
    }

    [Theory]
    [InlineData(".hidden")]
    [InlineData("10-log~")]
    [InlineData(".10-log.swp")]
    [InlineData("10-log.swp")]
    [InlineData("10-log.dpkg-old")]
    [InlineData("10-log.dpkg-dist")]
    [InlineData("10-log.dpkg-new")]
    [InlineData("10-log.rpmnew")]
    [InlineData("10-log.rpmsave")]
    [InlineData("10-log.rpmorig")]
    [InlineData("10-log.ucf-old")]
    public void Editor_and_package_manager_leftovers_are_skipped(string name)
    {
        Assert.Equal("an editor or package manager leftover", Reason(Script(name)));
    }

    [Theory]
    [InlineData("10-log")]
    [InlineData("50-routes.sh")]
    [InlineData("dpkg-helper")]
    [InlineData("a.b.c")]
    public void Ordinary_names_are_not_leftovers(string name)
    {
        Assert.False(ScriptSelection.IsLeftover(name));
    }
}
