using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NetworkBroker.Control;

/// <summary>
/// Renders a monitor JSON line for people: "18:40:58.123 eth1 state OperationalState=routable".
/// Generic over the fields, so a new kind of event shows without a change here. Every text from the line (a link's
/// name, a script's output, a peer's value) shows its control characters as \xNN, as the log does: JSON carries an
/// ESC escaped, and a terminal must not get it raw.
/// </summary>
public static class MonitorText
{
    public static string Render(string line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            return Shown(line);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return Shown(line);
            var text = new StringBuilder();
            text.Append(root.TryGetProperty("time", out var time) && time.TryGetDateTime(out var at)
                ? at.ToUniversalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)
                : "--:--:--.---");
            if (root.TryGetProperty("link", out _))
                text.Append(' ').Append(Field(root, "link"));
            if (root.TryGetProperty("event", out _))
                text.Append(' ').Append(Field(root, "event"));
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is "time" or "link" or "event" or "ifindex")
                    continue;
                if (property.Name == "scripts" && property.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var script in property.Value.EnumerateArray())
                        text.Append("\n    ").Append(Field(script, "script")).Append(": ").Append(Field(script, "result"));
                    continue;
                }
                text.Append(' ').Append(Shown(property.Name)).Append('=').Append(Value(property.Value));
            }
            return text.ToString();
        }
    }

    private static string Field(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind == JsonValueKind.String ? Shown(value.GetString()) : Value(value)
            : "";

    private static string Value(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => Shown(value.GetString()) is var s && s.Contains(' ') ? $"\"{s}\"" : s,
        JsonValueKind.Array => "[" + string.Join(", ", value.EnumerateArray().Select(Value)) + "]",
        _ => value.GetRawText(),
    };

    private static string Shown(string? text) => Netlink.KernelText.DisplayMessage(text ?? "");
}
