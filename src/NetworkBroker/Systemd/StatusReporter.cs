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
        _ = SendLaterAsync();
    }

    private async Task SendLaterAsync()
    {
        await Task.Delay(interval).ConfigureAwait(false);
        Volatile.Write(ref _scheduled, 0);
        string line;
        try
        {
            line = await compose().ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Threading.Channels.ChannelClosedException or OperationCanceledException)
        {
            return; // stopping
        }
        if (line != Interlocked.Exchange(ref _last, line))
            systemd.Notify("STATUS=" + line);
    }
}
