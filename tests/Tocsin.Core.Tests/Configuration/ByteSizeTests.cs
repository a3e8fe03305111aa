using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData("4096B", 4096)]
    [InlineData("1KiB", 1024)]
    [InlineData("1kB", 1000)]
    [InlineData("1KB", 1000)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData("500MB", 500_000_000)]
    [InlineData(" 1TiB ", 1L << 40)]
    [InlineData("2 GB", 2_000_000_000)]
    public void Sizes_parse_with_binary_and_decimal_units(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out long value));
        Assert.Equal(bytes, value);
    }

    [Theory]
    [InlineData("1024")]
    [InlineData("")]
    [InlineData("GiB")]
    [InlineData("1gib")]
    [InlineData("-1MiB")]
    [InlineData("1 MiB 2 KiB")]
    [InlineData("99999999999TiB")]
    public void Sizes_without_a_known_unit_or_out_of_range_are_refused(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _));
    }

    [Theory]
    [InlineData(300, "300B")]
    [InlineData(1L << 30, "1GiB")]
    [InlineData(3L << 19, "1.5MiB")]
    [InlineData(1_000_000_000, "953.67MiB")]
    public void Sizes_format_in_the_largest_binary_unit(long bytes, string text)
    {
        Assert.Equal(text, ByteSize.Format(bytes));
    }
}
