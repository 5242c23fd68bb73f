using System.Globalization;
using System.Text;
using NetworkBroker.Logging;

namespace NetworkBroker.Configuration;

/// <summary>Renders the effective configuration as TOML that the loader reads back to the same value.</summary>
public static class ConfigurationFormatter
{
    public static string Format(BrokerConfiguration config) => Format(config, null, []);

    /// <summary>With the drop-ins read and, after each key a file or the environment set, "# from FILE:LINE".</summary>
    public static string Format(LoadedConfiguration loaded) => Format(loaded.Config, loaded.Origins, loaded.DropIns);

    private static string Format(BrokerConfiguration config, IReadOnlyDictionary<string, ConfigurationOrigin>? origins, IReadOnlyList<string> dropIns)
    {
        var text = new StringBuilder();
        text.Append("# effective configuration of ").Append(config.Path).Append('\n');
        foreach (var dropIn in dropIns)
            text.Append("#   and its drop-in ").Append(Comment(dropIn)).Append('\n');
        if (origins is not null)
            text.Append("# a key without \"# from\" has its default\n");
        var section = "System";
        void Key(string key, string value)
        {
            text.Append(key).Append(" = ").Append(value);
            if (origins?.GetValueOrDefault(LoadedConfiguration.KeyName(section, key)) is { } origin)
                text.Append("  # from ").Append(Comment(origin.ToString()));
            text.Append('\n');
        }

        text.Append("[System]\n");
        Key("LogLevel", Quote(config.LogLevel.Name()));
        Key("LogFormat", Quote(config.LogFormat.Name()));
        Key("Generator", Quote(EventSourceNames.Format(config.Generator)));
        Key("User", Quote(config.User));
        Key("DHClientLeaseFile", Quote(config.DHClientLeaseFile));
        Key("ScriptTimeoutSec", ((long)config.ScriptTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        Key("RunStartupTriggers", Bool(config.RunStartupTriggers));
        Key("ScriptDirectories", Quote(string.Join(' ', config.ScriptRoots)));
        text.Append("\n[Network]\n");
        section = "Network";
        Key("Links", Quote(config.Links.ToString()));
        Key("RoutingPolicyRules", Quote(string.Join(' ', config.RoutingPolicyRules)));
        Key("UseDNS", Bool(config.UseDNS));
        Key("UseDomain", Bool(config.UseDomain));
        Key("UseHostname", Bool(config.UseHostname));
        Key("EmitJSON", Bool(config.EmitJSON));
        Key("EmitNetworkdDispatcherJSON", Bool(config.EmitNetworkdDispatcherJSON));
        Key("RouteTableBase", config.RouteTableBase.ToString(CultureInfo.InvariantCulture));
        Key("RoutingPolicyRulePriority", config.RoutingPolicyRulePriority.ToString(CultureInfo.InvariantCulture));
        Key("RemoveRulesOnStop", Bool(config.RemoveRulesOnStop));
        Key("StateProperties", Quote(string.Join(' ', config.StateProperties)));
        return text.ToString();
    }

    /// <summary>A file name in a comment: a control character in it must not end the comment and begin a line of TOML.</summary>
    private static string Comment(string text) => string.Create(text.Length, text, (span, source) =>
    {
        for (var i = 0; i < source.Length; i++)
            span[i] = char.IsControl(source[i]) ? '?' : source[i];
    });

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
