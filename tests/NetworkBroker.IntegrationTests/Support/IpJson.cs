using System.Text.Json;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>The kernel's rules and routes as iproute2 reports them (`ip -j`), independent of our codec.</summary>
public static class IpJson
{
    /// <summary>"from 10.0.0.2 table 10002 pref 32000 proto 250" lines, sorted.</summary>
    public static List<string> Rules(NetworkNamespace ns, string family = "-4")
    {
        using var json = JsonDocument.Parse(Shell.Run("ip", "-n", ns.Name, "-j", family, "rule", "show"));
        return json.RootElement.EnumerateArray().Select(r =>
        {
            var selector = r.TryGetProperty("src", out var src) && src.GetString() != "all" ? $"from {src.GetString()}"
                : r.TryGetProperty("dst", out var dst) ? $"to {dst.GetString()}" : "all";
            var table = r.TryGetProperty("table", out var t) ? t.ToString() : "";
            var protocol = r.TryGetProperty("protocol", out var p) ? p.ToString() : "";
            return $"{selector} table {table} pref {r.GetProperty("priority")} proto {protocol}";
        }).Order().ToList();
    }

    public static List<string> OwnRules(NetworkNamespace ns) =>
        [.. Rules(ns, "-4").Concat(Rules(ns, "-6")).Where(r => r.EndsWith("proto 250", StringComparison.Ordinal)).Order()];

    /// <summary>"default via 10.0.0.1 dev eth1" / "10.0.0.0/24 dev eth1" lines of one table, sorted.</summary>
    public static List<string> Routes(NetworkNamespace ns, uint table, string family = "-4")
    {
        string output;
        try
        {
            output = Shell.Run("ip", "-n", ns.Name, "-j", family, "route", "show", "table", table.ToString());
        }
        catch (InvalidOperationException)
        {
            return []; // "table does not exist" once its last route is gone
        }
        if (string.IsNullOrWhiteSpace(output))
            return [];
        using var json = JsonDocument.Parse(output);
        return json.RootElement.EnumerateArray().Select(r =>
            $"{r.GetProperty("dst").GetString()}{(r.TryGetProperty("gateway", out var g) ? $" via {g.GetString()}" : "")} dev {r.GetProperty("dev").GetString()}")
            .Order().ToList();
    }
}
