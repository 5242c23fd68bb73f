using System.Text;
using System.Text.Json;
using NetworkBroker.Scripts;

namespace NetworkBroker.Control;

/// <summary>
/// <c>run-scripts</c> asked of the daemon over the control socket: the request line is
/// <c>run-scripts {"state":"routable","link":"eth1","env":{"NAME":"value"}}</c>; the reply is JSON lines, one per
/// output line (<c>output</c>) and per script (<c>result</c>), then <c>done</c> (or <c>not-run</c> with why).
/// </summary>
public sealed record RunScriptsRequest(string State, string? Link, IReadOnlyList<KeyValuePair<string, string>> Environment)
{
    public const string Verb = "run-scripts";

    /// <summary>At most this long a request line; far above any state, link name and documented variables.</summary>
    public const int MaxBytes = 64 * 1024;

    public string ToLine()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("state", State);
            if (Link is not null)
                json.WriteString("link", Link);
            json.WriteStartObject("env");
            foreach (var (name, value) in Environment)
                json.WriteString(name, value);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Verb + " " + Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The request after the verb; null with <paramref name="error"/> when it is not one.</summary>
    public static RunScriptsRequest? Parse(string text, out string? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 4 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("state", out var state) || state.ValueKind != JsonValueKind.String)
                return Fail("a run-scripts request needs a \"state\"", out error);
            string? link = null;
            if (root.TryGetProperty("link", out var linkElement))
            {
                if (linkElement.ValueKind != JsonValueKind.String)
                    return Fail("\"link\" is not a string", out error);
                link = linkElement.GetString()!;
                // Before anything else: a name the kernel would never give a link (60 KB, or "lo" and a NUL that
                // slips past Links= and then loses the NUL on its way to LINK) makes no event and no log line.
                if (Configuration.LinkName.WhyNotInterfaceName(link) is { } why)
                    return Fail(why, out error);
            }
            var environment = new List<KeyValuePair<string, string>>();
            if (root.TryGetProperty("env", out var env))
            {
                if (env.ValueKind != JsonValueKind.Object)
                    return Fail("\"env\" is not an object", out error);
                foreach (var variable in env.EnumerateObject())
                {
                    if (!ScriptVariables.IsEventVariable(variable.Name))
                        return Fail($"\"{Logging.PeerText.Excerpt(variable.Name, 40)}\" is not a documented script variable", out error);
                    if (variable.Value.ValueKind != JsonValueKind.String)
                        return Fail($"{variable.Name} is not a string", out error);
                    environment.Add(new(variable.Name, variable.Value.GetString()!));
                }
            }
            return new RunScriptsRequest(state.GetString()!, link, environment);
        }
        catch (JsonException)
        {
            return Fail("a run-scripts request is one JSON object", out error);
        }
        catch (InvalidOperationException)
        {
            // GetString() of a string escaping half a surrogate pair ("\udcff"): JSON, but no text.
            return Fail("a run-scripts request holds a string that is not valid UTF-16", out error);
        }
    }

    private static RunScriptsRequest? Fail(string message, out string? error)
    {
        error = message;
        return null;
    }

    /// <summary>One reply line for what the observer saw.</summary>
    public static string Reply(ScriptObservation observation)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            switch (observation)
            {
                case ScriptObservation.Line line:
                    json.WriteString("event", "output");
                    json.WriteString("script", line.Script);
                    json.WriteString("stream", line.StandardError ? "stderr" : "stdout");
                    json.WriteString("line", line.Text);
                    break;
                case ScriptObservation.Result result:
                    json.WriteString("event", "result");
                    json.WriteString("script", result.Outcome.Path);
                    json.WriteString("result", MonitorEvents.Describe(result.Outcome));
                    json.WriteBoolean("succeeded", result.Outcome.Succeeded);
                    break;
                case ScriptObservation.Note note:
                    json.WriteString("event", "note");
                    json.WriteString("text", note.Text);
                    break;
                case ScriptObservation.NotRun notRun:
                    json.WriteString("event", "not-run");
                    json.WriteString("why", notRun.Why);
                    break;
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
