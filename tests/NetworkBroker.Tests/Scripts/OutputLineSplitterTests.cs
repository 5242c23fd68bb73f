using System.Text;
using NetworkBroker.Scripts;

namespace NetworkBroker.Tests.Scripts;

public class OutputLineSplitterTests
{
    private static (List<string> Lines, OutputLineSplitter Splitter) Make(int maxLine = 16, long maxLogged = 1024)
    {
        var lines = new List<string>();
        return (lines, new OutputLineSplitter(lines.Add, maxLine, maxLogged));
    }

    [Fact]
    public void Lines_split_across_reads_are_joined()
    {
        var (lines, splitter) = Make();
        splitter.Feed("hel"u8);
        splitter.Feed("lo\nwor"u8);
        splitter.Feed("ld\r\n\nlast"u8);
        splitter.Complete();
        Assert.Equal(["hello", "world", "", "last"], lines);
    }

    [Fact]
    public void An_over_long_line_is_cut_into_pieces_of_the_maximum()
    {
        var (lines, splitter) = Make(maxLine: 4);
        splitter.Feed("abcdefghij\n"u8);
        splitter.Complete();
        Assert.Equal(["abcd", "efgh", "ij"], lines);
    }

    [Fact]
    public void Output_past_the_budget_is_counted_not_logged()
    {
        var (lines, splitter) = Make(maxLine: 16, maxLogged: 20);
        for (var i = 0; i < 100; i++)
            splitter.Feed("123456789\n"u8);
        splitter.Complete();
        Assert.Equal(2, lines.Count);
        Assert.Equal(1000 - 20, splitter.DroppedBytes);
    }

    [Fact]
    public void Random_chunking_never_changes_the_lines()
    {
        var random = new Random(42);
        var text = new StringBuilder();
        for (var i = 0; i < 500; i++)
            text.Append(new string((char)('a' + i % 26), random.Next(0, 40))).Append('\n');
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        var expected = Split(bytes, maxLine: 32);

        for (var round = 0; round < 50; round++)
        {
            var (lines, splitter) = Make(maxLine: 32, maxLogged: long.MaxValue);
            for (var at = 0; at < bytes.Length;)
            {
                var size = Math.Min(random.Next(1, 100), bytes.Length - at);
                splitter.Feed(bytes.AsSpan(at, size));
                at += size;
            }
            splitter.Complete();
            Assert.Equal(expected, lines);
        }
    }

    private static List<string> Split(byte[] bytes, int maxLine)
    {
        var (lines, splitter) = Make(maxLine, long.MaxValue);
        splitter.Feed(bytes);
        splitter.Complete();
        return lines;
    }
}
