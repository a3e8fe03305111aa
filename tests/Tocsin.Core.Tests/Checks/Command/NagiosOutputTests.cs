using Tocsin.Checks.Command;

namespace Tocsin.Core.Tests.Checks.Command;

public sealed class NagiosOutputTests
{
    [Fact]
    public void One_line_with_perfdata()
    {
        var o = NagiosOutput.Parse("PING OK - Packet loss = 0%, RTA = 0.80 ms | rta=0.8ms;100;500;0 pl=0%;20;60;0\n");

        Assert.Equal("PING OK - Packet loss = 0%, RTA = 0.80 ms", o.Text);
        Assert.Null(o.LongOutput);
        Assert.Equal("rta=0.8ms;100;500;0 pl=0%;20;60;0", o.PerfdataText);
        Assert.True(o.IsPluginOutput());
    }

    [Fact]
    public void Multi_line_long_output_with_perfdata_after_a_later_bar_and_on_following_lines()
    {
        var o = NagiosOutput.Parse("DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%); | /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414\n");

        Assert.Equal("DISK OK - free space: / 3326 MB (56%);", o.Text);
        Assert.Equal("/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);", o.LongOutput);
        Assert.Equal("/=2643MB;5948;5958;0;5968 /boot=68MB;88;93;0;98 /home=69357MB;253404;253409;0;253414", o.PerfdataText);
        Assert.Equal(3, Perfdata.Parse(o.PerfdataText!).Items.Count);
    }

    [Fact]
    public void Perfdata_only_on_later_lines_when_the_first_line_has_none()
    {
        var o = NagiosOutput.Parse("Everything fine\nline two\n| a=1\nb=2");

        Assert.Equal("Everything fine", o.Text);
        Assert.Equal("line two", o.LongOutput);
        Assert.Equal("a=1 b=2", o.PerfdataText);
        Assert.True(o.IsPluginOutput());
    }

    [Theory]
    [InlineData("OK", true)]
    [InlineData("OK: all good", true)]
    [InlineData("WARNING - 3 processes", true)]
    [InlineData("DISK CRITICAL - / is full", true)]
    [InlineData("HTTP UNKNOWN: cannot resolve", true)]
    [InlineData("CHECK_NRPE STATE CRITICAL: Socket timeout", true)]
    [InlineData("all OK", false)]
    [InlineData("Okay then", false)]
    [InlineData("OKAY", false)]
    [InlineData("queue length 12", false)]
    [InlineData("a | b", false)]
    [InlineData("", false)]
    public void Plugin_output_is_recognised_by_status_word_or_parsable_perfdata(string stdout, bool expected) =>
        Assert.Equal(expected, NagiosOutput.Parse(stdout).IsPluginOutput());

    [Fact]
    public void Crlf_line_ends_are_accepted()
    {
        var o = NagiosOutput.Parse("OK - fine | a=1\r\nmore\r\n");

        Assert.Equal("OK - fine", o.Text);
        Assert.Equal("more", o.LongOutput);
        Assert.Equal("a=1", o.PerfdataText);
    }
}
