using System.Text;

namespace NetworkBroker.Scripts;

/// <summary>
/// Cuts a script's output into log lines with bounded memory: a line longer than
/// <see cref="MaxLineBytes"/> is emitted in pieces, and once <see cref="MaxLoggedBytes"/> have been
/// emitted the rest is only counted. A script printing megabytes costs a fixed buffer, never a heap
/// that grows with its output.
/// </summary>
public sealed class OutputLineSplitter(Action<string> emit, int maxLineBytes = OutputLineSplitter.MaxLineBytes,
    long maxLoggedBytes = OutputLineSplitter.MaxLoggedBytes)
{
    public const int MaxLineBytes = 4096;
    public const long MaxLoggedBytes = 64 * 1024;

    private readonly byte[] _line = new byte[maxLineBytes];
    private int _length;
    private long _logged;

    /// <summary>Bytes received but not logged because the per-run budget was spent.</summary>
    public long DroppedBytes { get; private set; }

    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_logged >= maxLoggedBytes)
            {
                DroppedBytes += data.Length;
                return;
            }
            var newline = data.IndexOf((byte)'\n');
            var take = newline < 0 ? data.Length : newline;
            var room = _line.Length - _length;
            if (take >= room)
            {
                data[..room].CopyTo(_line.AsSpan(_length));
                _length += room;
                Emit();
                data = data[room..];
                continue;
            }
            data[..take].CopyTo(_line.AsSpan(_length));
            _length += take;
            if (newline < 0)
                return;
            Emit();
            data = data[(take + 1)..];
        }
    }

    /// <summary>Emits a last line that had no newline.</summary>
    public void Complete()
    {
        if (_length > 0 && _logged < maxLoggedBytes)
            Emit();
    }

    private void Emit()
    {
        var span = _line.AsSpan(0, _length);
        if (span.EndsWith("\r"u8))
            span = span[..^1];
        _logged += _length + 1;
        _length = 0;
        emit(Encoding.UTF8.GetString(span));
    }
}
