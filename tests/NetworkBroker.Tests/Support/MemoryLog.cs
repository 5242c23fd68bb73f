using System.Text;
using NetworkBroker.Logging;

namespace NetworkBroker.Tests.Support;

/// <summary>A logger whose lines a test can read back.</summary>
public sealed class MemoryLog
{
    private readonly MemoryStream _stream = new();

    public MemoryLog(LogLevel level = LogLevel.Debug, LogFormat format = LogFormat.Text, bool journal = false) =>
        Logger = new Logger(new SynchronizedStream(_stream), level, format, journal);

    public Logger Logger { get; }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_stream)
                return Encoding.UTF8.GetString(_stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
    }

    public string Text => string.Join('\n', Lines);

    private sealed class SynchronizedStream(MemoryStream inner) : WriteOnlyStream
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (inner)
                inner.Write(buffer);
        }
    }
}
