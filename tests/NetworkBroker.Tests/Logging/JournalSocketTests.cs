using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using NetworkBroker.Logging;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Logging;

/// <summary>Entries in journald's native protocol, read back from a socket that stands in for journald's.</summary>
public class JournalSocketTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Socket _journald = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public JournalSocketTests() => _journald.Bind(new UnixDomainSocketEndPoint(_dir.Combine("socket")));

    public void Dispose()
    {
        _journald.Dispose();
        _dir.Dispose();
    }

    /// <summary>One datagram as journald reads it (journal_importer): KEY=value lines, or KEY, a newline, a length and the bytes.</summary>
    private List<(string Key, byte[] Value)> Receive()
    {
        var datagram = new byte[256 * 1024];
        _journald.ReceiveTimeout = 10_000;
        var entry = datagram.AsSpan(0, _journald.Receive(datagram));
        var fields = new List<(string, byte[])>();
        while (!entry.IsEmpty)
        {
            var end = entry.IndexOfAny((byte)'=', (byte)'\n');
            var key = Encoding.ASCII.GetString(entry[..end]);
            if (entry[end] == (byte)'=')
            {
                var line = entry[(end + 1)..].IndexOf((byte)'\n');
                fields.Add((key, entry.Slice(end + 1, line).ToArray()));
                entry = entry[(end + 1 + line + 1)..];
            }
            else
            {
                var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(entry[(end + 1)..]);
                fields.Add((key, entry.Slice(end + 9, length).ToArray()));
                entry = entry[(end + 9 + length + 1)..];
            }
        }
        return fields;
    }

    [Fact]
    public void MESSAGE_shows_control_characters_as_the_text_log_does_and_other_fields_keep_their_bytes()
    {
        using var journal = new JournalSocket(_dir.Combine("socket"));
        var text = new MemoryLog(journal: true);
        var logger = new Logger(Stream.Null, LogLevel.Debug, LogFormat.Text, journal: true, journal);
        const string Output = "routable.d/50-echo: 1.2.3.4\u001b[31mRED\tx\u009b";

        logger.ForLink("e\u001bth1", 3).Info(Output, new LogField("STATE", "rout\u001bable"));
        text.Logger.ForLink("e\u001bth1", 3).Info(Output);

        var fields = Receive();
        var message = Encoding.UTF8.GetString(fields.Single(f => f.Key == "MESSAGE").Value);
        Assert.Equal(@"e\x1bth1: routable.d/50-echo: 1.2.3.4\x1b[31mRED\x09x\xc2\x9b", message);
        Assert.Equal("<6>" + message, Assert.Single(text.Lines));
        Assert.Equal(@"e\x1bth1", Encoding.UTF8.GetString(fields.Single(f => f.Key == "LINK").Value));
        Assert.Equal("rout\u001bable"u8.ToArray(), fields.Single(f => f.Key == "STATE").Value);
    }

    [Theory]
    [InlineData("X\nMESSAGE")]
    [InlineData("X=1\nPRIORITY")]
    [InlineData("_PID")]
    [InlineData("1X")]
    [InlineData("lower")]
    [InlineData("")]
    public void A_field_whose_name_journald_would_not_take_is_left_out_and_cannot_make_fields_of_its_own(string name)
    {
        using var journal = new JournalSocket(_dir.Combine("socket"));
        Assert.True(journal.Send([("MESSAGE", "hello"), (name, "0"), ("PRIORITY", "6")]));

        Assert.Equal(["MESSAGE", "PRIORITY"], Receive().Select(f => f.Key));
        Assert.False(JournalSocket.IsFieldName(name));
    }

    [Theory]
    [InlineData("MESSAGE")]
    [InlineData("EXIT_STATUS")]
    [InlineData("X1")]
    public void The_daemons_own_field_names_are_journal_field_names(string name) => Assert.True(JournalSocket.IsFieldName(name));
}
