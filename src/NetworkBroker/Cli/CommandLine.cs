namespace NetworkBroker.Cli;

/// <summary>What the user asked for on the command line.</summary>
public enum CommandKind
{
    Run,
    CheckConfig,
    RunScripts,
    Status,
    Monitor,
    Help,
    Version,
}

/// <summary>A parsed command line; <see cref="Error"/> is set (and the rest meaningless) when it did not parse.</summary>
public sealed record CommandLine
{
    public CommandKind Command { get; init; } = CommandKind.Run;
    public string ConfigPath { get; init; } = Configuration.BrokerConfiguration.DefaultPath;
    /// <summary>--config was given: then the file must exist (a mistyped path must not mean "the defaults, scripts there").</summary>
    public bool ConfigGiven { get; init; }
    /// <summary>run-scripts: the synthesised event's link and state (the directory <c>&lt;state&gt;.d</c>).</summary>
    public string? Link { get; init; }
    public string? State { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];
    /// <summary>monitor: JSON lines rather than text; status: one JSON object.</summary>
    public bool Json { get; init; }
    /// <summary>check-config: print nothing when the file is valid (for ExecReload=).</summary>
    public bool Quiet { get; init; }
    /// <summary>status: also the effective configuration.</summary>
    public bool Verbose { get; init; }
    public string? Error { get; init; }
    /// <summary>Help: the command it is about (<c>status --help</c>, <c>help status</c>), null for the whole program.</summary>
    public CommandKind? HelpTopic { get; init; }
}
