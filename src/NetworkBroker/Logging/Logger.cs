using System.Buffers;
using System.Text;
using System.Text.Json;

namespace NetworkBroker.Logging;

/// <summary>One structured field of a log line (rendered as key=value in text, a member in JSON).</summary>
public readonly record struct LogField(string Name, string Value);

/// <summary>
/// The daemon's logger. Deliberately not Microsoft.Extensions.Logging: under NativeAOT that adds
/// about 3.4 MB of RSS and 4 ms of start-up, more than half of the daemon's idle budget, for a
/// feature set we use one line of. Lines go to stderr whole (one write per line), so systemd's
/// journal or a terminal never sees two lines interleaved.
/// </summary>
public sealed class Logger
{
    private readonly Stream _sink;
    private readonly Lock _gate = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly bool _journal;
    private readonly JournalSocket? _native;

    public Logger(Stream sink, LogLevel level, LogFormat format, bool journal, JournalSocket? native = null)
    {
        _sink = sink;
        Level = level;
        Format = format;
        _journal = journal;
        _native = native;
    }

    /// <summary>
    /// A logger for this process: when stderr is the journal, entries go to journald with their fields
    /// (LINK=, IFINDEX=, SCRIPT=, EXIT_STATUS=, ...), falling back to stderr lines with a priority prefix.
    /// </summary>
    public static Logger ToStandardError(LogLevel level, LogFormat format) =>
        new(Console.OpenStandardError(), level, format,
            journal: !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM")), JournalSocket.IfAvailable());

    /// <summary>Swapped on configuration reload; reads and writes of an enum are atomic.</summary>
    public LogLevel Level { get; set; }

    public LogFormat Format { get; set; }

    public bool IsEnabled(LogLevel level) => level >= Level;

    public LinkLog ForLink(string link, int ifindex = 0) => new(this, link, ifindex);

    public void Debug(string message) => Write(LogLevel.Debug, null, 0, message);
    public void Info(string message) => Write(LogLevel.Info, null, 0, message);
    public void Warn(string message) => Write(LogLevel.Warn, null, 0, message);
    public void Error(string message) => Write(LogLevel.Error, null, 0, message);
    public void Fatal(string message) => Write(LogLevel.Fatal, null, 0, message);

    public void Write(LogLevel level, string? link, int ifindex, string message, ReadOnlySpan<LogField> fields = default)
    {
        if (!IsEnabled(level))
            return;
        // A link name is the kernel's bytes, and may be no UTF-8 at all: its printable form, the same everywhere.
        // A message may quote a script's output or a peer's value: its control characters are shown as \xNN
        // the same way, for the text line, JSON and the journal alike, so a line never breaks nor carries an ESC.
        if (link is not null)
            link = Netlink.KernelText.Display(link);
        message = Netlink.KernelText.DisplayMessage(message);

        if (_native is not null && SendNative(level, link, ifindex, message, fields))
            return;

        var now = DateTime.UtcNow;
        lock (_gate)
        {
            _buffer.Clear();
            if (_journal)
                Encoding.UTF8.GetBytes($"<{level.SyslogPriority()}>", _buffer);

            if (Format == LogFormat.Json)
                RenderJson(now, level, link, ifindex, message, fields);
            else
                RenderText(now, level, link, message);

            _buffer.GetSpan(1)[0] = (byte)'\n';
            _buffer.Advance(1);
            try
            {
                _sink.Write(_buffer.WrittenSpan);
                _sink.Flush();
            }
            catch (IOException)
            {
                // stderr gone (closed pipe, full disk): a logger must never take the daemon down.
            }
        }
    }

    private bool SendNative(LogLevel level, string? link, int ifindex, string message, ReadOnlySpan<LogField> fields)
    {
        var entry = new List<(string, string)>(6 + fields.Length)
        {
            ("MESSAGE", string.IsNullOrEmpty(link) ? message : $"{link}: {message}"),
            ("PRIORITY", level.SyslogPriority().ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("SYSLOG_IDENTIFIER", "network-broker"),
        };
        if (!string.IsNullOrEmpty(link))
        {
            entry.Add(("LINK", link));
            // networkd's own field for the link: one `journalctl INTERFACE=eth1` shows both daemons' lines.
            entry.Add(("INTERFACE", link));
        }
        if (ifindex > 0)
            entry.Add(("IFINDEX", ifindex.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        foreach (var field in fields)
            entry.Add((field.Name, field.Value));
        return _native!.Send(entry);
    }

    private void RenderText(DateTime now, LogLevel level, string? link, string message)
    {
        // journald stamps lines itself; elsewhere a timestamp and level make the line self-contained.
        if (!_journal)
        {
            Span<char> stamp = stackalloc char[24];
            now.TryFormat(stamp, out var length, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            Encoding.UTF8.GetBytes(stamp[..length], _buffer);
            _buffer.Write(" "u8);
            Encoding.UTF8.GetBytes(level.Name(), _buffer);
            _buffer.Write(" "u8);
        }
        if (!string.IsNullOrEmpty(link))
        {
            Encoding.UTF8.GetBytes(link, _buffer);
            _buffer.Write(": "u8);
        }
        // Structured fields are for machines (JSON, the journal); the text line's message already says it for people.
        // Link and message hold no control character (Write): the line is one line as it stands.
        Encoding.UTF8.GetBytes(message, _buffer);
    }

    private void RenderJson(DateTime now, LogLevel level, string? link, int ifindex, string message, ReadOnlySpan<LogField> fields)
    {
        using var json = new Utf8JsonWriter(_buffer);
        json.WriteStartObject();
        json.WriteString("time", now);
        json.WriteString("level", level.Name());
        if (!string.IsNullOrEmpty(link))
            json.WriteString("link", link);
        if (ifindex > 0)
            json.WriteNumber("ifindex", ifindex);
        json.WriteString("message", message);
        foreach (var field in fields)
            json.WriteString(field.Name.ToLowerInvariant(), field.Value);
        json.WriteEndObject();
    }
}

/// <summary>A logger bound to one link: every line starts with the link's name, as networkd's do.</summary>
public readonly struct LinkLog(Logger logger, string link, int ifindex)
{
    public void Debug(string message, params ReadOnlySpan<LogField> fields) => logger.Write(LogLevel.Debug, link, ifindex, message, fields);
    public void Info(string message, params ReadOnlySpan<LogField> fields) => logger.Write(LogLevel.Info, link, ifindex, message, fields);
    public void Warn(string message, params ReadOnlySpan<LogField> fields) => logger.Write(LogLevel.Warn, link, ifindex, message, fields);
    public void Error(string message, params ReadOnlySpan<LogField> fields) => logger.Write(LogLevel.Error, link, ifindex, message, fields);
    public bool IsEnabled(LogLevel level) => logger.IsEnabled(level);
}
