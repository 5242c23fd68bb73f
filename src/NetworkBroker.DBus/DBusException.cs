namespace NetworkBroker.DBus;

/// <summary>A message that does not follow the D-Bus wire format: the one failure the reader allows.</summary>
public sealed class DBusFormatException(string message) : Exception(message);

/// <summary>An error reply to a method call (org.freedesktop.DBus.Error.*, or the service's own).</summary>
public sealed class DBusErrorException(string name, string? text, string call)
    : Exception($"{call}: {name}{(string.IsNullOrEmpty(text) ? "" : ": " + text)}")
{
    public string Name { get; } = name;
    public string? Text { get; } = text;
}

/// <summary>The connection is gone (the bus stopped, or it closed us), or could not be made.</summary>
public sealed class DBusConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A signal or method call larger than a connection reads (<see cref="DBusConnection.MaxUnrequestedSize"/>): skipped unread.</summary>
public sealed class DBusMessageTooLargeException(DBusMessageType type, long size)
    : Exception($"dropped a {TypeName(type)} of {size} bytes unread: over the {DBusConnection.MaxUnrequestedSize / 1024} KiB a message nobody asked for may have")
{
    public DBusMessageType Type { get; } = type;
    public long Size { get; } = size;

    private static string TypeName(DBusMessageType type) => type switch
    {
        DBusMessageType.Signal => "signal",
        DBusMessageType.MethodCall => "method call",
        _ => $"message of type {(byte)type}",
    };
}
