using System.Globalization;

namespace Tocsin.Checks.BackupFreshness;

/// <summary>
/// How the dumps of a backup set are named (config <c>pattern</c>): literal text around one date-time part, the part in
/// braces, e.g. <c>dump-{yyyy-MM-dd-HH:mm:ss}</c> (seed 001's <c>dump-2020-02-10-08:01:25</c>) or
/// <c>mongo-{yyyyMMdd'T'HHmmss}.archive.gz</c>. The part in braces is a .NET custom date and time format read with the
/// invariant culture (<c>yyyy</c> year, <c>MM</c> month, <c>dd</c> day, <c>HH</c> hour 00–23, <c>mm</c> minute,
/// <c>ss</c> second, <c>'…'</c> quoted literal text, <c>zzz</c> or <c>K</c> an offset carried by the name); it must give at
/// least the year, month and day. Without braces the date-time part is everything from the first <c>yyyy</c> to the end, so
/// seed 001's spelling <c>dump-yyyy-MM-dd-HH:mm:ss</c> means <c>dump-{yyyy-MM-dd-HH:mm:ss}</c>. The literal text is matched
/// exactly (ordinal, case-sensitive) and may not contain braces or <c>/</c>.
/// </summary>
public sealed class DumpNamePattern
{
    /// <summary>Seed 001's dump names, as the seed spells them: <c>dump-yyyy-MM-dd-HH:mm:ss</c>.</summary>
    public const string Default = "dump-yyyy-MM-dd-HH:mm:ss";

    /// <summary>What a pattern may look like, for error messages.</summary>
    public const string Allowed =
        "literal text around one date-time part in braces, e.g. \"dump-{yyyy-MM-dd-HH:mm:ss}\" or \"mongo-{yyyyMMdd'T'HHmmss}.gz\" " +
        "(the part in braces is a .NET custom date-time format giving at least yyyy, MM and dd; without braces the date-time part is everything from the first \"yyyy\" on)";

    private const string Specifiers = "dfFghHKmMstyz";

    private DumpNamePattern(string prefix, string format, string suffix, bool carriesOffset)
    {
        Prefix = prefix;
        Format = format;
        Suffix = suffix;
        CarriesOffset = carriesOffset;
    }

    /// <summary>The literal text before the date-time part (may be empty).</summary>
    public string Prefix { get; }

    /// <summary>The date-time part: a .NET custom date and time format, e.g. <c>yyyy-MM-dd-HH:mm:ss</c>.</summary>
    public string Format { get; }

    /// <summary>The literal text after the date-time part (may be empty).</summary>
    public string Suffix { get; }

    /// <summary>Whether the names carry their UTC offset (<c>z</c> or <c>K</c> in <see cref="Format"/>); otherwise their time is read in the check's <c>timeZone</c>.</summary>
    public bool CarriesOffset { get; }

    /// <summary>Parses a pattern (see the class remarks).</summary>
    /// <param name="text">The pattern as configured.</param>
    /// <param name="pattern">The pattern, or null when <paramref name="text"/> is not one.</param>
    /// <param name="problem">What is wrong (without the pattern itself), or null.</param>
    public static bool TryParse(string text, out DumpNamePattern? pattern, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        pattern = null;
        int open = text.IndexOf('{', StringComparison.Ordinal), close = text.IndexOf('}', StringComparison.Ordinal);
        string prefix, format, suffix;
        if (open < 0 && close < 0)
        {
            int year = text.IndexOf("yyyy", StringComparison.Ordinal);
            if (year < 0)
            {
                problem = "has no date-time part";
                return false;
            }

            (prefix, format, suffix) = (text[..year], text[year..], "");
        }
        else if (open < 0 || close < open || text.IndexOf('{', open + 1) >= 0 || text.IndexOf('}', close + 1) >= 0)
        {
            problem = "must have exactly one date-time part in braces {…}, and no other brace";
            return false;
        }
        else
        {
            (prefix, format, suffix) = (text[..open], text[(open + 1)..close], text[(close + 1)..]);
        }

        if ((prefix + suffix).IndexOfAny(['/', '\0']) >= 0)
        {
            problem = "has a '/' or NUL character in its literal text: dump names cannot contain them";
            return false;
        }

        problem = CheckFormat(format, out bool carriesOffset);
        if (problem is not null)
        {
            return false;
        }

        pattern = new DumpNamePattern(prefix, format, suffix, carriesOffset);
        return true;
    }

