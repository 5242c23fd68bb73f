namespace NetworkBroker.Core;

/// <summary>
/// Holds peers' inputs until the kernel's notifications queued before them are in (networkd signals routable after
/// it added the address; the address's notification may still be behind the signal on the broker's channel). Each
/// held input waits for a barrier token sent through the kernel socket; a token coming back releases every input
/// held up to it, in order. An input whose barrier does not come back within <see cref="Timeout"/> goes on without
/// it. Pure: the caller sends barriers, sets timers and handles what comes out; time is the injected clock's.
/// </summary>
/// <typeparam name="T">What is held (the broker holds its events).</typeparam>
public sealed class KernelBarrierGate<T>
{
    private readonly Queue<(uint Token, T Input, long Since)> _held = new();
    private readonly Func<long> _milliseconds;
    private uint _lastToken;
    private bool _checkArmed;

    /// <param name="milliseconds">A monotonic clock in milliseconds (Environment.TickCount64 in the daemon).</param>
    public KernelBarrierGate(Func<long> milliseconds, TimeSpan timeout)
        : this(milliseconds, timeout, lastToken: 0)
    {
    }

    /// <param name="lastToken">The token before the first one sent (tests start near the wrap-around).</param>
    internal KernelBarrierGate(Func<long> milliseconds, TimeSpan timeout, uint lastToken)
    {
        _milliseconds = milliseconds;
        Timeout = timeout;
        _lastToken = lastToken;
    }

    /// <summary>How long an input waits at most for its barrier.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Inputs waiting for their barrier.</summary>
    public int Held => _held.Count;

    /// <summary>
    /// Admits an input. <paramref name="sendBarrier"/> is asked to send a barrier with the next token (false: no
    /// kernel socket to send it through); then the input is held, and nothing is returned. Without a barrier the
    /// input cannot wait: what is held goes first, then the input, all returned in order to be handled now.
    /// </summary>
    public IReadOnlyList<T> Admit(T input, Func<uint, bool>? sendBarrier)
    {
        if (sendBarrier is not null)
        {
            // Zero is never a token: a barrier answer of 0 would be ambiguous after a wrap-around.
            var token = ++_lastToken == 0 ? ++_lastToken : _lastToken;
            if (sendBarrier(token))
            {
                _held.Enqueue((token, input, _milliseconds()));
                return [];
            }
        }
        var now = new List<T>(_held.Count + 1);
        while (_held.TryDequeue(out var waiting))
            now.Add(waiting.Input);
        now.Add(input);
        return now;
    }

    /// <summary>
    /// A barrier came back: every input held with this token or an earlier one is now behind the kernel's
    /// notifications, and is returned in order. Tokens grow and wrap around; "earlier" is by serial-number order.
    /// </summary>
    public IReadOnlyList<T> Released(uint token)
    {
        List<T>? released = null;
        while (_held.TryPeek(out var waiting) && (int)(waiting.Token - token) <= 0)
        {
            _held.Dequeue();
            (released ??= []).Add(waiting.Input);
        }
        return released ?? (IReadOnlyList<T>)[];
    }

    /// <summary>
    /// The timer armed by <see cref="ArmCheck"/> fired: the inputs held for <see cref="Timeout"/> or longer are
    /// returned, in order (their barrier was lost, or the kernel socket's reader is gone).
    /// </summary>
    public IReadOnlyList<T> Overdue()
    {
        _checkArmed = false;
        var now = _milliseconds();
        List<T>? late = null;
        while (_held.TryPeek(out var waiting) && now - waiting.Since >= (long)Timeout.TotalMilliseconds)
        {
            _held.Dequeue();
            (late ??= []).Add(waiting.Input);
        }
        return late ?? (IReadOnlyList<T>)[];
    }

    /// <summary>
    /// When to call <see cref="Overdue"/>: the delay until the oldest held input is due, or null when nothing is held
    /// or a check is already armed. One timer for the oldest, not one per input: barriers come back within
    /// microseconds, so the timer almost never finds anything.
    /// </summary>
    public TimeSpan? ArmCheck()
    {
        if (_checkArmed || !_held.TryPeek(out var oldest))
            return null;
        _checkArmed = true;
        var due = oldest.Since + (long)Timeout.TotalMilliseconds - _milliseconds();
        return TimeSpan.FromMilliseconds(Math.Max(0, due));
    }
}
