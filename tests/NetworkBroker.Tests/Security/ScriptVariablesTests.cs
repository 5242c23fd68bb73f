using NetworkBroker.Scripts;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Security;

/// <summary>Variable names come only from the documented list; PATH and LANG only from the daemon.</summary>
public class ScriptVariablesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Forged_process_variables_never_reach_a_script()
    {
        var refused = new List<string>();
        using var environment = ScriptEnvironment.Build(
            [new("PATH", "/tmp/evil"), new("LD_PRELOAD", "/tmp/evil.so"), new("LANG", "x"), new("IFS", "/"), new("OperationalState", "routable"), new("LINK", "eth1")],
            _dir.Path, refused: refused.Add);
        Assert.Equal(["PATH=" + ScriptEnvironment.DefaultPath, "LANG=" + (Environment.GetEnvironmentVariable("LANG") is { Length: > 0 } l ? l : "C.UTF-8"),
            "OperationalState=routable", "LINK=eth1"], environment.Entries);
        Assert.Equal(["PATH", "LD_PRELOAD", "LANG", "IFS"], refused);
    }

    [Fact]
    public void Every_documented_variable_passes()
    {
        var all = ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates).ToList();
        using var environment = ScriptEnvironment.Build(all.Select(n => new KeyValuePair<string, string>(n, "v")), _dir.Path);
        Assert.Equal(all.Count + 2, environment.Entries.Count);
    }

    [Fact]
    public void Random_names_only_ever_yield_documented_variables()
    {
        var random = new Random(7);
        var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_=0123456789\0 ./";
        var documented = ScriptVariables.EventVariables.Concat(ScriptVariables.LinkStates).Append("PATH").Append("LANG").ToHashSet();
        for (var round = 0; round < 2000; round++)
        {
            var names = Enumerable.Range(0, random.Next(1, 8)).Select(_ => random.Next(5) == 0
                ? ScriptVariables.EventVariables[random.Next(ScriptVariables.EventVariables.Count)] + (random.Next(2) == 0 ? "" : alphabet[random.Next(alphabet.Length)].ToString())
                : new string([.. Enumerable.Range(0, random.Next(1, 12)).Select(_ => alphabet[random.Next(alphabet.Length)])]));
            using var environment = ScriptEnvironment.Build(names.Select(n => new KeyValuePair<string, string>(n, "v")), _dir.Path);
            foreach (var entry in environment.Entries)
                Assert.Contains(entry[..entry.IndexOf('=')], documented);
            Assert.Equal("PATH=" + ScriptEnvironment.DefaultPath, environment.Entries[0]);
        }
    }

    [Theory]
    [InlineData("routable", true)]
    [InlineData("no-carrier", true)]
    [InlineData("degraded-carrier", true)]
    [InlineData("..", false)]
    [InlineData("a/b", false)]
    [InlineData("-x", false)]
    [InlineData("UP", false)]
    public void State_words_are_networkds_vocabulary(string value, bool valid) => Assert.Equal(valid, ScriptVariables.IsStateWord(value));
}
