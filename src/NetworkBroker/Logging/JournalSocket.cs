using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace NetworkBroker.Logging;

/// <summary>
/// journald's native protocol (systemd.journal-fields(7), sd_journal_sendv): one datagram per entry of
/// KEY=value lines, so that fields such as LINK= and SCRIPT= can be queried (journalctl LINK=eth1).
/// A value holding a newline is sent as KEY, a newline, its 64-bit little-endian length and the bytes: a value
/// may hold any byte. A name never: it frames the entry, so one that is not a journal field name is not sent.
/// MESSAGE comes escaped as the text log's line is (<see cref="Logger.Write"/>), so both read the same.
/// </summary>
public sealed class JournalSocket : IDisposable
{
    public const string DefaultPath = "/run/systemd/journal/socket";
    private const int MaxValueBytes = 48 * 1024;

    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _endpoint;

    public JournalSocket(string path = DefaultPath) => _endpoint = new UnixDomainSocketEndPoint(path);

    /// <summary>When stderr is the journal (JOURNAL_STREAM) and its socket exists.</summary>
    public static JournalSocket? IfAvailable() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM")) && File.Exists(DefaultPath) ? new JournalSocket() : null;

    /// <returns>False when the journal could not take the entry (the caller falls back to stderr).</returns>
    public bool Send(IReadOnlyList<(string Key, string Value)> fields)
    {
        using var entry = new MemoryStream(256);
        Span<byte> length = stackalloc byte[8];
        foreach (var (key, value) in fields)
        {
            // A newline or '=' in a name would end it early and make the rest of the entry fields of its own.
            if (!IsFieldName(key))
                continue;
            var bytes = Encoding.UTF8.GetBytes(value);
            if (bytes.Length > MaxValueBytes)
                bytes = bytes[..MaxValueBytes];
            entry.Write(Encoding.ASCII.GetBytes(key));
            if (Array.IndexOf(bytes, (byte)'\n') < 0)
            {
                entry.WriteByte((byte)'=');
                entry.Write(bytes);
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)bytes.Length);
                entry.WriteByte((byte)'\n');
                entry.Write(length);
                entry.Write(bytes);
            }
            entry.WriteByte((byte)'\n');
        }
        try
        {
            _socket.SendTo(entry.GetBuffer().AsSpan(0, (int)entry.Length), SocketFlags.None, _endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// journald's rule for a field a client may send (journal_field_valid): 1-64 of A-Z, 0-9 and '_', not
    /// beginning with a digit, nor with '_' (journald's own trusted fields, which it drops from a client).
    /// </summary>
    public static bool IsFieldName(string name) =>
        name.Length is > 0 and <= 64 && name[0] is >= 'A' and <= 'Z' && !name.AsSpan().ContainsAnyExcept(FieldNameCharacters);

    private static readonly System.Buffers.SearchValues<char> FieldNameCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

    public void Dispose() => _socket.Dispose();
}
