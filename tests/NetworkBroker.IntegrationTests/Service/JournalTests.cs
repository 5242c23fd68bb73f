using System.Text.Json;
using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>On the journal, entries carry fields fleets can query: the real systemd-journald in a private mount namespace.</summary>
public class JournalTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Entries_go_to_journald_with_LINK_IFINDEX_STATE_SCRIPT_and_EXIT_STATUS_so_journalctl_LINK_works()
    {
        _dir.Script("routable", "10-fail", "#!/bin/sh\necho hello from the script\nexit 3\n");
        var output = RunScriptsWithJournald(_dir.Combine("routable.d", "10-fail"), "failed: exit status 3");

        var parts = output.Split("===\n");
        var entries = parts[0].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // networkd's field for the link, and the script's own path, find its output lines as well as its end.
        Assert.Equal(["lo: routable.d/10-fail: hello from the script", "lo: routable.d/10-fail failed: exit status 3"],
            parts[1].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.RegularExpressions.Regex.Replace(l, @" \(\d+ ms\)$", "")));
        Assert.Contains(entries, e => e.GetProperty("MESSAGE").GetString() == "lo: routable.d/10-fail: hello from the script"
            && e.GetProperty("PRIORITY").GetString() == "6" && e.GetProperty("IFINDEX").GetString() == "1");
        var failed = Assert.Single(entries, e => e.TryGetProperty("EXIT_STATUS", out _));
        Assert.Equal("3", failed.GetProperty("EXIT_STATUS").GetString());
        Assert.Equal("exited", failed.GetProperty("EXIT_CODE").GetString());
        Assert.Equal(_dir.Combine("routable.d", "10-fail"), failed.GetProperty("SCRIPT").GetString());
        Assert.Equal("4", failed.GetProperty("PRIORITY").GetString());
        Assert.Equal("routable", failed.GetProperty("STATE").GetString());
        Assert.All(entries, e => Assert.Equal("network-broker", e.GetProperty("SYSLOG_IDENTIFIER").GetString()));
    }

    [Fact]
    public void A_scripts_output_echoing_a_terminal_escape_is_text_in_the_journals_MESSAGE_as_in_the_text_log()
    {
        // A peer's value the script echoes: ESC [31m, a tab, and the C1 control CSI (c2 9b).
        _dir.Script("routable", "50-echo", "#!/bin/sh\nprintf '1.2.3.4\\033[31mRED\\tx\\302\\233\\n'\nexit 0\n");
        var output = RunScriptsWithJournald(_dir.Combine("routable.d", "50-echo"), "50-echo succeeded");

        var entries = output.Split("===\n")[0].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // journalctl shows a MESSAGE with a control character as an array of bytes, a printable one as a string.
        Assert.Contains(entries, e => e.GetProperty("MESSAGE").ValueKind == JsonValueKind.String
            && e.GetProperty("MESSAGE").GetString() == @"lo: routable.d/50-echo: 1.2.3.4\x1b[31mRED\x09x\xc2\x9b");
        Assert.All(entries, e => Assert.Equal(JsonValueKind.String, e.GetProperty("MESSAGE").ValueKind));
    }

    /// <summary>
    /// run-scripts --link lo --state routable under a real journald in a private mount namespace (no daemon: the command
    /// runs the scripts itself); then journalctl's entries with LINK=lo as JSON, "===", and those of <paramref name="script"/> as text.
    /// </summary>
    private string RunScriptsWithJournald(string script, string lastLine)
    {
        var config = _dir.Write("network-broker.toml", "[System]\nUser = \"root\"\n");
        var binary = Environment.GetEnvironmentVariable("NETWORK_BROKER_BIN") is { Length: > 0 } native
            ? native
            : $"dotnet exec {Path.Combine(AppContext.BaseDirectory, "network-broker.dll")}";
        var shell = $"""
            mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal /run/log && mount -t tmpfs tmpfs /run/log
            /lib/systemd/systemd-journald >/dev/null 2>&1 & journald=$!
            for i in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
            JOURNAL_STREAM=1:1 {binary} run-scripts --config {config} --link lo --state routable >/dev/null 2>&1
            for i in $(seq 100); do journalctl -D /run/log/journal --no-pager -o cat INTERFACE=lo SCRIPT={script} | grep -q '{lastLine}' && break; sleep 0.1; done
            journalctl -D /run/log/journal --no-pager -o json LINK=lo
            echo ===
            journalctl -D /run/log/journal --no-pager -o cat INTERFACE=lo SCRIPT={script}
            kill $journald
            """;
        return Shell.Run("timeout", "60", "unshare", "-m", "--propagation", "private", "sh", "-c", shell);
    }
}
