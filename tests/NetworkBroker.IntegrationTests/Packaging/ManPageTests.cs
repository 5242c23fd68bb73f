using System.Diagnostics;
using System.Text.RegularExpressions;
using NetworkBroker.Cli;
using NetworkBroker.Configuration;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Scripts;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>
/// The man pages as shipped (packaging/man): man-db renders them without a warning, they have the sections
/// an admin looks for, and they name every command, option, variable and key the program knows.
/// </summary>
public partial class ManPageTests
{
    public static IEnumerable<object[]> Pages => [["network-broker.8"], ["network-broker.toml.5"]];

    private static string PagePath(string page) => Path.Combine(DebianPackage.Repository, "packaging", "man", page);

    /// <summary>The page's source with font changes and escaped minus signs undone, for looking words up.</summary>
    private static string Source(string page) =>
        FontChange().Replace(File.ReadAllText(PagePath(page)), "").Replace("\\-", "-").Replace("\\e", "\\");

    [Theory]
    [MemberData(nameof(Pages))]
    public void Man_renders_the_page_without_a_warning(string page)
    {
        Assert.True(File.Exists("/usr/bin/man"), "man is not installed (make deps installs man-db)");
        var (status, stdout, stderr) = Run("man", "--warnings", "-l", PagePath(page));
        Assert.Equal(0, status);
        Assert.Equal("", stderr);
        Assert.Contains("SEE ALSO", stdout);
        // groff itself, every warning on, as man-db runs it underneath.
        var groff = Run("groff", "-ww", "-man", "-z", PagePath(page));
        Assert.Equal((0, ""), (groff.Status, groff.Stderr));
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void The_page_has_the_sections_an_admin_looks_for(string page)
    {
        var sections = SectionHeading().Matches(File.ReadAllText(PagePath(page))).Select(m => m.Groups[1].Value.Trim('"')).ToList();
        foreach (var wanted in new[] { "NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "ENVIRONMENT", "FILES", "EXIT STATUS", "SEE ALSO" })
            Assert.Contains(wanted, sections);
        // EXIT STATUS and SEE ALSO close a page, in this order (man-pages(7)).
        Assert.Equal(["EXIT STATUS", "SEE ALSO"], sections[^2..]);
    }

    [Fact]
    public void Network_broker_8_names_every_command_option_and_script_variable()
    {
        var source = Source("network-broker.8");
        foreach (var command in CommandHelp.Commands)
            Assert.Contains($".B {command}", source);
        foreach (var option in CommandHelp.Options)
            Assert.Contains(option, source);
        foreach (var variable in ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates))
            Assert.Matches($@"(?m)^\.(?:B|BR) .*\b{variable}\b", source);
        Assert.Contains("/usr/share/doc/network-broker/examples/", source);
    }

    [Fact]
    public void Network_broker_toml_5_describes_every_key_and_the_drop_in_directory()
    {
        var source = Source("network-broker.toml.5");
        foreach (var (_, key) in ConfigurationLoader.Keys)
            Assert.Contains($"\n.B {key}=\n", source);
        Assert.Contains("/etc/network-broker/network-broker.toml.d/*.toml", source);
    }

    private static (int Status, string Stdout, string Stderr) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment["MANWIDTH"] = "80";
        info.Environment["MANPAGER"] = "cat";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    [GeneratedRegex(@"\\f[BIRP]")]
    private static partial Regex FontChange();

    [GeneratedRegex(@"(?m)^\.SH (.+)$")]
    private static partial Regex SectionHeading();
}
