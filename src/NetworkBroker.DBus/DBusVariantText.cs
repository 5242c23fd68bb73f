namespace NetworkBroker.DBus;

/// <summary>A variant as read by <see cref="DBusReader.ReadVariantText"/>: its signature, and its value when that is a string ("s").</summary>
public readonly record struct DBusVariantText(string Signature, string? Text);
