namespace NetworkBroker.DBus;

/// <summary>The answer to a method call made to us: a return with a body, or an error.</summary>
public sealed record DBusReply(string Signature, Action<DBusWriter>? Body, string? ErrorName = null)
{
    public static readonly DBusReply Empty = new("", null);

    public static DBusReply Error(string name, string text) => new("s", w => w.WriteString(text), name);
}
