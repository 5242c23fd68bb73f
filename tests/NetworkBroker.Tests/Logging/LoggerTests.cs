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
    public void A_message_with_newlines_stays_one_line_and_shows_where_they_were()
    {
        var log = new MemoryLog();
        log.Logger.Info("one\ntwo\r\nthree");
        Assert.EndsWith(@"one\x0atwo\x0d\x0athree", Assert.Single(log.Lines));
    }

    [Theory]
    [InlineData(LogFormat.Text, false)]
    [InlineData(LogFormat.Text, true)]
    [InlineData(LogFormat.Json, false)]
    public void A_scripts_output_echoing_a_peers_escape_sequence_reaches_the_log_as_text(LogFormat format, bool journal)
    {
        var log = new MemoryLog(format: format, journal: journal);
        log.Logger.ForLink("eth1", 3).Info("routable.d/50-echo: 1.2.3.4\u001b[31mRED\tand\u009b0m\u007f\0");

        var line = Assert.Single(log.Lines);
        var message = format == LogFormat.Json ? JsonDocument.Parse(line).RootElement.GetProperty("message").GetString()! : line;
        Assert.EndsWith(@"routable.d/50-echo: 1.2.3.4\x1b[31mRED\x09and\xc2\x9b0m\x7f\x00", message);
        Assert.DoesNotContain(line, c => c < ' ' || c is >= '\x7f' and <= '\x9f');
    }

    [Fact]
    public void A_link_name_and_a_message_show_the_same_control_character_the_same_way()
    {
        var log = new MemoryLog();
        log.Logger.ForLink("e\u001bx\u0085").Warn("e\u001bx\u0085 is gone");
        Assert.EndsWith(@"warn e\x1bx\xc2\x85: e\x1bx\xc2\x85 is gone", Assert.Single(log.Lines));
    }
}