    /// <summary>
    /// Reads the time of a dump from its name: UTC, from the offset in the name when <see cref="CarriesOffset"/> (<c>K</c>
    /// without one: UTC), else from <paramref name="zone"/>'s wall clock (a time skipped or repeated by a daylight-saving
    /// change is read with the zone's standard offset).
    /// </summary>
    /// <returns><see langword="false"/> when the name does not match (other text, or a date-time part that does not parse).</returns>
    public bool TryMatch(string name, TimeZoneInfo zone, out DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(zone);
        time = default;
        if (name.Length <= Prefix.Length + Suffix.Length || !name.StartsWith(Prefix, StringComparison.Ordinal) || !name.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return false;
        }

        string part = name[Prefix.Length..^Suffix.Length];
        try
        {
            if (CarriesOffset)
            {
                if (!DateTimeOffset.TryParseExact(part, Format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var withOffset))
                {
                    return false;
                }

                time = withOffset.ToUniversalTime();
                return true;
            }

            if (!DateTime.TryParseExact(part, Format, CultureInfo.InvariantCulture, DateTimeStyles.None, out var wall))
            {
                return false;
            }

            wall = DateTime.SpecifyKind(wall, DateTimeKind.Unspecified);
            time = new DateTimeOffset(wall, zone.GetUtcOffset(wall)).ToUniversalTime();
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false; // a wall time at the very ends of the calendar, beyond the offset
        }
    }

    /// <summary>The pattern with its date-time part in braces, e.g. <c>dump-{yyyy-MM-dd-HH:mm:ss}</c>.</summary>
    public override string ToString() => $"{Prefix}{{{Format}}}{Suffix}";

    /// <summary>Checks a .NET custom date-time format: it parses back what it writes, and gives the year, month and day.</summary>
    private static string? CheckFormat(string format, out bool carriesOffset)
    {
        carriesOffset = false;
        if (format.Length == 0)
        {
            return "has an empty date-time part";
        }

        var runs = new List<(char Letter, int Length)>();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c is '\'' or '"')
            {
                int end = format.IndexOf(c, i + 1);
                if (end < 0)
                {
                    return $"has an unclosed {c} quote in its date-time part";
                }

                i = end;
            }
            else if (c == '\\')
            {
                i++;
            }
            else if (Specifiers.Contains(c, StringComparison.Ordinal))
            {
                int length = 1;
                while (i + 1 < format.Length && format[i + 1] == c)
                {
                    length++;
                    i++;
                }

                runs.Add((c, length));
            }
        }

        bool Has(char letter, int min, int max) => runs.Exists(r => r.Letter == letter && r.Length >= min && r.Length <= max);
        if (!Has('y', 1, 5) || !Has('M', 1, 4) || !Has('d', 1, 2))
        {
            return "must give the year (yyyy), the month (MM) and the day of the month (dd) in its date-time part";
        }

        if (Has('h', 1, 2) && !Has('t', 1, 2))
        {
            return "has a 12-hour hour (h) without AM/PM (tt) in its date-time part; use HH";
        }

        carriesOffset = Has('z', 1, 3) || Has('K', 1, 1);
        try
        {
            // Two samples with one- and two-digit fields: what the format writes must parse back to the same text.
            foreach (var sample in new[] { new DateTimeOffset(2026, 1, 2, 3, 4, 5, 6, TimeSpan.Zero), new DateTimeOffset(2026, 12, 31, 23, 59, 58, 999, TimeSpan.Zero) })
            {
                string written = sample.ToString(format, CultureInfo.InvariantCulture);
                if (!DateTimeOffset.TryParseExact(written, format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var read)
                    || read.ToString(format, CultureInfo.InvariantCulture) != written || read.Date != sample.Date)
                {
                    return "has a date-time part that does not read back what it writes (e.g. two numbers without a separator where one has a variable width, such as d or M; use dd and MM)";
                }
            }
        }
        catch (FormatException ex)
        {
            return $"has an invalid .NET date-time format in its date-time part ({ex.Message})";
        }

        return null;
    }
}