using System.Runtime.InteropServices;
using NetworkBroker.Native;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Memory;

/// <summary>Releasing a file's read-only mappings: they leave the resident set, and a touch maps one page again,
/// not the 16 the kernel's fault-around would map.</summary>
public partial class CodePagesTests : IDisposable
{
    private const int PageSize = 4096;
    private const int PROT_READ = 1;
    private const int MAP_PRIVATE = 2;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Only_the_files_read_only_mappings_without_a_private_copy_are_released()
    {
        string[] smaps =
        [
            "55aab60a5000-55aab60b1000 r--p 00000000 fd:01 123 /usr/bin/network-broker",
            "Rss:                  48 kB",
            "Anonymous:             0 kB",
            "55aab60b1000-55aab63a8000 r-xp 0000c000 fd:01 123 /usr/bin/network-broker",
            "Anonymous:             0 kB",
            "VmFlags: rd ex mr mw me dw sd",
            "55aab64fb000-55aab64fc000 r--p 00456000 fd:01 123 /usr/bin/network-broker",
            "Anonymous:             4 kB",
            "55aab6607000-55aab6618000 rw-p 00561000 fd:01 123 /usr/bin/network-broker",
            "Anonymous:             0 kB",
            "7f0000000000-7f0000001000 r-xp 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6",
            "Anonymous:             0 kB",
            "7f0000002000-7f0000003000 r--s 00000000 fd:01 123 /usr/bin/network-broker",
            "Anonymous:             0 kB",
            "7f0000004000-7f0000005000 r--p 00000000 00:00 0 ",
            "Anonymous:             0 kB",
        ];

        var ranges = CodePages.Unmodified(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', smaps) + "\n"), "/usr/bin/network-broker"u8);

        Assert.Equal([new CodePages.Range(0x55aab60a5000, 0x55aab60b1000), new CodePages.Range(0x55aab60b1000, 0x55aab63a8000)], ranges);
    }

    [Fact]
    public unsafe void A_released_mapping_leaves_the_resident_set_and_a_touch_maps_one_page_again()
    {
        const int pages = 256;
        var path = _dir.Write("code", new string('x', pages * PageSize));
        var fd = open(path, 0);
        Assert.True(fd >= 0);
        var start = mmap(0, pages * PageSize, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        Assert.NotEqual(-1, start);
        try
        {
            var bytes = (byte*)start;
            var sum = 0;
            for (var page = 0; page < pages; page++)
                sum += bytes[page * PageSize];
            Assert.Equal(pages * 'x', sum);
            Assert.Equal(pages * PageSize / 1024, ResidentKiB(start, pages));

            var released = CodePages.Release(path);

            Assert.Equal(new CodePages.Released(1, pages * PageSize), released);
            Assert.Equal(0, ResidentKiB(start, pages));
            Assert.Equal((byte)'x', bytes[100 * PageSize + 10]);
            Assert.Equal(PageSize / 1024, ResidentKiB(start, pages));
        }
        finally
        {
            munmap(start, pages * PageSize);
        }
    }

    /// <summary>The resident KiB of the mappings inside [start, start + pages), from /proc/self/smaps.</summary>
    private static long ResidentKiB(nint start, int pages)
    {
        long resident = 0;
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var dash = line.IndexOf('-');
            if (dash > 0 && line.IndexOf(' ') > dash && long.TryParse(line.AsSpan(0, dash), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var low))
                inside = low >= start && low < start + (long)pages * PageSize;
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
                resident += long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim());
        }
        return resident;
    }

    [LibraryImport("libc.so.6", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc.so.6")]
    private static partial int close(int fd);

    [LibraryImport("libc.so.6")]
    private static partial nint mmap(nint address, nint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc.so.6")]
    private static partial int munmap(nint address, nint length);
}
