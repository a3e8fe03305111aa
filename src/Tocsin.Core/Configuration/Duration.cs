using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Tocsin.Configuration;

/// <summary>
/// Parses and formats durations written with units, as in the configuration:
/// <c>250ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>, <c>2d</c>, and sums such as <c>1h30m</c>.
/// A bare number is refused: every duration states its unit.
/// </summary>
public static partial class Duration
{
    /// <summary>What a duration may look like, for error messages.</summary>
    public const string Allowed = "a number with a unit (ms, s, m, h, d), e.g. 250ms, 30s, 5m, 1h, 1h30m";

    [GeneratedRegex(@"^\s*(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h|d)", RegexOptions.CultureInvariant)]
    private static partial Regex Part();

    /// <summary>Parses <paramref name="text"/>; returns <see langword="false"/> when it is not a duration.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text) || !Shape().IsMatch(text))
        {
            return false;
        }

        double ms = 0;
        foreach (Match m in Part().Matches(text))
        {
            double n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            ms += m.Groups[2].Value switch
            {
                "ms" => n,
                "s" => n * 1000,
                "m" => n * 60_000,
                "h" => n * 3_600_000,
                _ => n * 86_400_000,
            };
        }

        if (ms > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">When it is not a duration (see <see cref="Allowed"/>).</exception>
    public static TimeSpan Parse(string text) =>
        TryParse(text, out var value) ? value : throw new FormatException($"\"{text}\" is not a duration; use {Allowed}.");

    /// <summary>Formats as the shortest unit sum, e.g. <c>1h30m</c>, <c>250ms</c>, <c>0s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            return "0s";
        }

        var sb = new StringBuilder();
        long ms = (long)Math.Round(value.TotalMilliseconds);
        foreach (var (unit, size) in new (string, long)[] { ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1) })
        {
            if (ms >= size)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{ms / size}{unit}");
                ms %= size;
            }
        }

        return sb.ToString();
    }
}
