namespace NetworkBroker.Configuration;

/// <summary>
/// The keys a reload cannot apply: the daemon's sources are opened once, at start. Every other key takes effect at
/// the reload (each component applies its own). User= is not here: whether a restart applies it depends on the unit
/// (<see cref="Privileges.ScriptUser.OnReload"/>).
/// </summary>
public static class RestartKeys
{
    public static IReadOnlyList<string> Changed(BrokerConfiguration running, BrokerConfiguration reloaded)
    {
        var changed = new List<string>();
        if (running.Generator != reloaded.Generator)
            changed.Add("Generator");
        if (running.DHClientLeaseFile != reloaded.DHClientLeaseFile)
            changed.Add("DHClientLeaseFile");
        return changed;
    }
}
