using System.Threading.Channels;

namespace NetworkBroker.Scripts;

/// <summary>
/// Someone waiting on one event's runs (<c>run-scripts</c> through the control socket): it receives each
/// script's output lines and result as they come, then the end. Given variables it adds to the event's own
/// (<c>run-scripts --env</c>), applied last.
/// </summary>
public sealed class ScriptObserver(IReadOnlyList<KeyValuePair<string, string>> overrides)
{
    private readonly Channel<ScriptObservation> _observations = Channel.CreateUnbounded<ScriptObservation>(
        new UnboundedChannelOptions { SingleReader = true });

    public IReadOnlyList<KeyValuePair<string, string>> Overrides => overrides;

    public ChannelReader<ScriptObservation> Observations => _observations.Reader;

    public void Output(string script, bool standardError, string line) =>
        _observations.Writer.TryWrite(new ScriptObservation.Line(script, standardError, line));

    /// <summary>Something the asker should know about the event made (it had to be synthesised, say).</summary>
    public void Note(string text) => _observations.Writer.TryWrite(new ScriptObservation.Note(text));

    public void Finished(ScriptResult result) => _observations.Writer.TryWrite(new ScriptObservation.Result(result));

    /// <summary>The event's runs are over: <paramref name="why"/> says why none ran (or the rest did not), null when they all did.</summary>
    public void Complete(string? why = null)
    {
        if (why is not null)
            _observations.Writer.TryWrite(new ScriptObservation.NotRun(why));
        _observations.Writer.TryComplete();
    }
}

/// <summary>What a <see cref="ScriptObserver"/> sees.</summary>
public abstract record ScriptObservation
{
    public sealed record Line(string Script, bool StandardError, string Text) : ScriptObservation;

    public sealed record Result(ScriptResult Outcome) : ScriptObservation;

    public sealed record NotRun(string Why) : ScriptObservation;

    public sealed record Note(string Text) : ScriptObservation;
}
