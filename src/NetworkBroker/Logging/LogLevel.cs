namespace NetworkBroker.Logging;

/// <summary>Severity of a log line; the names are the configuration's vocabulary.</summary>
public enum LogLevel
{
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

/// <summary>How log lines are rendered.</summary>
public enum LogFormat
{
    Text,
    Json,
}

public static class LogLevelNames
{
    public static string Name(this LogLevel level) => level switch
    {
        LogLevel.Debug => "debug",
        LogLevel.Info => "info",
        LogLevel.Warn => "warn",
        LogLevel.Error => "error",
        _ => "fatal",
    };

    public static string Name(this LogFormat format) => format == LogFormat.Json ? "json" : "text";

    public static bool TryParseLevel(string value, out LogLevel level)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "debug": level = LogLevel.Debug; return true;
            case "info": level = LogLevel.Info; return true;
            case "warn" or "warning": level = LogLevel.Warn; return true;
            case "error": level = LogLevel.Error; return true;
            case "fatal": level = LogLevel.Fatal; return true;
            default: level = LogLevel.Info; return false;
        }
    }

    public static bool TryParseFormat(string value, out LogFormat format)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "text": format = LogFormat.Text; return true;
            case "json": format = LogFormat.Json; return true;
            default: format = LogFormat.Text; return false;
        }
    }

    /// <summary>syslog(3) priority, as journald reads it from a "&lt;N&gt;" line prefix.</summary>
    public static int SyslogPriority(this LogLevel level) => level switch
    {
        LogLevel.Debug => 7,
        LogLevel.Info => 6,
        LogLevel.Warn => 4,
        LogLevel.Error => 3,
        _ => 2,
    };
}
