namespace NetworkBroker.Systemd;

/// <summary>
/// Keeps systemd's STATUS= line (what `systemctl status` shows) current: a change pokes it, and at most
/// once per interval the line is composed again and sent if it differs. Nothing runs while nothing changes.
/// </summary>
public sealed class StatusReporter(SystemdNotifier systemd, Func<Task<string>> compose, TimeSpan interval)
{
    private int _scheduled;
    private string _last = "";

    public string Last => Volatile.Read(ref _last);

    /// <summary>Sends <paramref name="line"/> with <paramref name="state"/> (READY=1, ...) now, and remembers it.</summary>
    public void Send(string state, string line)
    {
        Volatile.Write(ref _last, line);
        systemd.Notify($"{state}\nSTATUS={line}");
    }

    public void Poke()
    {
        if (!systemd.Enabled || Interlocked.Exchange(ref _scheduled, 1) == 1)
            return;
        // Within one to two intervals: it goes in the timer thread's wake-up for another step when one comes.
        Core.TimerThread.Shared.After(interval, interval, SendLater);
    }

    /// <summary>On the timer thread: the loop, when it waits, answers the query at once on this thread (no pool hop).</summary>
    private void SendLater()
    {
        Volatile.Write(ref _scheduled, 0);
        // An async composition: a stopping loop faults the task, which SendIfChanged reads as nothing to say.
        var line = compose();
        if (line.IsCompleted)
            SendIfChanged(line);
        else
            _ = line.ContinueWith(SendIfChanged, TaskScheduler.Default);
    }

    private void SendIfChanged(Task<string> composed)
    {
        // A failed composition is the loop stopping (a closed channel, a cancellation): nothing to say.
        if (!composed.IsCompletedSuccessfully)
        {
            _ = composed.Exception;
            return;
        }
        if (composed.Result != Interlocked.Exchange(ref _last, composed.Result))
            systemd.Notify("STATUS=" + composed.Result);
    }
}
