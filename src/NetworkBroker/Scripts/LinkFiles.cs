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
public sealed class LinkFiles(NetworkdFiles networkd, UdevDatabase udev) : ILinkFiles
{
    public string? NetworkdLease(int ifindex) => networkd.Lease(ifindex);

    public IReadOnlyDictionary<string, string> NetworkdState(int ifindex) => networkd.LinkState(ifindex);

    public UdevLink Udev(int ifindex) => udev.Link(ifindex);

    public string? Driver(string name, int ifindex)
    {
        if (!InSysfs(name, ifindex))
            return null;
        try
        {
            var target = new FileInfo($"/sys/class/net/{name}/device/driver").LinkTarget;
            return target is null ? null : Path.GetFileName(target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    public string? DeviceType(string name, int ifindex)
    {
        if (!InSysfs(name, ifindex))
            return null;
        try
        {
            foreach (var line in File.ReadLines($"/sys/class/net/{name}/uevent"))
                if (line.StartsWith("DEVTYPE=", StringComparison.Ordinal) && line.Length > 8 && ScriptVariables.IsStateWord(line[8..]))
                    return line[8..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }
        return null;
    }

    /// <summary>
    /// Whether /sys/class/net/NAME is this link: sysfs shows the links of the namespace it was mounted in, which
    /// need not be the daemon's (a test harness, a daemon moved into a namespace); another one's facts are none.
    /// </summary>
    private static bool InSysfs(string name, int ifindex)
    {
        // Every sysfs read of this class passes here first.
        Core.LoopGuard.Blocking("sysfs read", name);
        // A link name is never "." or ".." nor holds a slash (the kernel refuses them), but the name comes from a peer.
        if (name.Length == 0 || name.Contains('/') || name is "." or "..")
            return false;
        Span<byte> text = stackalloc byte[16];
        var length = Native.Libc.ReadStart($"/sys/class/net/{name}/ifindex", text);
        return length > 0 && int.TryParse(text[..length].TrimEnd((byte)'\n'), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && index == ifindex;
    }
}
