using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace NetworkBroker.DBus;

/// <summary>
/// A connection to a message bus: EXTERNAL authentication, Hello, method calls matched to their replies
/// by serial (each with a timeout), and signals handed to one callback in the order they arrived. When
/// the bus goes away every pending call fails and <see cref="Closed"/> completes; reconnecting is the
/// caller's decision. It is a client: a method call made to it is answered UnknownMethod, unless the
/// <c>methodCall</c> hook given to <see cref="ConnectAsync"/> takes it (a peer standing in for a service
/// in a test builds its replies on <see cref="SendAsync"/>; the daemon answers nothing).
/// </summary>
/// <remarks>
/// The socket is a blocking one, read by a thread of the connection's own and written under a lock, and never
/// used asynchronously: the runtime's socket engine would wake its epoll thread for every message and hand each
/// to a pool worker, two thread switches before the first byte is read (a signal costs one wake-up here). Sends
/// are small and the bus reads them at once; SO_SNDTIMEO bounds one that does not go. Stopping shuts the socket
/// down, which ends the reader's receive.
/// </remarks>
public sealed partial class DBusConnection : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(25);

    private readonly Socket _socket;
    private readonly Action<DBusMessage> _signal;
    private readonly Action<Exception>? _malformed;
    /// <summary>How long connecting and authenticating may take, and one send at most.</summary>
    private static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(25);

    private readonly Lock _sendLock = new();
    private readonly ConcurrentDictionary<uint, PendingCall> _pending = new();
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _readerEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private int _serial;
    private long _received;
    private Thread? _reader;

    private readonly Func<DBusConnection, DBusMessage, bool>? _methodCall;

    private DBusConnection(Socket socket, Action<DBusMessage> signal, Action<Exception>? malformed, Func<DBusConnection, DBusMessage, bool>? methodCall)
    {
        _socket = socket;
        _signal = signal;
        _malformed = malformed;
        _methodCall = methodCall;
    }

    /// <summary>The bus's name for us (":1.42").</summary>
    public string UniqueName { get; private set; } = "";

    /// <summary>Completes when the connection ends: with null after <see cref="DisposeAsync"/>, else with why.</summary>
    public Task<Exception?> Closed => _closed.Task;

    /// <param name="signal">Called for each signal, on the connection's reader, in arrival order.</param>
    /// <param name="malformed">
    /// Called with the error of a message that did not decode, or a <see cref="DBusMessageTooLargeException"/> for one too large
    /// to read (each is skipped).
    /// </param>
    /// <param name="methodCall">
    /// Offered each method call made to this connection, on the reader; true when it answers the call itself (with
    /// <see cref="SendAsync"/>). Null, or false: UnknownMethod is replied when the caller expects a reply.
    /// </param>
    public static async Task<DBusConnection> ConnectAsync(string address, Action<DBusMessage> signal,
        Action<Exception>? malformed = null, CancellationToken cancellation = default, Func<DBusConnection, DBusMessage, bool>? methodCall = null)
    {
        Exception? last = null;
        string? reason = null;
        foreach (var endpoint in DBusAddress.Parse(address))
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            DBusConnection? connection = null;
            try
            {
                cancellation.ThrowIfCancellationRequested();
                socket.SendTimeout = socket.ReceiveTimeout = (int)IoTimeout.TotalMilliseconds;
                connection = new DBusConnection(socket, signal, malformed, methodCall);
                // Blocking calls, off the caller's thread: a bus that accepts but does not answer holds a pool thread until
                // the timeout, not the caller, who may give up at once (disposing the connection ends the exchange).
                var opening = connection;
                var leftover = await Task.Run(() =>
                {
                    socket.Connect(endpoint);
                    return opening.Authenticate();
                }, CancellationToken.None).WaitAsync(cancellation).ConfigureAwait(false);
                // The reader waits for ever; stopping shuts the socket down.
                socket.ReceiveTimeout = 0;
                connection.StartReader(leftover);
                var hello = await connection.CallAsync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello",
                    cancellation: cancellation).ConfigureAwait(false);
                connection.UniqueName = hello.BodyReader("s").ReadString();
                return connection;
            }
            catch (Exception e)
            {
                if (connection is not null)
                    await connection.DisposeAsync().ConfigureAwait(false);
                socket.Dispose();
                if (e is not (SocketException or IOException or DBusFormatException or DBusErrorException or DBusConnectionException))
                    throw;
                last = e;
                // Linux says ENOENT for a socket path that is not there; .NET maps it to "Cannot assign requested address".
                reason = e is SocketException && endpoint.ToString() is { Length: > 0 } path && path[0] != '\0' && !File.Exists(path)
                    ? "no such socket (is the bus running?)"
                    : e is SocketException { SocketErrorCode: SocketError.ConnectionRefused } ? "connection refused (nobody listens on the socket)"
                    : e is SocketException { SocketErrorCode: SocketError.AccessDenied } ? "permission denied"
                    : e is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock } ? $"no answer within {IoTimeout.TotalSeconds} s"
                    : e.Message;
            }
        }
        throw new DBusConnectionException($"cannot connect to the bus at {address}: {reason}", last);
    }

    /// <summary>The SASL exchange: a NUL byte (credentials), AUTH EXTERNAL with our uid, then BEGIN.</summary>
    private byte[] Authenticate()
    {
        var uid = Native.geteuid().ToString(CultureInfo.InvariantCulture);
        var hexUid = Convert.ToHexStringLower(Encoding.ASCII.GetBytes(uid));
        SendAll(Encoding.ASCII.GetBytes($"\0AUTH EXTERNAL {hexUid}\r\n"));

        var received = new List<byte>();
        var buffer = new byte[512];
        while (true)
        {
            var n = _socket.Receive(buffer);
            if (n == 0)
                throw new DBusConnectionException("the bus closed the connection during authentication");
            received.AddRange(buffer.AsSpan(0, n));
            var text = received.ToArray();
            var end = text.AsSpan().IndexOf("\r\n"u8);
            if (end < 0)
            {
                if (received.Count > 4096)
                    throw new DBusConnectionException("authentication reply too long");
                continue;
            }
            var line = Encoding.ASCII.GetString(text, 0, end);
            if (!line.StartsWith("OK ", StringComparison.Ordinal))
                throw new DBusConnectionException($"authentication refused: {line}");
            SendAll("BEGIN\r\n"u8);
            return text[(end + 2)..];
        }
    }

    public async Task<DBusMessage> CallAsync(string destination, string path, string iface, string member,
        string signature = "", Action<DBusWriter>? body = null, TimeSpan? timeout = null, CancellationToken cancellation = default)
    {
        var serial = NextSerial();
        var reply = new TaskCompletionSource<DBusMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[serial] = new PendingCall(reply, ExpectedSender(destination));
        try
        {
            await SendAsync(DBusMessage.Encode(DBusMessageType.MethodCall, DBusMessageFlags.None, serial, path, iface, member,
                destination, signature, body), cancellation).ConfigureAwait(false);
            var message = await reply.Task.WaitAsync(timeout ?? DefaultTimeout, cancellation).ConfigureAwait(false);
            if (message.Type == DBusMessageType.Error)
            {
                var text = message.Signature.StartsWith('s') ? message.BodyReader().ReadString() : null;
                throw new DBusErrorException(message.ErrorName!, text, $"{iface}.{member} on {destination}");
            }
            return message;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{iface}.{member} on {destination}: no reply within {(timeout ?? DefaultTimeout).TotalSeconds} s");
        }
        finally
        {
            _pending.TryRemove(serial, out _);
        }
    }

    /// <summary>
    /// Who may answer a call: the bus for its own methods, the unique name called, else (a well-known name,
    /// which the bus may hand to a new owner at any time) any unique name. Code that acts on a reply calls
    /// the owner's unique name (<see cref="GetNameOwnerAsync"/>), so that its replies are checked exactly.
    /// </summary>
    private static string? ExpectedSender(string destination) =>
        destination == BusName || destination.StartsWith(':') ? destination : null;

    private const string BusName = "org.freedesktop.DBus";

    private sealed record PendingCall(TaskCompletionSource<DBusMessage> Reply, string? Sender);

    /// <summary>The unique name that owns <paramref name="name"/> now, or null when nobody does.</summary>
    public async Task<string?> GetNameOwnerAsync(string name, CancellationToken cancellation = default)
    {
        try
        {
            var reply = await CallAsync(BusName, "/org/freedesktop/DBus", BusName, "GetNameOwner", "s", w => w.WriteString(name),
                cancellation: cancellation).ConfigureAwait(false);
            var owner = reply.BodyReader("s").ReadString();
            return owner.StartsWith(':') ? owner : throw new DBusFormatException($"GetNameOwner answered \"{owner}\", not a unique name");
        }
        catch (DBusErrorException e) when (e.Name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        {
            return null;
        }
    }

    /// <summary>The uid of the process that holds <paramref name="name"/> (a unique name), as the bus saw it connect.</summary>
    public async Task<uint> GetConnectionUnixUserAsync(string name, CancellationToken cancellation = default)
    {
        var reply = await CallAsync(BusName, "/org/freedesktop/DBus", BusName, "GetConnectionUnixUser", "s", w => w.WriteString(name),
            cancellation: cancellation).ConfigureAwait(false);
        return reply.BodyReader("u").ReadUInt32();
    }

    /// <summary>The owner of <paramref name="name"/>, started by the bus (D-Bus activation) if nobody owns it yet.</summary>
    public async Task<string> StartNameOwnerAsync(string name, CancellationToken cancellation = default)
    {
        if (await GetNameOwnerAsync(name, cancellation).ConfigureAwait(false) is { } owner)
            return owner;
        await CallAsync(BusName, "/org/freedesktop/DBus", BusName, "StartServiceByName", "su", w =>
        {
            w.WriteString(name);
            w.WriteUInt32(0);
        }, cancellation: cancellation).ConfigureAwait(false);
        return await GetNameOwnerAsync(name, cancellation).ConfigureAwait(false)
            ?? throw new DBusErrorException("org.freedesktop.DBus.Error.NameHasNoOwner", $"{name} was started but owns no name", "StartServiceByName");
    }

    /// <summary>org.freedesktop.DBus.AddMatch: ask the bus to route messages matching <paramref name="rule"/> to us.</summary>
    public Task AddMatchAsync(DBusMatchRule rule, CancellationToken cancellation = default) =>
        CallAsync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
            w => w.WriteString(rule.ToString()), cancellation: cancellation);

    /// <summary>The serial for the next message this connection sends (never 0).</summary>
    public uint NextSerial()
    {
        uint serial;
        while ((serial = (uint)Interlocked.Increment(ref _serial)) == 0)
        {
        }
        return serial;
    }

    /// <summary>
    /// Sends one encoded message (<see cref="DBusMessage.Encode"/>, serial from <see cref="NextSerial"/>) as it is. It is
    /// written before this returns (the task is complete); the bus reads at once.
    /// </summary>
    public Task SendAsync(byte[] message, CancellationToken cancellation = default)
    {
        try
        {
            cancellation.ThrowIfCancellationRequested();
            lock (_sendLock)
            {
                if (_closed.Task.IsCompleted)
                    throw new DBusConnectionException("the connection is closed");
                SendAll(message);
            }
            return Task.CompletedTask;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // A message cut short by a timeout leaves the stream unframed: the connection is lost either way.
            Lost();
            return Task.FromException(new DBusConnectionException($"sending to the bus failed: {e.Message}", e));
        }
        catch (Exception e) when (e is DBusConnectionException or OperationCanceledException)
        {
            return Task.FromException(e);
        }
    }

    private void SendAll(ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0)
            bytes = bytes[_socket.Send(bytes)..];
    }

    /// <summary>Ends the reader's receive: it then fails what is pending and completes <see cref="Closed"/>.</summary>
    private void Lost()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private void StartReader(byte[] leftover)
    {
        // 1 MiB reserved (only touched pages count): a signal callback may run a consumer's whole loop on this thread.
        _reader = new Thread(() => ReadLoop(leftover), maxStackSize: 1024 * 1024) { IsBackground = true, Name = "dbus-reader" };
        _reader.Start();
    }

    /// <summary>
    /// The largest signal or method call read (a message nobody here asked for): 64 KiB, where networkd's largest
    /// PropertiesChanged is under 2 KiB. Any local user may address a signal to this connection, and the system bus
    /// forwards up to 32 MiB: a bigger one is skipped as it arrives, never held. Replies, which come only to calls
    /// made here, may be as large as the protocol allows (a ListLinks of many links).
    /// </summary>
    public const int MaxUnrequestedSize = 64 * 1024;

    private const int ReadBufferSize = 64 * 1024;

    private void ReadLoop(byte[] leftover)
    {
        var buffer = new byte[ReadBufferSize];
        var filled = leftover.Length;
        if (filled > buffer.Length)
            Array.Resize(ref buffer, filled * 2);
        leftover.CopyTo(buffer, 0);
        // The bytes of an oversized message still to come and be dropped.
        long skipping = 0;
        Exception? reason = null;
        try
        {
            while (true)
            {
                // Take every complete message in the buffer.
                var consumed = 0;
                while (true)
                {
                    if (skipping > 0)
                    {
                        var dropped = (int)Math.Min(skipping, filled - consumed);
                        consumed += dropped;
                        skipping -= dropped;
                        if (skipping > 0)
                            break;
                    }
                    var rest = buffer.AsSpan(consumed, filled - consumed);
                    var size = DBusMessage.TotalSize(rest);
                    if (size > MaxUnrequestedSize && (DBusMessageType)rest[1] is not (DBusMessageType.MethodReturn or DBusMessageType.Error))
                    {
                        _malformed?.Invoke(new DBusMessageTooLargeException((DBusMessageType)rest[1], size));
                        skipping = size;
                        continue;
                    }
                    if (size == 0 || size > rest.Length)
                    {
                        if (size > buffer.Length)
                            Array.Resize(ref buffer, size);
                        break;
                    }
                    Dispatch(rest[..size].ToArray());
                    consumed += size;
                }
                if (consumed > 0)
                {
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }
                // A large reply grew the buffer: it is not kept for the small messages that follow.
                if (buffer.Length > ReadBufferSize && filled <= ReadBufferSize / 2 && DBusMessage.TotalSize(buffer.AsSpan(0, filled)) <= ReadBufferSize / 2)
                {
                    var smaller = new byte[ReadBufferSize];
                    buffer.AsSpan(0, filled).CopyTo(smaller);
                    buffer = smaller;
                }
                if (filled == buffer.Length)
                    Array.Resize(ref buffer, buffer.Length * 2);
                var n = _socket.Receive(buffer.AsSpan(filled));
                if (n == 0)
                {
                    if (!_stopping)
                        reason = new DBusConnectionException("the bus closed the connection");
                    break;
                }
                filled += n;
            }
        }
        catch (Exception e) when (e is SocketException or DBusFormatException or ObjectDisposedException)
        {
            // A header we cannot frame leaves no way to find the next message: the stream is lost.
            if (!_stopping)
                reason = new DBusConnectionException($"connection to the bus lost: {e.Message}", e);
        }
        catch (Exception e)
        {
            // Never let the thread die with an exception (that ends the process): the connection is lost.
            reason = new DBusConnectionException($"connection to the bus lost: {e.Message}", e);
        }
        if (reason is not null)
            Lost();
        foreach (var (_, pending) in _pending)
            pending.Reply.TrySetException(reason ?? new DBusConnectionException("the connection is closed"));
        _closed.TrySetResult(reason);
        _readerEnded.TrySetResult();
    }

    private void Dispatch(byte[] raw)
    {
        DBusMessage message;
        try
        {
            message = DBusMessage.Decode(raw);
        }
        catch (DBusFormatException e)
        {
            _malformed?.Invoke(e);
            return;
        }
        message.ReceiveSequence = ++_received;
        switch (message.Type)
        {
            case DBusMessageType.MethodReturn or DBusMessageType.Error:
                if (!_pending.TryGetValue(message.ReplySerial, out var call))
                    break;
                // Matched by serial and by sender: a reply from anyone but the one called is not the answer. The bus
                // itself answers with an error for a peer that is gone or refused (ServiceUnknown, NoReply, AccessDenied),
                // and no client can own its name.
                var fromBus = message.Type == DBusMessageType.Error && message.Sender == BusName;
                if (!fromBus && (message.Sender is null || (call.Sender is { } expected ? message.Sender != expected : !message.Sender.StartsWith(':'))))
                {
                    _malformed?.Invoke(new DBusFormatException(
                        $"ignored a reply to call {message.ReplySerial} from {Printable(message.Sender)}, not {call.Sender ?? "a unique name"}"));
                    break;
                }
                call.Reply.TrySetResult(message);
                break;
            case DBusMessageType.Signal:
                try
                {
                    _signal(message);
                }
                catch (Exception e)
                {
                    _malformed?.Invoke(e);
                }
                break;
            case DBusMessageType.MethodCall:
                bool answered;
                try
                {
                    answered = _methodCall?.Invoke(this, message) ?? false;
                }
                catch (Exception e)
                {
                    _malformed?.Invoke(e);
                    answered = false;
                }
                if (answered || message.Flags.HasFlag(DBusMessageFlags.NoReplyExpected))
                    break;
                // Nothing exported here: say so, as the spec asks, instead of leaving the caller to time out.
                var text = $"no method {message.Interface}.{message.Member} here";
                _ = SendAsync(DBusMessage.Encode(DBusMessageType.Error, DBusMessageFlags.NoReplyExpected, NextSerial(), null, null, null,
                    message.Sender, "s", w => w.WriteString(text), message.Serial, "org.freedesktop.DBus.Error.UnknownMethod"),
                    CancellationToken.None).ContinueWith(static _ => { }, TaskScheduler.Default);
                break;
        }
    }

    /// <summary>A peer's name as a log may quote it.</summary>
    private static string Printable(string? text) =>
        text is null ? "nobody" : new string([.. text.Take(80).Select(c => c is < ' ' or > '~' ? '?' : c)]);

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        Lost();
        if (_reader is not null)
            await _readerEnded.Task.ConfigureAwait(false);
        _socket.Dispose();
        _closed.TrySetResult(null);
    }

    private static partial class Native
    {
        [System.Runtime.InteropServices.LibraryImport("libc.so.6")]
        public static partial uint geteuid();
    }
}
