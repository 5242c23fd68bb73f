using NetworkBroker.Security;

namespace NetworkBroker.Tests.Security;

/// <summary>The path walk behind every script run: each rule on a file system described in the test.</summary>
public class TrustedPathTests
{
    private const uint Daemon = 994;
    private const uint Nobody = 65534;
    private const UnixFileMode Dir755 = (UnixFileMode)0b111_101_101;
    private const UnixFileMode Dir777 = (UnixFileMode)0b111_111_111;
    private const UnixFileMode Sticky1777 = Dir777 | UnixFileMode.StickyBit;
    private const UnixFileMode Exe755 = Dir755;

    private readonly Dictionary<string, PathEntry> _fs = new()
    {
        ["/"] = new(PathKind.Directory, Dir755, 0),
        ["/etc"] = new(PathKind.Directory, Dir755, 0),
        ["/etc/nb"] = new(PathKind.Directory, Dir755, 0),
        ["/etc/nb/routable.d"] = new(PathKind.Directory, Dir755, 0),
        ["/etc/nb/routable.d/10-a"] = new(PathKind.Regular, Exe755, 0),
        ["/usr"] = new(PathKind.Directory, Dir755, 0),
        ["/usr/lib"] = new(PathKind.Directory, Dir755, 0),
        ["/usr/lib/hook"] = new(PathKind.Regular, Exe755, 0),
        ["/tmp"] = new(PathKind.Directory, Sticky1777, 0),
        ["/tmp/root-dir"] = new(PathKind.Directory, Dir755, 0),
        ["/tmp/root-dir/hook"] = new(PathKind.Regular, Exe755, 0),
        ["/tmp/root-hook"] = new(PathKind.Regular, Exe755, 0),
        ["/home"] = new(PathKind.Directory, Dir755, 0),
        ["/home/nobody"] = new(PathKind.Directory, Dir755, Nobody),
        ["/home/nobody/hook"] = new(PathKind.Regular, Exe755, 0),
        ["/srv"] = new(PathKind.Directory, Dir755 | UnixFileMode.GroupWrite, 0),
        ["/srv/hook"] = new(PathKind.Regular, Exe755, 0),
        ["/var"] = new(PathKind.Directory, Dir755, Daemon),
        ["/var/hook"] = new(PathKind.Regular, Exe755, Daemon),
    };

    private ResolvedPath Resolve(string path) => TrustedPath.Resolve(path, Daemon, p => _fs.TryGetValue(p, out var e) ? e : null);

    private void Link(string path, string target, uint owner = 0) => _fs[path] = new(PathKind.SymbolicLink, Dir777, owner, target);

    [Fact]
    public void A_script_in_a_trusted_tree_resolves_to_itself()
    {
        var resolved = Resolve("/etc/nb/routable.d/10-a");
        Assert.Null(resolved.Problem);
        Assert.Equal("/etc/nb/routable.d/10-a", resolved.Resolved);
        Assert.Equal(PathKind.Regular, resolved.Target!.Value.Kind);
    }

    [Fact]
    public void A_root_owned_link_into_a_trusted_tree_is_followed_and_the_target_is_what_runs()
    {
        Link("/etc/nb/routable.d/20-b", "/usr/lib/hook");
        Link("/etc/nb/routable.d/30-c", "../../../usr/./lib/hook");
        Assert.Equal(new ResolvedPath("/usr/lib/hook", _fs["/usr/lib/hook"], null), Resolve("/etc/nb/routable.d/20-b"));
        Assert.Equal(new ResolvedPath("/usr/lib/hook", _fs["/usr/lib/hook"], null), Resolve("/etc/nb/routable.d/30-c"));
    }

    [Fact]
    public void A_link_into_a_directory_another_user_owns_is_refused()
    {
        Link("/etc/nb/routable.d/20-b", "/home/nobody/hook");
        var resolved = Resolve("/etc/nb/routable.d/20-b");
        Assert.Equal("directory /home/nobody is owned by uid 65534, not by root or the daemon's user", resolved.Problem);
    }

    [Fact]
    public void A_link_owned_by_another_user_is_refused_even_to_a_trusted_file()
    {
        Link("/tmp/evil", "/usr/lib/hook", owner: Nobody);
        Link("/etc/nb/routable.d/20-b", "/tmp/evil");
        Assert.Equal("symbolic link /tmp/evil is owned by uid 65534, not by root or the daemon's user", Resolve("/etc/nb/routable.d/20-b").Problem);
    }

