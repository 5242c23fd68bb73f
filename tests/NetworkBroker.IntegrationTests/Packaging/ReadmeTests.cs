using NetworkBroker.Configuration;
using NetworkBroker.Scripts;

namespace NetworkBroker.IntegrationTests.Packaging;

/// <summary>The README stays the admin's reference: every key, every variable and every shipped example is in it.</summary>
public class ReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(DebianPackage.Repository, "README.md"));

    [Fact]
    public void The_first_screen_has_the_two_commands_to_start()
    {
        var firstScreen = string.Join('\n', Readme.Split('\n').Take(40));
        Assert.Contains("\nmake demo ", firstScreen);
        Assert.Contains("\nmake test ", firstScreen);
        Assert.Contains("networkd-dispatcher", firstScreen);
    }

    [Fact]
    public void Every_configuration_key_has_its_line()
    {
        foreach (var (_, key) in ConfigurationLoader.Keys)
            Assert.Contains($"\n| `{key}` |", Readme);
    }

    [Fact]
    public void Every_script_variable_is_in_a_table()
    {
        foreach (var variable in ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates))
            Assert.Contains($"`{variable}`", Readme);
    }

    [Fact]
    public void Every_shipped_example_is_listed()
    {
        foreach (var example in Directory.EnumerateFiles(Path.Combine(DebianPackage.Repository, "examples"), "*", SearchOption.AllDirectories))
            Assert.Contains($"| `{Path.GetFileName(example)}` |", Readme);
    }
}
