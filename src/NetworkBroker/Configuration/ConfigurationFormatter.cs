using System.Globalization;
using System.Text;
using NetworkBroker.Logging;

namespace NetworkBroker.Configuration;

/// <summary>Renders the effective configuration as TOML that the loader reads back to the same value.</summary>
public static class ConfigurationFormatter
{
    public static string Format(BrokerConfiguration config)
    {
        var text = new StringBuilder();
        text.Append("# effective configuration of ").Append(config.Path).Append('\n');
        text.Append("[System]\n");
        Key(text, "LogLevel", Quote(config.LogLevel.Name()));
        Key(text, "LogFormat", Quote(config.LogFormat.Name()));
        Key(text, "Generator", Quote(EventSourceNames.Format(config.Generator)));
        Key(text, "User", Quote(config.User));
        Key(text, "DHClientLeaseFile", Quote(config.DHClientLeaseFile));
        Key(text, "ScriptTimeoutSec", ((long)config.ScriptTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        Key(text, "RunStartupTriggers", Bool(config.RunStartupTriggers));
        Key(text, "ScriptDirectories", Quote(string.Join(' ', config.ScriptRoots)));
        text.Append("\n[Network]\n");
        Key(text, "Links", Quote(config.Links.ToString()));
        Key(text, "RoutingPolicyRules", Quote(string.Join(' ', config.RoutingPolicyRules)));
        Key(text, "UseDNS", Bool(config.UseDNS));
        Key(text, "UseDomain", Bool(config.UseDomain));
        Key(text, "UseHostname", Bool(config.UseHostname));
        Key(text, "EmitJSON", Bool(config.EmitJSON));
        Key(text, "RouteTableBase", config.RouteTableBase.ToString(CultureInfo.InvariantCulture));
        Key(text, "RoutingPolicyRulePriority", config.RoutingPolicyRulePriority.ToString(CultureInfo.InvariantCulture));
        Key(text, "RemoveRulesOnStop", Bool(config.RemoveRulesOnStop));
        Key(text, "StateProperties", Quote(string.Join(' ', config.StateProperties)));
        return text.ToString();
    }

    private static void Key(StringBuilder text, string key, string value) =>
        text.Append(key).Append(" = ").Append(value).Append('\n');

    private static string Bool(bool value) => value ? "true" : "false";

    private static string Quote(string value)
    {
        var quoted = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': quoted.Append("\\\""); break;
                case '\\': quoted.Append("\\\\"); break;
                case < ' ': quoted.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)); break;
                default: quoted.Append(c); break;
            }
        }
        return quoted.Append('"').ToString();
    }
}
