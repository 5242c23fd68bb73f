using System.Text;
using NetworkBroker.Logging;

namespace NetworkBroker.Configuration;

/// <summary>
/// What a link's name may be: the kernel's rule (net/core/dev.c, dev_valid_name), for the configuration's names,
/// networkd's and a control client's alike.
/// </summary>
public static class LinkName
{
    /// <summary>IFNAMSIZ less its NUL.</summary>
    public const int MaxBytes = 15;

    /// <summary>The kernel's rule widened to altnames (and globs over names): 1-127 characters, no '/', ':', white space or control character, not "." or "..".</summary>
    public static bool IsValid(string name) =>
        name.Length is > 0 and < 128 && name is not "." and not ".." &&
        !name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c));

    /// <summary>An interface's own name, as the kernel takes it: <see cref="IsValid"/> within <see cref="MaxBytes"/> bytes.</summary>
    public static bool IsInterfaceName(string name) => IsValid(name) && Encoding.UTF8.GetByteCount(name) <= MaxBytes;

    /// <summary>Why a name someone asked for is no interface name, to tell them; null when it is one.</summary>
    public static string? WhyNotInterfaceName(string name) => IsInterfaceName(name)
        ? null
        : $"\"{PeerText.Excerpt(name, 32)}\" is not a link name: 1-{MaxBytes} bytes, no '/', ':', white space or control character, not \".\" or \"..\"";
}
