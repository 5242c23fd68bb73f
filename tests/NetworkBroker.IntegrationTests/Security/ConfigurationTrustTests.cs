using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Security;

/// <summary>
/// The configuration names the daemon's user and its script directories: a local user (nobody) who can write one of its
/// files, or a directory on its way, must not get the daemon to read it. The binary, as the admin runs it.
/// </summary>
public class ConfigurationTrustTests
{
    [Fact]
    public async Task A_drop_in_written_by_nobody_into_a_group_writable_directory_keeps_the_daemon_from_starting()
    {
        using var dir = new TempDirectory();
        using var evil = new TempDirectory();
        var marker = evil.Combine("ran");
        evil.Script("routable", "10-evil", $"#!/bin/sh\nid -u > {marker}\n");
        var config = dir.Write("network-broker.toml", "[System]\nLogLevel = \"debug\"\n");
        // The admin's mistake: the configuration directory writable by a group nobody is in.
        Shell.Run("chgrp", "nogroup", dir.Path);
        File.SetUnixFileMode(dir.Path, File.GetUnixFileMode(dir.Path) | UnixFileMode.GroupWrite);
        Attacker.Run(null, "mkdir", dir.Combine("network-broker.toml.d"));
        Attacker.Run(null, "sh", "-c",
            $"printf '[System]\\nUser = \"nobody\"\\nScriptDirectories = \"{evil.Path}\"\\n' > {dir.Combine("network-broker.toml.d", "99-x.toml")}");

        var (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--config", config);
        Assert.Equal(1, code);
        Assert.Contains($"not trusted: directory {dir.Path} is writable by group or others", stderr);

        using var broker = BrokerBinary.Start(["--config", config]);
        Assert.Equal(78, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("not trusted", broker.StandardError);
        Assert.DoesNotContain("re-executing as nobody", broker.StandardError);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_configuration_file_owned_by_nobody_is_not_read()
    {
        using var dir = new TempDirectory();
        var config = dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");
        Directory.CreateDirectory(dir.Combine("network-broker.toml.d"));
        var dropIn = dir.Write("network-broker.toml.d/50-admin.toml", "[Network]\nLinks = \"eth*\"\n");
        Shell.Run("chown", "nobody", dropIn);

        var (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--config", config);
        Assert.Equal(1, code);
        Assert.Contains($"{dropIn}: not trusted: {dropIn} is owned by uid 65534, not by root or the daemon's user", stderr);

        // The same file, root's again: read.
        Shell.Run("chown", "root", dropIn);
        (code, _, stderr) = await BrokerBinary.RunAsync("check-config", "--config", config);
        Assert.True(code == 0, stderr);
    }
}