    [Fact]
    public void A_root_sticky_directory_may_be_passed_through_but_may_not_hold_the_script()
    {
        Link("/etc/nb/routable.d/20-b", "/tmp/root-dir/hook");
        Link("/etc/nb/routable.d/30-c", "/tmp/root-hook");
        Assert.Null(Resolve("/etc/nb/routable.d/20-b").Problem);
        Assert.Equal("directory /tmp is writable by group or others", Resolve("/etc/nb/routable.d/30-c").Problem);
    }

    [Fact]
    public void A_group_writable_directory_on_the_way_is_refused()
    {
        Link("/etc/nb/routable.d/20-b", "/srv/hook");
        Assert.Equal("directory /srv is writable by group or others", Resolve("/etc/nb/routable.d/20-b").Problem);
    }

    [Fact]
    public void The_daemons_own_user_is_trusted_like_root()
    {
        Link("/etc/nb/routable.d/20-b", "/var/hook", owner: Daemon);
        Assert.Null(Resolve("/etc/nb/routable.d/20-b").Problem);
    }

    [Fact]
    public void A_link_loop_ends_with_a_problem_not_a_hang()
    {
        Link("/etc/nb/routable.d/a", "b");
        Link("/etc/nb/routable.d/b", "a");
        Assert.Equal("too many levels of symbolic links", Resolve("/etc/nb/routable.d/a").Problem);
    }

    [Fact]
    public void A_dangling_link_and_a_file_used_as_a_directory_are_missing()
    {
        Link("/etc/nb/routable.d/20-b", "/nowhere");
        Assert.Equal(new ResolvedPath("/nowhere", null, null), Resolve("/etc/nb/routable.d/20-b"));
        Assert.Null(Resolve("/usr/lib/hook/below").Target);
    }

    [Fact]
    public void An_untrusted_state_directory_is_named_as_the_problem()
    {
        _fs["/etc/nb/routable.d"] = new(PathKind.Directory, Dir777, 0);
        Assert.Equal("directory /etc/nb/routable.d is writable by group or others", Resolve("/etc/nb/routable.d/10-a").Problem);
    }

    private ResolvedPath ResolveHolder(string path) => TrustedPath.ResolveHolder(path, Daemon, p => _fs.TryGetValue(p, out var e) ? e : null);

    [Fact]
    public void A_script_root_in_a_trusted_tree_may_hold_the_state_directories()
    {
        Assert.Equal(new ResolvedPath("/etc/nb", _fs["/etc/nb"], null), ResolveHolder("/etc/nb"));
        Assert.Equal(new ResolvedPath("/etc/nb", _fs["/etc/nb"], null), ResolveHolder("/etc/nb/"));
        Assert.Null(ResolveHolder("/var").Problem);
    }

    [Fact]
    public void A_script_root_that_is_another_users_link_in_a_sticky_directory_may_not()
    {
        Link("/tmp/nb", "/etc/nb", owner: Nobody);
        var resolved = ResolveHolder("/tmp/nb");
        Assert.Equal("symbolic link /tmp/nb is owned by uid 65534, not by root or the daemon's user", resolved.Problem);
        Assert.Null(resolved.Target);
    }

    [Fact]
    public void A_script_root_under_another_users_directory_may_not()
    {
        _fs["/home/nobody/nb"] = new(PathKind.Directory, Dir755, 0);
        Assert.Equal("directory /home/nobody is owned by uid 65534, not by root or the daemon's user", ResolveHolder("/home/nobody/nb").Problem);
    }

    [Fact]
    public void A_root_owned_link_to_a_trusted_directory_is_followed_to_it()
    {
        Link("/tmp/nb", "root-dir");
        Assert.Equal(new ResolvedPath("/tmp/root-dir", _fs["/tmp/root-dir"], null), ResolveHolder("/tmp/nb"));
    }

    [Fact]
    public void A_root_sticky_directory_may_be_passed_through_but_may_not_be_a_script_root()
    {
        Assert.Null(ResolveHolder("/tmp/root-dir").Problem);
        Assert.Equal("directory /tmp is writable by group or others", ResolveHolder("/tmp").Problem);
        Assert.Equal("directory /srv is writable by group or others", ResolveHolder("/srv").Problem);
    }

    [Fact]
    public void A_missing_script_root_names_its_first_missing_component()
    {
        Assert.Equal(new ResolvedPath("/etc/gone", null, null), ResolveHolder("/etc/gone/nb"));
        Link("/etc/dangling", "/nowhere");
        Assert.Equal(new ResolvedPath("/nowhere", null, null), ResolveHolder("/etc/dangling"));
        Assert.Null(ResolveHolder("/usr/lib/hook").Target);
        Assert.Null(ResolveHolder("/usr/lib/hook").Problem);
    }

