using NetworkBroker.Control;
using NetworkBroker.Scripts;

namespace NetworkBroker.Tests.Control;

/// <summary>run-scripts over the control socket: the request line both ways, and what a client may not put in it.</summary>
public class RunScriptsRequestTests
{
    [Fact]
    public void A_request_survives_its_line_form()
    {
        var request = new RunScriptsRequest("routable", "eth\udcff1", [new("DHCP_LEASE", "ADDRESS=10.0.0.2\nROUTER=\"x\""), new("ADDR", "10.0.0.2")]);
        var line = request.ToLine();
        Assert.StartsWith("run-scripts {", line);
        Assert.DoesNotContain('\n', line);
        var back = RunScriptsRequest.Parse(line["run-scripts ".Length..], out var error);
        Assert.Null(error);
        Assert.Equal(request.State, back!.State);
        Assert.Equal(request.Environment, back.Environment);
    }

    [Theory]
    [InlineData("{}", "needs a \"state\"")]
    [InlineData("{\"state\":5}", "needs a \"state\"")]
    [InlineData("{\"state\":\"routable\",\"link\":[1]}", "\"link\" is not a string")]
    [InlineData("{\"state\":\"routable\",\"env\":{\"LD_PRELOAD\":\"/tmp/x.so\"}}", "\"LD_PRELOAD\" is not a documented script variable")]
    [InlineData("{\"state\":\"routable\",\"env\":{\"PATH\":\"/tmp\"}}", "\"PATH\" is not a documented script variable")]
    [InlineData("{\"state\":\"routable\",\"env\":{\"LINK\":1}}", "LINK is not a string")]
    [InlineData("{\"state\":\"routable\",\"env\":[]}", "\"env\" is not an object")]
    [InlineData("routable eth1", "one JSON object")]
    [InlineData("{\"state\":\"routable\",\"env\":{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}}", "")]
    [InlineData("{\"state\":\"routable\",\"link\":\"lo\\u0000\"}", "\"lo?\" is not a link name: 1-15 bytes, no '/', ':', white space or control character")]
    [InlineData("{\"state\":\"routable\",\"link\":\"a234567890123456\"}", "is not a link name")]
    [InlineData("{\"state\":\"routable\",\"link\":\"..\"}", "\"..\" is not a link name")]
    [InlineData("{\"state\":\"routable\",\"link\":\"\"}", "\"\" is not a link name")]
    [InlineData("{\"state\":\"routable\",\"link\":\"eth0/x\"}", "is not a link name")]
    [InlineData("{\"state\":\"routable\",\"link\":\"eth\\u00850\"}", "is not a link name")]
    [InlineData("{\"state\":\"routable\",\"link\":\"eth\\udcff\"}", "a string that is not valid UTF-16")]
    public void What_the_daemon_would_not_do_is_refused_with_why(string text, string why)
    {
        Assert.Null(RunScriptsRequest.Parse(text, out var error));
        Assert.Contains(why, error);
    }

    [Fact]
    public void A_request_nests_four_levels_and_a_fifth_is_refused()
    {
        Assert.NotNull(RunScriptsRequest.Parse("{\"state\":\"routable\",\"x\":[[[]]]}", out var error));
        Assert.Null(error);
        Assert.Null(RunScriptsRequest.Parse("{\"state\":\"routable\",\"x\":[[[[]]]]}", out error));
        Assert.Equal("a run-scripts request is one JSON object", error);
    }

    [Fact]
    public void A_request_nested_a_hundred_thousand_deep_is_refused_not_a_crash()
    {
        var text = "{\"state\":\"routable\",\"env\":" + new string('[', 100_000) + new string(']', 100_000) + "}";
        Assert.Null(RunScriptsRequest.Parse(text, out var error));
        Assert.Equal("a run-scripts request is one JSON object", error);
    }

    [Fact]
    public void A_link_name_of_60000_bytes_is_refused_with_an_error_of_a_line()
    {
        Assert.Null(RunScriptsRequest.Parse($"{{\"state\":\"routable\",\"link\":\"{new string('x', 60_000)}\"}}", out var error));
        Assert.EndsWith("...\" is not a link name: 1-15 bytes, no '/', ':', white space or control character, not \".\" or \"..\"", error);
        Assert.True(error!.Length < 200, error);
    }

    [Theory]
    [InlineData("lo")]
    [InlineData("a23456789012345")]
    [InlineData("wlan-été")]
    public void A_link_name_the_kernel_would_take_is_asked_for(string link) =>
        Assert.Equal(link, RunScriptsRequest.Parse(new RunScriptsRequest("routable", link, []).ToLine()["run-scripts ".Length..], out _)!.Link);

    [Fact]
    public void Random_text_is_a_request_or_a_refusal_never_a_crash()
    {
        var random = new Random(7);
        const string valid = "{\"state\":\"routable\",\"link\":\"eth1\",\"env\":{\"ADDR\":\"10.0.0.2\"}}";
        for (var i = 0; i < 5000; i++)
        {
            var chars = valid.ToCharArray();
            for (var n = random.Next(1, 5); n > 0; n--)
                chars[random.Next(chars.Length)] = (char)random.Next(0, 0x300);
            if (RunScriptsRequest.Parse(new string(chars), out var error) is { } request)
                Assert.All(request.Environment, v => Assert.True(ScriptVariables.IsEventVariable(v.Key)));
            else
                Assert.NotNull(error);
        }
    }

    [Fact]
    public void Replies_are_one_json_line_each()
    {
        var line = RunScriptsRequest.Reply(new ScriptObservation.Line("/etc/network-broker/routable.d/10-x", true, "a \"quoted\"\u001b[31m line"));
        Assert.EndsWith("}\n", line);
        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var document = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("stderr", document.RootElement.GetProperty("stream").GetString());
        Assert.Equal("a \"quoted\"\u001b[31m line", document.RootElement.GetProperty("line").GetString());
    }
}
