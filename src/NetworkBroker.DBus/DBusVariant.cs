namespace NetworkBroker.DBus;

/// <summary>A value to write as a variant, with the signature it is to carry.</summary>
public sealed record DBusVariant(string Signature, object Value);
