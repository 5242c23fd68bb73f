using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Security;

/// <summary>
/// The state directories are made by root at start, before any script is looked at. An unprivileged user who can
/// place the script root (a link of theirs in a sticky directory, a parent of theirs) must not get root to make
/// directories where they chose; a root only root can change still gets them.
/// </summary>
public class ScriptRootAttackTests : DaemonInNamespace
{
    private const UnixFileMode Mode0755 = (UnixFileMode)0b111_101_101;
    private const UnixFileMode Sticky1777 = (UnixFileMode)0b111_111_111 | UnixFileMode.StickyBit;

    private readonly MemoryLog _log = new(Logging.LogLevel.Debug);

    [Fact]
    public void A_root_that_is_nobodys_link_in_a_sticky_directory_gets_nothing_made_where_it_leads()
    {
        var sticky = MakeDirectory(Dir.Combine("sticky"), Sticky1777);
        var victim = MakeDirectory(Dir.Combine("victim"), Mode0755);
        var root = Path.Combine(sticky, "nb");
        Attacker.Run(null, "ln", "-s", victim, root);

        ScriptDirectories.EnsureCreated(root, 0, _log.Logger);

        Assert.Empty(Directory.EnumerateFileSystemEntries(victim));
        Assert.Contains(_log.Lines, l => l.Contains(
            $"Not creating the script directories in {root}: symbolic link {root} is owned by uid 65534, not by root or the daemon's user"));
    }

    [Fact]
    public void A_root_under_a_directory_nobody_owns_gets_nothing_made_whether_a_link_or_roots_own()
    {
        var parent = MakeDirectory(Dir.Combine("nobodys"), Mode0755);
        var victim = MakeDirectory(Dir.Combine("victim"), Mode0755);
        var owned = MakeDirectory(Path.Combine(parent, "owned"), Mode0755);
        Shell.Run("chown", "nobody:nogroup", parent);
        var linked = Path.Combine(parent, "nb");
        Attacker.Run(null, "ln", "-s", victim, linked);

        ScriptDirectories.EnsureCreated(linked, 0, _log.Logger);
        // Root's directory, but nobody could rename it away and put anything in its place at any moment.
        ScriptDirectories.EnsureCreated(owned, 0, _log.Logger);

        Assert.Empty(Directory.EnumerateFileSystemEntries(victim));
        Assert.Empty(Directory.EnumerateFileSystemEntries(owned));
        foreach (var root in new[] { linked, owned })
            Assert.Contains(_log.Lines, l => l.Contains(
                $"Not creating the script directories in {root}: directory {parent} is owned by uid 65534, not by root or the daemon's user"));
    }

    [Fact]
    public void A_root_only_root_can_change_gets_its_directories_even_in_a_sticky_directory_or_through_roots_link()
    {
        var sticky = MakeDirectory(Dir.Combine("sticky"), Sticky1777);
        var inSticky = MakeDirectory(Path.Combine(sticky, "nb"), Mode0755);
        var target = MakeDirectory(Dir.Combine("target"), Mode0755);
        var linked = Path.Combine(sticky, "link");
        File.CreateSymbolicLink(linked, target);
        // What is there already is kept as it is: a directory with its script, and a link (the walk of each run judges it).
        var script = Dir.Script("routable", "10-kept", "#!/bin/sh\nexit 0\n");
        Directory.Move(Dir.Combine("routable.d"), Path.Combine(inSticky, "routable.d"));
        File.CreateSymbolicLink(Path.Combine(inSticky, "carrier.d"), "routable.d");

        ScriptDirectories.EnsureCreated(inSticky, 0, _log.Logger);
        ScriptDirectories.EnsureCreated(linked, 0, _log.Logger);

        foreach (var state in ScriptDirectories.Standard.Except(["carrier"]))
        {
            Assert.Equal(Mode0755, File.GetUnixFileMode(ScriptDirectories.PathOf(inSticky, state)));
            Assert.Null(new DirectoryInfo(ScriptDirectories.PathOf(inSticky, state)).LinkTarget);
        }
        Assert.Equal("routable.d", new FileInfo(Path.Combine(inSticky, "carrier.d")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(inSticky, "routable.d", Path.GetFileName(script))));
        Assert.All(ScriptDirectories.Standard, state => Assert.Equal(Mode0755, File.GetUnixFileMode(ScriptDirectories.PathOf(target, state))));
        Assert.DoesNotContain(_log.Lines, l => l.Contains("Not creating") || l.Contains("Cannot create"));
    }

