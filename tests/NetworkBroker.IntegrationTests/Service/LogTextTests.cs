using NetworkBroker.IntegrationTests.Support;
using NetworkBroker.Tests.Support;

namespace NetworkBroker.IntegrationTests.Service;

/// <summary>The daemon's text log is read on terminals and by tools: whatever a script prints, a line is one line of printable text.</summary>
public class LogTextTests : DaemonInNamespace
{
    [Fact]
    public async Task A_scripts_output_echoing_a_peers_terminal_escape_reaches_the_text_log_as_text()
    {
        // A peer's value the script echoes: ESC [31m, a tab, a carriage return inside the line, DEL, the C1 control CSI (c2 9b),
        // a right-to-left override (e2 80 ae) and a line separator (e2 80 a8).
        Dir.Script("routable", "50-echo", "#!/bin/sh\nprintf '1.2.3.4\\033[31mRED\\tx\\ry\\177\\302\\233\\342\\200\\256z\\342\\200\\250\\n'\n");
        using var notify = new NotifySocket(Dir.Combine("notify.sock"));
        using var broker = await StartAsync(Config("root"), notify);

        using (var run = BrokerBinary.Start(["run-scripts", "--config", Dir.Combine("network-broker.toml"), "--link", "lo", "--state", "routable"],
                   broker.ClientEnvironment(), prefix: ["ip", "netns", "exec", Ns.Name]))
            Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        await BrokerHarness.WaitForAsync(() => broker.StandardError.Contains("50-echo succeeded"));
        Assert.Contains(@"info lo: routable.d/50-echo: 1.2.3.4\x1b[31mRED\x09x\x0dy\x7f\xc2\x9b\xe2\x80\xaez\xe2\x80\xa8" + "\n", broker.StandardError);
        Assert.DoesNotContain(broker.StandardError, c => c is < ' ' and not '\n' || c is >= '\x7f' and <= '\x9f' or '\u202e' or '\u2028');

        broker.Signal(15);
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