    /// <summary>
    /// What a script root is told is what the walk to a directory then made in it says, on random link graphs: the
    /// same problem, or none and the same place.
    /// </summary>
    [Fact]
    public void A_script_root_is_judged_as_the_walk_to_a_directory_made_in_it_will_be()
    {
        var random = new Random(2468);
        string[] places = ["/etc/nb/x", "/tmp/root-dir/y", "/home/nobody/z", "/srv/w", "/usr/lib/v", "/tmp/u", "/var/t"];
        var compared = 0;
        for (var round = 0; round < 500; round++)
        {
            Scramble(random, places, r => new(PathKind.Directory, r.Next(3) == 0 ? Sticky1777 : Dir755, r.Next(4) == 0 ? Nobody : 0));
            foreach (var root in _fs.Keys.ToList())
            {
                var holder = ResolveHolder(root);
                if (holder.Target is null)
                    continue;
                var made = (holder.Resolved == "/" ? "" : holder.Resolved) + "/routes.d";
                var existed = _fs.Remove(made, out var before);
                _fs[made] = new(PathKind.Directory, Dir755, 0);
                var walked = Resolve((root == "/" ? "" : root) + "/routes.d");
                Assert.Equal(holder.Problem, walked.Problem);
                if (holder.Problem is null)
                    Assert.Equal(made, walked.Resolved);
                _fs.Remove(made);
                if (existed)
                    _fs[made] = before;
                compared++;
            }
        }
        Assert.True(compared > 2_000, $"{compared} roots compared");
    }

    [Fact]
    public void Random_link_graphs_always_end_and_never_trust_what_passes_an_untrusted_place()
    {
        var random = new Random(1234);
        string[] places = ["/etc/nb/routable.d/x", "/tmp/root-dir/y", "/home/nobody/z", "/srv/w", "/usr/lib/v", "/tmp/u"];
        for (var round = 0; round < 2000; round++)
        {
            Scramble(random, places);
            var resolved = Resolve(places[random.Next(places.Length)]);
            if (resolved.Problem is null && resolved.Target is not null)
                Assert.DoesNotContain(resolved.Resolved, new[] { "/home/nobody/z", "/srv/w", "/tmp/u" });
        }
    }

    /// <summary>
    /// The look-up of a trusted directory's entry gives what a walk of the whole path gives, on random link graphs:
    /// for every directory the walk trusts and every name in it (the directory resolved, its facts as the walk saw them).
    /// </summary>
    [Fact]
    public void An_entry_looked_up_in_a_trusted_directory_is_what_a_walk_of_its_whole_path_says()
    {
        var random = new Random(4321);
        string[] places = ["/etc/nb/routable.d/x", "/tmp/root-dir/y", "/home/nobody/z", "/srv/w", "/usr/lib/v", "/tmp/u", "/var/t"];
        var compared = 0;
        for (var round = 0; round < 500; round++)
        {
            Scramble(random, places, r => new(PathKind.Regular, Exe755, r.Next(4) == 0 ? Nobody : 0));
            var names = _fs.Keys.Select(k => k[(k.LastIndexOf('/') + 1)..]).Where(n => n.Length > 0).Append("missing").Distinct().ToList();
            foreach (var directory in _fs.Keys.ToList())
            {
                var walked = Resolve(directory);
                if (walked.Problem is not null || walked.Target is not { Kind: PathKind.Directory } facts)
                    continue;
                foreach (var name in names)
                {
                    var whole = Resolve(directory == "/" ? "/" + name : directory + "/" + name);
                    var inside = TrustedPath.ResolveIn(walked.Resolved, facts, name, Daemon, p => _fs.TryGetValue(p, out var e) ? e : null);
                    Assert.Equal(whole, inside);
                    compared++;
                }
            }
        }
        Assert.True(compared > 10_000, $"{compared} paths compared");
    }

    /// <summary>
    /// One round of a random link graph: each place removed (one in three), else, when <paramref name="entry"/> is given,
    /// one in four made that entry, else a link (of root's or nobody's) to another place, now and then through "..".
    /// </summary>
    private void Scramble(Random random, string[] places, Func<Random, PathEntry>? entry = null)
    {
        foreach (var place in places)
            if (random.Next(3) == 0)
                _fs.Remove(place);
            else if (entry is not null && random.Next(4) == 0)
                _fs[place] = entry(random);
            else
                Link(place, places[random.Next(places.Length)] + (random.Next(4) == 0 ? "/.." : ""), owner: random.Next(4) == 0 ? Nobody : 0);
    }
}
