using System.Text.Json;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>A local user with no privileges (nobody, through setpriv), as the tests that play the attacker need one.</summary>
public static class Attacker
{
    public static readonly string[] AsNobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"];

    /// <summary>Runs a command as nobody; a non-zero exit fails the test.</summary>
    public static string Run(IReadOnlyDictionary<string, string>? environment, params string[] command) =>
        Shell.Run(environment, AsNobody[0], [.. AsNobody[1..], .. command]);

    /// <summary>
    /// gdbus emit as nobody: a signal broadcast, or sent to <paramref name="destination"/> (a unique name). gdbus now
    /// and then fails to flush before it exits ("The connection is closed"): it is tried again then.
    /// </summary>
    public static void Emit(PrivateBus bus, string? destination, string path, string signal, params string[] arguments)
    {
        var command = new List<string> { "gdbus", "emit", "--address", bus.Address, "--object-path", path, "--signal", signal };
        if (destination is not null)
            command.AddRange(["--dest", destination]);
        command.AddRange(arguments);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Run(null, [.. command]);
                return;
            }
            catch (InvalidOperationException e) when (attempt < 8 && e.Message.Contains("connection is closed"))
            {
                // Under load it can fail a few times in a row: a moment's pause, then again.
                Thread.Sleep(50 * attempt);
            }
        }
    }

    /// <summary>The unique names the process <paramref name="pid"/> holds on the bus (busctl list, as root).</summary>
    public static List<string> UniqueNamesOf(PrivateBus bus, int pid)
    {
        var names = new List<string>();
        using var json = JsonDocument.Parse(bus.Run("busctl", "--system", "--json=short", "--unique", "list"));
        foreach (var entry in json.RootElement.EnumerateArray())
            if (entry.TryGetProperty("pid", out var p) && p.ValueKind == JsonValueKind.Number && p.GetInt32() == pid)
                names.Add(entry.GetProperty("name").GetString()!);
        return names;
    }
}
