using System.Globalization;
using System.Text.RegularExpressions;

namespace Tocsin.Configuration;

/// <summary>
/// Parses and formats sizes written with units, as in the configuration: <c>512MiB</c>, <c>1GiB</c>,
/// <c>500MB</c>, <c>1.5GB</c>, <c>4096B</c>. Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal
/// units (kB/KB, MB, GB, TB) powers of 1000, as in IEC 80000-13. A bare number is refused: every size states
/// its unit.
/// </summary>
public static partial class ByteSize
{
    /// <summary>What a size may look like, for error messages.</summary>
    public const string Allowed = "a number with a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 512MiB, 1GiB, 500MB";

    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();

    /// <summary>Parses <paramref name="text"/> into bytes (rounded down); returns <see langword="false"/> when it is not a size.</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        var m = text is null ? null : Shape().Match(text);
        if (m is null || !m.Success)
        {
            return false;
        }

        double n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        double unit = m.Groups[2].Value switch
        {
            "B" => 1,
            "kB" or "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            "KiB" => 1024,
            "MiB" => 1024.0 * 1024,
            "GiB" => 1024.0 * 1024 * 1024,
            _ => 1024.0 * 1024 * 1024 * 1024,
        };
        double value = Math.Floor(n * unit);
        if (value > long.MaxValue / 2)
        {
            return false;
        }

        bytes = (long)value;
        return true;
    }

    /// <summary>Formats <paramref name="bytes"/> in the largest binary unit that keeps it at or above 1, e.g. <c>1GiB</c>, <c>1.5MiB</c>, <c>300B</c>.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int i = 0;
        while (Math.Abs(v) >= 1024 && i < units.Length - 1)
        {
            v /= 1024;
            i++;
        }

        return v.ToString(i == 0 ? "0" : "0.##", CultureInfo.InvariantCulture) + units[i];
    }
}
