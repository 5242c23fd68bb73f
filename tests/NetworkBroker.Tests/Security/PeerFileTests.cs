using System.Diagnostics;
using NetworkBroker.Security;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Security;

/// <summary>Files other parties write (networkd's, dhclient's, the configuration), read as the daemon reads them, on the real file system.</summary>
public class PeerFileTests : IDisposable
{
    private const uint Nobody = 65534;
    private readonly TempDirectory _dir = new();
    private static readonly PeerFileRules Strict = new() { Owners = [0], OwnersText = "root" };

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_regular_file_of_a_trusted_owner_is_read_whole()
    {
        var path = _dir.Write("lease", "ADDRESS=10.0.0.2\nROUTER=10.0.0.1\n");
        var file = PeerFile.Read(path, Strict);
        Assert.True(file.IsRead, file.Reason);
        Assert.Equal("ADDRESS=10.0.0.2\nROUTER=10.0.0.1\n", file.Text);
    }

    [Fact]
    public void A_missing_file_is_missing_not_an_error()
    {
        Assert.Equal(PeerFileRefusal.Missing, PeerFile.Read(_dir.Combine("absent"), Strict).Refusal);
        Assert.Equal(PeerFileRefusal.Missing, PeerFile.Read(_dir.Combine("absent", "below"), Strict).Refusal);
    }

    [Fact]
    public async Task A_FIFO_is_refused_at_once_and_never_blocks()
    {
        var path = _dir.Combine("fifo");
        Assert.Equal(0, Process.Start("mkfifo", path).WaitForExitAndCode());
        // Nobody ever writes to it: an ordinary open for reading would wait for good.
        var file = await Task.Run(() => PeerFile.Read(path, Strict)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(PeerFileRefusal.NotRegular, file.Refusal);
        Assert.Equal("a FIFO, not a regular file", file.Reason);
        // The configuration follows links, but a FIFO is refused there too.
        file = await Task.Run(() => PeerFile.Read(path, new PeerFileRules { FollowLink = true })).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(PeerFileRefusal.NotRegular, file.Refusal);
    }

    [Fact]
    public void A_directory_a_socket_and_a_device_are_refused()
    {
        Assert.Equal("a directory, not a regular file", PeerFile.Read(_dir.Path, Strict).Reason);
        Assert.Equal("a character device, not a regular file", PeerFile.Read("/dev/null", new PeerFileRules()).Reason);
        var socketPath = _dir.Combine("socket");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, 0);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        Assert.Equal("a socket, not a regular file", PeerFile.Read(socketPath, Strict).Reason);
    }

    [Fact]
    public void A_symbolic_link_to_a_root_only_file_is_not_followed()
    {
        var secret = _dir.Write("secret", "root:$y$j9T$hash:19000:0:99999:7:::\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead);
        var link = _dir.Combine("lease");
        File.CreateSymbolicLink(link, secret);

        var file = PeerFile.Read(link, Strict);
        Assert.False(file.IsRead);
        Assert.Equal(PeerFileRefusal.SymbolicLink, file.Refusal);
        Assert.DoesNotContain("hash", file.Reason);
        // Where links are allowed (the admin's configuration), it is followed.
        Assert.Contains("hash", PeerFile.Read(link, new PeerFileRules { FollowLink = true }).Text);
    }

    [Fact]
    public void A_link_anywhere_on_the_path_is_refused_where_the_directory_is_a_peers()
    {
        var real = Directory.CreateDirectory(_dir.Combine("real")).FullName;
        File.WriteAllText(Path.Combine(real, "5"), "ADDRESS=10.0.0.2\n");
        Directory.CreateSymbolicLink(_dir.Combine("leases"), real);

        var through = PeerFile.Read(_dir.Combine("leases", "5"), Strict with { NoLinksOnPath = true });
        Assert.Equal(PeerFileRefusal.SymbolicLink, through.Refusal);
        Assert.True(PeerFile.Read(_dir.Combine("leases", "5"), Strict).IsRead);
    }

    [Fact]
    public void A_hard_link_is_refused_where_links_are_not_followed()
    {
        var secret = _dir.Write("secret", "root:$y$j9T$hash:19000:0:99999:7:::\n");
        var lease = _dir.Combine("dhclient.eth0.leases");
        using (var ln = Process.Start("ln", [secret, lease]))
            ln.WaitForExit();
        var file = PeerFile.Read(lease, Strict);
        Assert.Equal(PeerFileRefusal.HardLink, file.Refusal);
        Assert.Equal("has 2 hard links, not one", file.Reason);
    }

    [Fact]
    public void A_file_of_another_owner_is_refused()
    {
        var path = _dir.Write("lease", "x");
        Assert.Equal(0, Libc_chown(path, Nobody));
        var file = PeerFile.Read(path, Strict);
        Assert.Equal(PeerFileRefusal.Owner, file.Refusal);
        Assert.Equal("owned by uid 65534, not by root", file.Reason);
    }

    [Fact]
    public void A_5_MB_file_is_refused_before_any_of_it_is_read()
    {
        var path = _dir.Combine("big.leases");
        using (var big = File.Create(path))
            big.SetLength(5 * 1024 * 1024);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var file = PeerFile.Read(path, Strict);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(PeerFileRefusal.TooLarge, file.Refusal);
        Assert.Equal("5242880 bytes, over the limit of 1048576", file.Reason);
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated to refuse it");
    }

    [Fact]
    public void A_file_at_the_limit_is_read_and_one_byte_more_is_not()
    {
        var rules = Strict with { MaxBytes = 4096 };
        var path = _dir.Combine("edge");
        File.WriteAllBytes(path, new byte[4096]);
        Assert.Equal(4096, PeerFile.Read(path, rules).Bytes!.Length);
        File.WriteAllBytes(path, new byte[4097]);
        Assert.Equal(PeerFileRefusal.TooLarge, PeerFile.Read(path, rules).Refusal);
    }

    [Fact]
    public void Errors_are_told_in_words_not_resource_keys()
    {
        // What a refusal says when open(2) fails with EACCES, as it does for the daemon's own user.
        Assert.Equal("EACCES: Permission denied", Native.Libc.Describe(13));
    }

    private static int Libc_chown(string path, uint uid) => Native.Libc.chown(path, uid, uid);
}

internal static class ProcessExtensions
{
    public static int WaitForExitAndCode(this Process process)
    {
        process.WaitForExit();
        return process.ExitCode;
    }
}
