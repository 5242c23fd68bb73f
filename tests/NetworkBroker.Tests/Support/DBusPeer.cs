using NetworkBroker.DBus;

namespace NetworkBroker.Tests.Support;

/// <summary>The answer a test's stand-in service gives to a method call: a return with a body, or an error.</summary>
public sealed record DBusReply(string Signature, Action<DBusWriter>? Body, string? ErrorName = null)
{
    public static readonly DBusReply Empty = new("", null);

    public static DBusReply Error(string name, string text) => new("s", w => w.WriteString(text), name);
}

/// <summary>
/// What a test needs to stand in for a service on a bus (a recording resolved, a forger posing as networkd),
/// built on the connection's <see cref="DBusConnection.SendAsync"/>: the daemon's library is a client only.
/// </summary>
public static class DBusPeer
{
    /// <summary>
    /// A connection that answers the method calls made to it with <paramref name="methods"/> (null: UnknownMethod);
    /// a <see cref="DBusFormatException"/> while reading the arguments answers InvalidArgs.
    /// </summary>
    public static Task<DBusConnection> ServeAsync(string address, Func<DBusMessage, DBusReply?> methods) =>
        DBusConnection.ConnectAsync(address, _ => { }, methodCall: (connection, call) =>
        {
            DBusReply? answer;
            try
            {
                answer = methods(call);
            }
            catch (DBusFormatException e)
            {
                answer = DBusReply.Error("org.freedesktop.DBus.Error.InvalidArgs", e.Message);
            }
            if (answer is null)
                return false;
            if (!call.Flags.HasFlag(DBusMessageFlags.NoReplyExpected))
                _ = connection.SendAsync(DBusMessage.Encode(answer.ErrorName is null ? DBusMessageType.MethodReturn : DBusMessageType.Error,
                    DBusMessageFlags.NoReplyExpected, connection.NextSerial(), null, null, null, call.Sender, answer.Signature, answer.Body,
                    call.Serial, answer.ErrorName));
            return true;
        });

    /// <summary>Broadcasts a signal from this connection.</summary>
    public static Task EmitSignalAsync(this DBusConnection connection, string path, string iface, string member, string signature = "",
        Action<DBusWriter>? body = null) =>
        connection.SendAsync(DBusMessage.Encode(DBusMessageType.Signal, DBusMessageFlags.None, connection.NextSerial(), path, iface, member,
            null, signature, body));

    /// <summary>org.freedesktop.DBus.RequestName with no flags: this connection owns <paramref name="name"/> (or queues for it).</summary>
    public static Task RequestNameAsync(this DBusConnection connection, string name) =>
        connection.CallAsync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su",
            w => { w.WriteString(name); w.WriteUInt32(0); });
}
