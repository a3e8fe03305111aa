using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

public sealed class DurationTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("2d", 172_800_000)]
    [InlineData("1d2h3m4s5ms", 93_784_005)]
    [InlineData("0s", 0)]
    public void Duration_parses_and_formats_back_to_the_same_text(string text, long ms)
    {
        var value = Duration.Parse(text);

        Assert.Equal(TimeSpan.FromMilliseconds(ms), value);
        Assert.Equal(text, Duration.Format(value));
    }

    [Theory]
    [InlineData("90m", "1h30m")]
    [InlineData("1.5s", "1s500ms")]
    [InlineData("0.5h", "30m")]
    [InlineData("30s30s", "1m")]
    [InlineData(" 30s ", "30s")]
    [InlineData("1000ms", "1s")]
    public void Duration_formats_as_the_shortest_unit_sum(string text, string formatted)
    {
        Assert.Equal(formatted, Duration.Format(Duration.Parse(text)));
    }

    [Theory]
    [InlineData("30")]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("s")]
    [InlineData("30 s")]
    [InlineData("1h 30m")]
    [InlineData("-5s")]
    [InlineData("5x")]
    [InlineData("5sec")]
    [InlineData("5S")]
    [InlineData(".5s")]
    [InlineData("99999999999999d")]
    public void Duration_without_a_number_and_known_unit_is_refused(string text)
    {
        Assert.False(Duration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.Zero, value);
        var ex = Assert.Throws<FormatException>(() => Duration.Parse(text));
        Assert.Contains($"\"{text}\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains(Duration.Allowed, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_is_not_a_duration()
    {
        Assert.False(Duration.TryParse(null, out _));
    }

    [Fact]
    public void Zero_and_negative_durations_format_as_0s()
    {
        Assert.Equal("0s", Duration.Format(TimeSpan.Zero));
        Assert.Equal("0s", Duration.Format(TimeSpan.FromSeconds(-3)));
    }
}