    [Fact]
    public void A_missing_root_is_made_under_a_trusted_directory_and_not_under_nobodys()
    {
        var root = Dir.Combine("gone", "nb");
        var nobodys = MakeDirectory(Dir.Combine("nobodys"), Mode0755);
        Shell.Run("chown", "nobody:nogroup", nobodys);
        var under = Path.Combine(nobodys, "gone", "nb");

        ScriptDirectories.EnsureCreated(root, 0, _log.Logger);
        ScriptDirectories.EnsureCreated(under, 0, _log.Logger);

        // The package's root missing (the binary run without it): made, with its parent, root's and 0755.
        Assert.Equal(Mode0755, File.GetUnixFileMode(Dir.Combine("gone")));
        Assert.All(ScriptDirectories.Standard, state => Assert.Equal(Mode0755, File.GetUnixFileMode(ScriptDirectories.PathOf(root, state))));
        // Under a directory nobody owns: nothing, and why.
        Assert.Empty(Directory.EnumerateFileSystemEntries(nobodys));
        Assert.Contains(_log.Lines, l => l.Contains(
            $"Not creating the script directories in {under}: directory {nobodys} is owned by uid 65534, not by root or the daemon's user"));
    }

    [Fact]
    public void A_root_swapped_between_its_check_and_its_open_is_not_opened()
    {
        // What the descriptor holds is judged, not what the walk saw a moment before: a link put in the root's place
        // is not followed, and a directory of nobody's put there is refused.
        var root = MakeDirectory(Dir.Combine("nb"), Mode0755);
        var victim = MakeDirectory(Dir.Combine("victim"), Mode0755);
        var checkedRoot = ScriptFileSystem.ResolveHolder(root, 0);
        Assert.Null(checkedRoot.Problem);

        Directory.Move(root, Dir.Combine("nb.old"));
        File.CreateSymbolicLink(root, victim);
        Assert.Equal(-1, ScriptFileSystem.OpenHolder(checkedRoot, 0, out var linked));
        Assert.Equal($"a symbolic link came on the way to {root} since it was checked", linked);

        File.Delete(root);
        MakeDirectory(root, Mode0755);
        Shell.Run("chown", "nobody:nogroup", root);
        Assert.Equal(-1, ScriptFileSystem.OpenHolder(checkedRoot, 0, out var owned));
        Assert.Equal($"directory {root} is owned by uid 65534, not by root or the daemon's user", owned);
    }

    [Fact]
    public async Task The_daemon_started_on_nobodys_link_makes_nothing_where_it_leads_and_says_why()
    {
        var sticky = MakeDirectory(Dir.Combine("sticky"), Sticky1777);
        var victim = MakeDirectory(Dir.Combine("victim"), Mode0755);
        var root = Path.Combine(sticky, "nb");
        Attacker.Run(null, "ln", "-s", victim, root);
        var config = Config(system: $"ScriptDirectories = \"{root}\"\n");

        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(config, notify);

        // Made before READY=1, if at all; stderr may trail the datagram.
        Assert.Empty(Directory.EnumerateFileSystemEntries(victim));
        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("Not creating the script directories"));
        Assert.Contains($"Not creating the script directories in {root}: symbolic link {root} is owned by uid 65534", broker.StandardError);
        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    private static string MakeDirectory(string path, UnixFileMode mode)
    {
        Directory.CreateDirectory(path);
        // chmod, not the mode of mkdir: the umask would take the sticky directory's write bits away.
        File.SetUnixFileMode(path, mode);
        return path;
    }
}
