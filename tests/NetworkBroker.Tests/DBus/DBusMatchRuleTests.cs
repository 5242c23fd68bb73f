using NetworkBroker.DBus;
using NetworkBroker.Networkd;

namespace NetworkBroker.Tests.DBus;

/// <summary>Match rules as the D-Bus specification writes them ("Match Rules"), quoting included.</summary>
public class DBusMatchRuleTests
{
    [Fact]
    public void Networkds_rules_render_as_the_bus_expects_them()
    {
        Assert.Equal("type='signal',sender='org.freedesktop.network1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'," +
                     "path_namespace='/org/freedesktop/network1'", NetworkdBus.PropertiesMatch.ToString());
        Assert.Equal("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'," +
                     "arg0='org.freedesktop.network1'", NetworkdBus.OwnerMatch.ToString());
    }

    [Fact]
    public void Every_key_is_written_in_the_specifications_order_and_only_when_set()
    {
        Assert.Equal("", new DBusMatchRule().ToString());
        Assert.Equal("type='method_call',sender=':1.5',interface='org.example.I',member='M',path='/org/example',destination=':1.7',arg0='x'",
            new DBusMatchRule
            {
                Arg0 = "x", Destination = ":1.7", Path = "/org/example", Member = "M", Interface = "org.example.I", Sender = ":1.5",
                Type = DBusMessageType.MethodCall,
            }.ToString());
        Assert.Equal("type='method_return'", new DBusMatchRule { Type = DBusMessageType.MethodReturn }.ToString());
        Assert.Equal("type='error'", new DBusMatchRule { Type = DBusMessageType.Error }.ToString());
    }

    [Theory]
    // The specification's own example: an apostrophe, a backslash, a comma, two backslashes.
    [InlineData("'", @"arg0=''\'''")]
    [InlineData(@"\", @"arg0='\'")]
    [InlineData(",", "arg0=','")]
    [InlineData(@"\\", @"arg0='\\'")]
    [InlineData("it's, here", @"arg0='it'\''s, here'")]
    [InlineData("a'',b", @"arg0='a'\'''\'',b'")]
    [InlineData("", "arg0=''")]
    public void A_value_is_quoted_with_apostrophes_written_outside_the_quotes(string value, string rendered)
    {
        Assert.Equal(rendered, new DBusMatchRule { Arg0 = value }.ToString());
    }

    [Fact]
    public void A_rendered_value_reads_back_by_the_specifications_rules()
    {
        var random = new Random(7);
        const string alphabet = "a',\\= ";
        for (var round = 0; round < 2000; round++)
        {
            var value = new string([.. Enumerable.Range(0, random.Next(12)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            var rendered = new DBusMatchRule { Arg0 = value }.ToString();
            Assert.StartsWith("arg0=", rendered);
            Assert.Equal(value, Unquote(rendered["arg0=".Length..]));
        }
    }

    /// <summary>The specification's reading: inside quotes a backslash is itself; outside, \' is an apostrophe.</summary>
    private static string Unquote(string text)
    {
        var value = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\'')
                quoted = !quoted;
            else if (!quoted && c == '\\' && i + 1 < text.Length && text[i + 1] == '\'')
                value.Append(text[++i]);
            else if (!quoted && c == ',')
                throw new FormatException("a comma outside quotes ends the value");
            else
                value.Append(c);
        }
        Assert.False(quoted, "a quote left open");
        return value.ToString();
    }

    [Fact]
    public void Rules_the_bus_would_refuse_for_their_form_are_refused_here()
    {
        Assert.Throws<ArgumentException>(() => new DBusMatchRule { Path = "/a", PathNamespace = "/a" }.ToString());
        Assert.Throws<ArgumentException>(() => new DBusMatchRule { Path = "/a/" }.ToString());
        Assert.Throws<ArgumentException>(() => new DBusMatchRule { PathNamespace = "a" }.ToString());
        Assert.Throws<ArgumentException>(() => new DBusMatchRule { Arg0 = "a\0b" }.ToString());
        Assert.Throws<ArgumentException>(() => new DBusMatchRule { Arg0 = new string('x', DBusMatchRule.MaxLength) }.ToString());
        Assert.Throws<ArgumentException>(() => new DBusMatchRule { Type = DBusMessageType.Invalid }.ToString());
    }

    [Fact]
    public void Rules_are_values()
    {
        Assert.Equal(new DBusMatchRule { Member = "M", Arg0 = "x" }, new DBusMatchRule { Arg0 = "x", Member = "M" });
        Assert.NotEqual(new DBusMatchRule { Member = "M" }, new DBusMatchRule { Member = "M", Arg0 = "x" });
    }
}
