using NetworkBroker.Native;

namespace NetworkBroker.Scripts;

/// <summary>Reads the facts <see cref="ScriptSelection"/> decides on: type, mode and owner (statx, following links).</summary>
internal static unsafe class ScriptFileSystem
{
    public static bool TryStat(string path, out ScriptFileKind kind, out UnixFileMode mode, out uint uid)
    {
        Libc.Statx stat;
        if (Libc.statx(Libc.AT_FDCWD, path, 0, Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID, &stat) != 0)
        {
            kind = ScriptFileKind.Missing;
            mode = 0;
            uid = 0;
            return false;
        }
        kind = (stat.Mode & 0xF000) switch
        {
            0x8000 => ScriptFileKind.Regular,
            0x4000 => ScriptFileKind.Directory,
            _ => ScriptFileKind.Other,
        };
        mode = (UnixFileMode)(stat.Mode & 0xFFF);
        uid = stat.Uid;
        return true;
    }

    public static IEnumerable<ScriptFileFacts> List(string directory)
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(directory))
        {
            TryStat(path, out var kind, out var mode, out var uid);
            yield return new ScriptFileFacts(Path.GetFileName(path), kind, mode, uid);
        }
    }
}
