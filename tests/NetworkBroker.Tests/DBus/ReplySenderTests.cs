using System.Net.Sockets;
using System.Text;
using NetworkBroker.DBus;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.DBus;

/// <summary>
/// A reply counts only from the one called. A real dbus-daemon refuses unrequested replies, so a bus of the
/// test's own plays a hostile one here: it answers a call to ":1.5" first from ":1.66", then from ":1.5".
/// </summary>
public class ReplySenderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_reply_from_anyone_but_the_one_called_is_ignored_and_said()
    {
        var path = _dir.Combine("bus.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var bus = Task.Run(async () =>
        {
            using var peer = await listener.AcceptAsync();
            var pending = new List<byte>();
            async Task<string> Line()
            {
                var buffer = new byte[1];
                var line = new StringBuilder();
                while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
                {
                    await peer.ReceiveAsync(buffer);
                    if (buffer[0] != 0)
                        line.Append((char)buffer[0]);
                }
                return line.ToString();
            }
            async Task<DBusMessage> Message()
            {
                var buffer = new byte[4096];
                while (true)
                {
                    var size = DBusMessage.TotalSize(pending.ToArray());
                    if (size > 0 && pending.Count >= size)
                    {
                        var message = DBusMessage.Decode(pending.Take(size).ToArray());
                        pending.RemoveRange(0, size);
                        return message;
                    }
                    var n = await peer.ReceiveAsync(buffer);
                    pending.AddRange(buffer.AsSpan(0, n).ToArray());
                }
            }
            Task Reply(DBusMessage call, string sender, string text) => peer.SendAsync(DBusMessage.Encode(DBusMessageType.MethodReturn,
                DBusMessageFlags.NoReplyExpected, 100 + call.Serial, null, null, null, ":1.7", "s", w => w.WriteString(text), call.Serial, sender: sender));

            Assert.StartsWith("AUTH EXTERNAL", await Line());
            await peer.SendAsync("OK 0123456789abcdef0123456789abcdef\r\n"u8.ToArray());
            Assert.Equal("BEGIN\r\n", await Line());
            var hello = await Message();
            await Reply(hello, ":1.66", ":1.7"); // a stranger answering for the bus
            await Reply(hello, "org.freedesktop.DBus", ":1.7");
            var call = await Message();
            Assert.Equal(":1.5", call.Destination);
            await Reply(call, ":1.66", "forged");
            await Reply(call, ":1.5", "genuine");
            // The callee is gone: the bus itself answers with an error, which counts.
            var orphan = await Message();
            await peer.SendAsync(DBusMessage.Encode(DBusMessageType.Error, DBusMessageFlags.NoReplyExpected, 200, null, null, null, ":1.7", "s",
                w => w.WriteString("The name is not activatable"), orphan.Serial, "org.freedesktop.DBus.Error.ServiceUnknown", sender: "org.freedesktop.DBus"));
        });

        var ignored = new List<string>();
        await using var connection = await DBusConnection.ConnectAsync($"unix:path={path}", _ => { }, e => { lock (ignored) ignored.Add(e.Message); });
        Assert.Equal(":1.7", connection.UniqueName);
        var reply = await connection.CallAsync(":1.5", "/x", "org.example.X", "Get", timeout: TimeSpan.FromSeconds(10));
        Assert.Equal("genuine", reply.BodyReader().ReadString());
        Assert.Equal(":1.5", reply.Sender);
        var gone = await Assert.ThrowsAsync<DBusErrorException>(() => connection.CallAsync(":1.5", "/x", "org.example.X", "Get", timeout: TimeSpan.FromSeconds(10)));
        Assert.Equal("org.freedesktop.DBus.Error.ServiceUnknown", gone.Name);
        await bus;
        Assert.Equal(["ignored a reply to call 1 from :1.66, not org.freedesktop.DBus", "ignored a reply to call 2 from :1.66, not :1.5"], ignored);
    }
}
