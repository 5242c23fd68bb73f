using System.Buffers.Text;
using System.Text;
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
/// more mappings in /proc/PID/maps, ~200 bytes of kernel memory for each (vm_area_struct), and no read-around
/// for half the pages if the page cache has dropped them (MADV_RANDOM). Measured on the small sandbox: the binary's
/// resident pages 4.6 -> 1.6 MB idle, 5.3 -> 2.7 MB after 100 carrier flaps.
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
    public static unsafe Released Release(string path)
    {
        // /proc/self/smaps is read into native memory and parsed as bytes: read as strings, its ~100 KB made the
        // collector commit another 0.5 MB region for good (bench/e2e/memory.py: GC 1.52 against 1.01 MB).
        List<Range> ranges;
        nuint capacity = 64 * 1024, length = 0;
        var text = (byte*)NativeMemory.Alloc(capacity);
        try
        {
            using (var smaps = new FileStream("/proc/self/smaps", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0))
            {
                int read;
                while ((read = smaps.Read(new Span<byte>(text + length, (int)(capacity - length)))) > 0)
                {
                    length += (nuint)read;
                    if (length == capacity)
                        text = (byte*)NativeMemory.Realloc(text, capacity *= 2);
                }
            }
            ranges = Unmodified(new ReadOnlySpan<byte>(text, (int)length), Encoding.UTF8.GetBytes(path));
        }
        finally
        {
            NativeMemory.Free(text);
        }
        var mappings = 0;
        long bytes = 0;
        foreach (var range in ranges)
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
    public static List<Range> Unmodified(ReadOnlySpan<byte> smaps, ReadOnlySpan<byte> path)
    {
        var ranges = new List<Range>();
        Range? candidate = null;
        while (!smaps.IsEmpty)
        {
            var end = smaps.IndexOf((byte)'\n');
            var line = end < 0 ? smaps : smaps[..end];
            smaps = end < 0 ? default : smaps[(end + 1)..];
            if (line.StartsWith("Anonymous:"u8))
            {
                if (candidate is { } range && line["Anonymous:"u8.Length..].Trim((byte)' ').SequenceEqual("0 kB"u8))
                    ranges.Add(range);
                candidate = null;
            }
            else if (Header(line, path, out var readOnly) is { } header)
                candidate = readOnly ? header : null;
        }
        return ranges;
    }

    /// <summary>A mapping's header line ("start-end perms offset dev inode path"): its range, and whether it is a
    /// private read-only mapping of <paramref name="path"/>; null for a field line ("Rss:   48 kB").</summary>
    private static Range? Header(ReadOnlySpan<byte> line, ReadOnlySpan<byte> path, out bool readOnly)
    {
        readOnly = false;
        var addresses = Field(ref line);
        var dash = addresses.IndexOf((byte)'-');
        if (dash <= 0 || !Utf8Parser.TryParse(addresses[..dash], out long start, out var used, 'x') || used != dash
            || !Utf8Parser.TryParse(addresses[(dash + 1)..], out long end, out used, 'x') || used != addresses.Length - dash - 1)
            return null;
        var permissions = Field(ref line);
        Field(ref line); // offset
        Field(ref line); // device
        Field(ref line); // inode
        readOnly = permissions.Length == 4 && permissions[1] == (byte)'-' && permissions[3] == (byte)'p'
            && line.Trim((byte)' ').SequenceEqual(path);
        return new Range(start, end);
    }

    /// <summary>The next space-separated field of <paramref name="line"/>, which moves past it.</summary>
    private static ReadOnlySpan<byte> Field(ref ReadOnlySpan<byte> line)
    {
        line = line.TrimStart((byte)' ');
        var space = line.IndexOf((byte)' ');
        var field = space < 0 ? line : line[..space];
        line = space < 0 ? default : line[space..];
        return field;
    }
}
