using System.Globalization;
using NetworkBroker.Logging;
using NetworkBroker.Security;

namespace NetworkBroker.Udev;

/// <summary>
/// What udev knows of a network device (its database entry <c>/run/udev/data/n&lt;ifindex&gt;</c>), as networkctl
/// reads it: the device path, the driver, the vendor and model names from the hardware database, the model id
/// and the .link file that named it. Every field is null when udev does not say (no udev, a virtual link).
/// </summary>
public sealed record UdevLink(string? Path, string? Driver, string? Vendor, string? Model, string? ModelId, string? LinkFile)
{
    public static readonly UdevLink None = new(null, null, null, null, null, null);

    /// <summary>
    /// The properties of a database entry, from its text. Only <c>E:KEY=value</c> lines count; any other line, a key
    /// that is not udev's shape, a value with a control character or over 1024 characters is skipped, never fatal:
    /// the file is udevd's, but a broken or hostile one must not cost more than being ignored.
    /// </summary>
    public static UdevLink Parse(string text)
    {
        string? path = null, driver = null, vendor = null, vendorFallback = null, model = null, modelFallback = null, modelId = null, linkFile = null;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("E:", StringComparison.Ordinal))
                continue;
            var eq = line.IndexOf('=', 2);
            if (eq < 3)
                continue;
            var key = line.AsSpan(2, eq - 2);
            var value = line[(eq + 1)..];
            if (!IsKey(key) || !IsValue(value))
                continue;
            switch (key)
            {
                case "ID_PATH": path = value; break;
                case "ID_NET_DRIVER": driver = value; break;
                // networkctl's order: the hardware database's name, else the device's own.
                case "ID_VENDOR_FROM_DATABASE": vendor = value; break;
                case "ID_VENDOR": vendorFallback = value; break;
                case "ID_MODEL_FROM_DATABASE": model = value; break;
                case "ID_MODEL": modelFallback = value; break;
                case "ID_MODEL_ID": modelId = value; break;
                case "ID_NET_LINK_FILE": linkFile = value; break;
            }
        }
        return new UdevLink(path, driver, vendor ?? vendorFallback, model ?? modelFallback, modelId, linkFile);
    }

    private static bool IsKey(ReadOnlySpan<char> key)
    {
        if (key.Length > 64)
            return false;
        foreach (var c in key)
            if (c is not (>= 'A' and <= 'Z' or >= '0' and <= '9' or '_'))
                return false;
        return true;
    }

    private static bool IsValue(string value)
    {
        if (value.Length is 0 or > 1024)
            return false;
        foreach (var c in value)
            if (char.IsControl(c) || c == '\uFFFD')
                return false;
        return true;
    }
}

/// <summary>
/// Reads udev's database entry of a link. The files are udevd's (root's): each is read as a peer's file
/// (<see cref="PeerFile"/>): owned by root, regular, no symbolic link on the path, at most 64 KiB. A missing
/// directory (no udev, as in a container) or file (a link udev never saw) is <see cref="UdevLink.None"/>; a
/// refused file is too, and says why in the log once per path and reason.
/// </summary>
public sealed class UdevDatabase(string directory = UdevDatabase.DefaultDirectory, Logger? log = null)
{
    public const string DefaultDirectory = "/run/udev/data";

    /// <summary>An entry holds a few dozen properties; a bigger file is not udev's.</summary>
    public const int MaxBytes = 64 * 1024;

    private static readonly PeerFileRules Rules = new() { NoLinksOnPath = true, Owners = [0], OwnersText = "root", MaxBytes = MaxBytes };
    private readonly RepeatFilter _reported = new();

    public string Directory { get; } = directory;

    public string PathOf(int ifindex) => System.IO.Path.Combine(Directory, "n" + ifindex.ToString(CultureInfo.InvariantCulture));

    public UdevLink Link(int ifindex)
    {
        if (ifindex <= 0)
            return UdevLink.None;
        var path = PathOf(ifindex);
        var file = PeerFile.Read(path, Rules);
        if (file.IsRead)
        {
            _reported.Forget(path);
            return UdevLink.Parse(file.Text);
        }
        if (file.Refusal != PeerFileRefusal.Missing && _reported.IsNew(path, file.Reason!))
            log?.Warn($"udev: not reading {path}: {file.Reason}");
        return UdevLink.None;
    }
}
