namespace NetworkBroker.Tests.Support;

public static class Processes
{
    /// <summary>
    /// Gone or a zombie: an orphan killed by a test is reparented to PID 1, which in a container
    /// may never reap it, so a zombie counts as dead.
    /// </summary>
    public static bool IsDead(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return true;
        }
    }

    public static async Task<bool> EventuallyDead(int pid, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!IsDead(pid))
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(20);
        }
        return true;
    }
}
