using System.Collections.Concurrent;

namespace NetworkBroker.Logging;

/// <summary>
/// Says whether a (subject, reason) pair is news, so that a warning about one file or one script is logged
/// once per reason rather than on every event of a flapping link. Bounded: forgets everything past 4096 subjects.
/// </summary>
public sealed class RepeatFilter
{
    private const int MaxSubjects = 4096;
    private readonly ConcurrentDictionary<string, string> _last = new(StringComparer.Ordinal);

    public bool IsNew(string subject, string reason)
    {
        if (_last.Count > MaxSubjects)
            _last.Clear();
        var isNew = !_last.TryGetValue(subject, out var previous) || previous != reason;
        _last[subject] = reason;
        return isNew;
    }

    /// <summary>The subject is fine again: the next problem with it is news.</summary>
    public void Forget(string subject) => _last.TryRemove(subject, out _);
}
