using System.Globalization;
using System.Runtime.InteropServices;

namespace NetworkBroker.Native;

/// <summary>
/// The executable's code and read-only data, mapped again only where later events touch them. A fault on a file
/// page maps the cached pages around it too, 16 pages (64 KiB) aligned, clamped to the mapping (mm/memory.c,
/// do_fault_around; should_fault_around looks at no madvise advice, and MADV_RANDOM was measured to change nothing):
/// a started daemon kept 4.9 of its 5.5 MB binary mapped, because its start touches almost every 64 KiB of it.
/// Once the start has quieted, each read-only mapping of the executable that holds no private copy of a page is
/// unmapped (MADV_DONTNEED: the clean pages stay in the page cache and the next touch maps them from there, where
/// MADV_PAGEOUT would evict them) and cut into one-page mappings (MADV_RANDOM on every other page), so that a later
/// fault maps just the page it touches. The price: a minor fault for each page first touched again, about 1,400
/// more mappings in /proc/PID/maps, and ~200 bytes of kernel memory for each (vm_area_struct).
/// </summary>
internal static partial class CodePages
{
    private const int MADV_RANDOM = 1;
    private const int MADV_DONTNEED = 4;
    private const int PageSize = 4096;

    /// <summary>What was released: the mappings, and their bytes (resident or not).</summary>
    public readonly record struct Released(int Mappings, long Bytes);

    /// <summary>The mapping's address range.</summary>
    public readonly record struct Range(long Start, long End);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int madvise(nint address, nuint length, int advice);

    /// <summary>Releases the read-only, unmodified mappings of <paramref name="path"/> (the executable: /proc/self/exe's target).</summary>
    public static Released Release(string path)
    {
        var mappings = 0;
        long bytes = 0;
        foreach (var range in Unmodified(File.ReadLines("/proc/self/smaps"), path).ToList())
        {
            if (madvise((nint)range.Start, (nuint)(range.End - range.Start), MADV_DONTNEED) != 0)
                continue;
            // Mappings with the same flags side by side merge: every other page gets a flag the next lacks.
            for (var page = range.Start; page < range.End; page += 2 * PageSize)
                madvise((nint)page, PageSize, MADV_RANDOM);
            mappings++;
            bytes += range.End - range.Start;
        }
        return new Released(mappings, bytes);
    }

    /// <summary>The mappings of <paramref name="path"/> in /proc/PID/smaps that are not writable and hold no
    /// anonymous page (a copy the process wrote, which MADV_DONTNEED would lose: relocations, a debugger's breakpoint).</summary>
    public static IEnumerable<Range> Unmodified(IEnumerable<string> smaps, string path)
    {
        Range? candidate = null;
        foreach (var line in smaps)
        {
            if (Header(line, path) is { } header)
            {
                candidate = header.Range;
                if (!header.ReadOnly)
                    candidate = null;
            }
            else if (line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                if (candidate is { } range && line.AsSpan("Anonymous:".Length).Trim() is "0 kB")
                    yield return range;
                candidate = null;
            }
        }
    }

    /// <summary>A mapping's header line ("start-end perms offset dev inode path"): its range, and whether it is a
    /// read-only mapping of <paramref name="path"/>; null for a field line.</summary>
    private static (Range Range, bool ReadOnly)? Header(string line, string path)
    {
        var dash = line.IndexOf('-');
        var space = line.IndexOf(' ');
        if (dash <= 0 || space < dash || !long.TryParse(line.AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var start)
            || !long.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var end))
            return null;
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        var readOnly = fields.Length == 6 && fields[1].Length == 4 && fields[1][1] == '-' && fields[1][3] == 'p'
            && fields[5].Trim() == path;
        return (new Range(start, end), readOnly);
    }
}
