using System.Globalization;
using NetworkBroker.Networkd;
using NetworkBroker.Udev;

namespace NetworkBroker.Scripts;

/// <summary>
/// What files others write say about a link: networkd's lease and state file, udev's database entry, sysfs. Read
/// only off the broker's loop, when a link-state event's scripts are about to run (<see cref="EventEnvironment"/>).
/// </summary>
public interface ILinkFiles
{
    /// <summary>networkd's DHCP lease of the link (KEY=value lines), null without one.</summary>
    string? NetworkdLease(int ifindex);

    /// <summary>KEY=value pairs of networkd's state file of the link (empty without one).</summary>
    IReadOnlyDictionary<string, string> NetworkdState(int ifindex);

    /// <summary>udev's database entry of the link (<see cref="UdevLink.None"/> without one).</summary>
    UdevLink Udev(int ifindex);

    /// <summary>The kernel driver bound to the link's device (sysfs), null for a virtual link or another namespace's.</summary>
    string? Driver(string name, int ifindex);

    /// <summary>DEVTYPE of the link's uevent in sysfs ("wlan", "bridge", "vlan"), null without one.</summary>
    string? DeviceType(string name, int ifindex);
}

/// <summary>The real files: networkd's (<see cref="NetworkdFiles"/>), udev's (<see cref="UdevDatabase"/>) and sysfs.</summary>
/// <remarks>
/// A link's driver and DEVTYPE are read from sysfs once per ifindex, not at every run: they last as long as the link
/// (a driver unbound from its device takes the link away, and DEVTYPE is set when the link is registered). A link
/// made again under the same ifindex comes after its predecessor's removal, which <see cref="Forget"/>s it, or, when
/// that removal's notification was lost, after a re-read of the kernel, which forgets every link (<see cref="ForgetAll"/>);
/// a rename reads again. A name sysfs does not show as this link (another namespace's sysfs, a rename not yet seen),
/// before or after the read, is read again each time.
/// </remarks>
public sealed class LinkFiles(NetworkdFiles networkd, UdevDatabase udev, string sysfs = "/sys/class/net") : ILinkFiles
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (string Name, string? Value)> _drivers = new();
    private readonly Dictionary<int, (string Name, string? Value)> _deviceTypes = new();
    // Bumped by every Forget: a read that began before it is not kept (it may be of the link that went away).
    private long _forgets;

    public string? NetworkdLease(int ifindex) => networkd.Lease(ifindex);

    public IReadOnlyDictionary<string, string> NetworkdState(int ifindex) => networkd.LinkState(ifindex);

    public UdevLink Udev(int ifindex) => udev.Link(ifindex);

    public string? Driver(string name, int ifindex) => Known(_drivers, name, ifindex, driver: true);

    public string? DeviceType(string name, int ifindex) => Known(_deviceTypes, name, ifindex, driver: false);

    /// <summary>The link <paramref name="ifindex"/> went away: what sysfs said of it is not the next one's.</summary>
    public void Forget(int ifindex)
    {
        lock (_gate)
        {
            _forgets++;
            _drivers.Remove(ifindex);
            _deviceTypes.Remove(ifindex);
            Core.BurstCapacity.TrimAfterBurst(_drivers);
            Core.BurstCapacity.TrimAfterBurst(_deviceTypes);
        }
    }

    /// <summary>Every link's facts read again (the kernel was re-read: a removal may have been lost with its notification).</summary>
    public void ForgetAll()
    {
        lock (_gate)
        {
            _forgets++;
            _drivers.Clear();
            _deviceTypes.Clear();
            Core.BurstCapacity.TrimAfterBurst(_drivers);
            Core.BurstCapacity.TrimAfterBurst(_deviceTypes);
        }
    }

    private string? Known(Dictionary<int, (string Name, string? Value)> known, string name, int ifindex, bool driver)
    {
        long forgets;
        lock (_gate)
        {
            if (known.TryGetValue(ifindex, out var entry) && entry.Name == name)
                return entry.Value;
            forgets = _forgets;
        }
        if (!InSysfs(name, ifindex))
            return null;
        var value = driver ? ReadDriver(name) : ReadDeviceType(name);
        // Kept only if the name still is this link after the read: names swapped meanwhile (eth0 and eth1 through a
        // third) would have read the other link's, once, but not for as long as this link lives.
        if (!InSysfs(name, ifindex))
            return value;
        lock (_gate)
        {
            if (_forgets == forgets)
                known[ifindex] = (name, value);
        }
        return value;
    }

    private string? ReadDriver(string name)
    {
        try
        {
            var target = new FileInfo($"{sysfs}/{name}/device/driver").LinkTarget;
            return target is null ? null : Path.GetFileName(target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private string? ReadDeviceType(string name)
    {
        try
        {
            foreach (var line in File.ReadLines($"{sysfs}/{name}/uevent"))
                if (line.StartsWith("DEVTYPE=", StringComparison.Ordinal) && line.Length > 8 && ScriptVariables.IsStateWord(line[8..]))
                    return line[8..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }
        return null;
    }

    /// <summary>
    /// Whether SYSFS/NAME is this link: sysfs shows the links of the namespace it was mounted in, which
    /// need not be the daemon's (a test harness, a daemon moved into a namespace); another one's facts are none.
    /// </summary>
    private bool InSysfs(string name, int ifindex)
    {
        // Every sysfs read of this class passes here first.
        Core.LoopGuard.Blocking("sysfs read", name);
        // A link name is never "." or ".." nor holds a slash (the kernel refuses them), but the name comes from a peer.
        if (name.Length == 0 || name.Contains('/') || name is "." or "..")
            return false;
        Span<byte> text = stackalloc byte[16];
        var length = Native.Libc.ReadStart($"{sysfs}/{name}/ifindex", text);
        return length > 0 && int.TryParse(text[..length].TrimEnd((byte)'\n'), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && index == ifindex;
    }
}
