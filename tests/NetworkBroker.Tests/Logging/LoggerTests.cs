using System.Text.Json;
using NetworkBroker.Logging;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.Tests.Logging;

public class LoggerTests
{
    [Fact]
    public void A_line_about_a_link_starts_with_the_links_name()
    {
        var log = new MemoryLog();
        log.Logger.ForLink("eth1", 3).Info("Gained carrier");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info eth1: Gained carrier$", Assert.Single(log.Lines));
    }

    [Fact]
    public void Lines_below_the_level_are_dropped()
    {
        var log = new MemoryLog(LogLevel.Warn);
        log.Logger.Info("quiet");
        log.Logger.Debug("quieter");
        log.Logger.Error("loud");
        Assert.EndsWith("error loud", Assert.Single(log.Lines));
    }

    [Fact]
    public void On_the_journal_lines_carry_the_syslog_priority_and_no_timestamp()
    {
        var log = new MemoryLog(journal: true);
        log.Logger.ForLink("eth0").Warn("careful");
        log.Logger.Info("fine");
        log.Logger.Debug("detail");
        Assert.Equal(["<4>eth0: careful", "<6>fine", "<7>detail"], log.Lines);
    }

    [Fact]
    public void Json_lines_carry_the_link_ifindex_and_fields()
    {
        var log = new MemoryLog(format: LogFormat.Json);
        log.Logger.ForLink("eth1", 7).Warn("routable.d/10-x failed", new LogField("SCRIPT", "/etc/x"), new LogField("EXIT_STATUS", "3"));
        using var json = JsonDocument.Parse(Assert.Single(log.Lines));
        var root = json.RootElement;
        Assert.Equal("warn", root.GetProperty("level").GetString());
        Assert.Equal("eth1", root.GetProperty("link").GetString());
        Assert.Equal(7, root.GetProperty("ifindex").GetInt32());
        Assert.Equal("routable.d/10-x failed", root.GetProperty("message").GetString());
        Assert.Equal("/etc/x", root.GetProperty("script").GetString());
        Assert.Equal("3", root.GetProperty("exit_status").GetString());
        Assert.True(root.TryGetProperty("time", out _));
    }

    [Fact]
    public void A_message_with_newlines_stays_one_line()
    {
        var log = new MemoryLog();
        log.Logger.Info("one\ntwo\r\nthree");
        Assert.EndsWith("one two  three", Assert.Single(log.Lines));
    }
}
