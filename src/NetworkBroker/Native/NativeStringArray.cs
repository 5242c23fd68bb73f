using System.Runtime.InteropServices;

namespace NetworkBroker.Native;

/// <summary>
/// A NULL-terminated array of NUL-terminated strings (argv, envp) in one unmanaged block: UTF-8, and a link
/// name's bytes that are not UTF-8 as the kernel has them (<see cref="Netlink.KernelText"/>), so LINK names the link.
/// </summary>
internal sealed unsafe class NativeStringArray : IDisposable
{
    private byte* _block;

    public NativeStringArray(IReadOnlyList<string> strings)
    {
        var pointers = (strings.Count + 1) * sizeof(byte*);
        var bytes = 0;
        foreach (var s in strings)
            bytes += Netlink.KernelText.ByteCount(s) + 1;

        _block = (byte*)NativeMemory.Alloc((nuint)(pointers + bytes));
        var table = (byte**)_block;
        var cursor = _block + pointers;
        for (var i = 0; i < strings.Count; i++)
        {
            table[i] = cursor;
            var written = Netlink.KernelText.Encode(strings[i], new Span<byte>(cursor, bytes));
            cursor[written] = 0;
            cursor += written + 1;
            bytes -= written + 1;
        }
        table[strings.Count] = null;
    }

    public byte** Pointer => (byte**)_block;

    public void Dispose()
    {
        NativeMemory.Free(_block);
        _block = null;
    }
}
