using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Tocsin.Checks.Command;

/// <summary>
/// One item of Nagios plugin performance data, as the Nagios plugin development guidelines define it:
/// <c>'label'=value[UOM];[warn];[crit];[min];[max]</c>.
/// </summary>
/// <param name="Label">The label, unquoted (<c>''</c> inside a quoted label is one <c>'</c>).</param>
/// <param name="Value">The value, or <see langword="null"/> when the plugin wrote <c>U</c> (undetermined).</param>
/// <param name="Unit">The unit of measure as written (<c>s</c>, <c>ms</c>, <c>us</c>, <c>%</c>, <c>B</c>, <c>KB</c>, <c>MB</c>,
/// <c>TB</c>, <c>c</c>, or whatever the plugin used), or <see langword="null"/> when none.</param>
/// <param name="Warn">The warning threshold in the guidelines' range format (e.g. <c>10</c>, <c>10:</c>, <c>~:10</c>, <c>@10:20</c>),
/// kept as text, or <see langword="null"/> when empty or absent.</param>
/// <param name="Crit">The critical threshold, as <paramref name="Warn"/>.</param>
/// <param name="Min">The smallest possible value, or <see langword="null"/>.</param>
/// <param name="Max">The largest possible value, or <see langword="null"/>.</param>
public sealed record PerfdataItem(string Label, double? Value, string? Unit, string? Warn, string? Crit, double? Min, double? Max)
{
    /// <summary>
    /// The item as stored in a result's details:
    /// <c>{"label":…, "value":number|null, "unit":string|null, "warn":string|null, "crit":string|null, "min":number|null, "max":number|null}</c>.
    /// </summary>
    public JsonObject ToJson() => new()
    {
        ["label"] = Label,
        ["value"] = Value,
        ["unit"] = Unit,
        ["warn"] = Warn,
        ["crit"] = Crit,
        ["min"] = Min,
        ["max"] = Max,
    };
}

/// <summary>
/// Parses the performance data part of Nagios plugin output (the text after <c>|</c>): space-separated items
/// <c>'label'=value[UOM];[warn];[crit];[min];[max]</c>. Written from the Nagios plugin development guidelines:
/// a label with spaces or <c>=</c> is single-quoted, a quote inside is doubled; trailing empty fields may be left out;
/// the value may be <c>U</c>. Lenient about units (whatever follows the number, digits aside, is kept as the unit: <c>GiB</c>, <c>B/s</c>) and
/// strict about the rest: an item that does not parse is returned in <see cref="PerfdataParse.Invalid"/>, never thrown.
/// </summary>
public static class Perfdata
{
    /// <summary>Parses <paramref name="text"/> (may span several lines; any whitespace separates items).</summary>
    public static PerfdataParse Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var items = new List<PerfdataItem>();
        var invalid = new List<string>();
        int i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i >= text.Length)
            {
                break;
            }

            int start = i;
            string? label = ReadLabel(text, ref i);
            if (label is null || i >= text.Length || text[i] != '=')
            {
                SkipToken(text, ref i);
                invalid.Add(text[start..i]);
                continue;
            }

            i++;
            int valueStart = i;
            SkipToken(text, ref i);
            var item = ParseFields(label, text[valueStart..i]);
            if (item is null)
            {
                invalid.Add(text[start..i]);
            }
            else
            {
                items.Add(item);
            }
        }

        return new PerfdataParse(items, invalid);
    }

    private static string? ReadLabel(string text, ref int i)
    {
        if (text[i] != '\'')
        {
            int s = i;
            while (i < text.Length && text[i] != '=' && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            return i > s ? text[s..i] : null;
        }

        var label = new StringBuilder();
        i++;
        while (i < text.Length)
        {
            if (text[i] == '\'')
            {
                if (i + 1 < text.Length && text[i + 1] == '\'')
                {
                    label.Append('\'');
                    i += 2;
                    continue;
                }

                i++;
                return label.Length > 0 ? label.ToString() : null;
            }

            label.Append(text[i]);
            i++;
        }

        return null; // unterminated quote
    }

    private static void SkipToken(string text, ref int i)
    {
        bool quoted = false;
        while (i < text.Length && (quoted || !char.IsWhiteSpace(text[i])))
        {
            if (text[i] == '\'')
            {
                quoted = !quoted;
            }

            i++;
        }
    }

    private static PerfdataItem? ParseFields(string label, string fields)
    {
        string[] parts = fields.Split(';');
        if (parts.Length > 5)
        {
            return null;
        }

        string valuePart = parts[0];
        double? value;
        string? unit;
        if (valuePart == "U")
        {
            value = null;
            unit = null;
        }
        else
        {
            int n = 0;
            while (n < valuePart.Length && (char.IsAsciiDigit(valuePart[n]) || valuePart[n] is '-' or '+' or '.' or 'e' or 'E'))
            {
                n++;
            }

            // "1e" would take the unit's e; back off to the longest prefix that is a number.
            while (n > 0 && !TryNumber(valuePart[..n], out _))
            {
                n--;
            }

            if (n == 0 || !TryNumber(valuePart[..n], out double v))
            {
                return null;
            }

            value = v;
            unit = valuePart.Length > n ? valuePart[n..] : null;
            if (unit is not null && unit.Any(c => char.IsAsciiDigit(c) || c is '=' or '\'' || char.IsControl(c)))
            {
                return null;
            }
        }

        string? warn = Field(parts, 1);
        string? crit = Field(parts, 2);
        if (!IsRange(warn) || !IsRange(crit))
        {
            return null;
        }

        double? min = null, max = null;
        if (Field(parts, 3) is { } minText)
        {
            if (!TryNumber(minText, out double m))
            {
                return null;
            }

            min = m;
        }

        if (Field(parts, 4) is { } maxText)
        {
            if (!TryNumber(maxText, out double m))
            {
                return null;
            }

            max = m;
        }

        return new PerfdataItem(label, value, unit, warn, crit, min, max);
    }

    private static string? Field(string[] parts, int index) => index < parts.Length && parts[index].Length > 0 ? parts[index] : null;

    /// <summary>Whether <paramref name="range"/> has the guidelines' threshold shape: <c>[@][start:][end]</c>, start may be <c>~</c>.</summary>
    private static bool IsRange(string? range)
    {
        if (range is null)
        {
            return true;
        }

        string r = range.StartsWith('@') ? range[1..] : range;
        int colon = r.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return TryNumber(r, out _);
        }

        string start = r[..colon], end = r[(colon + 1)..];
        return (start.Length == 0 || start == "~" || TryNumber(start, out _)) && (end.Length == 0 || TryNumber(end, out _));
    }

    private static bool TryNumber(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
}

/// <summary>What <see cref="Perfdata.Parse"/> found.</summary>
/// <param name="Items">The items that parsed, in order.</param>
/// <param name="Invalid">The items that did not, as written.</param>
public sealed record PerfdataParse(IReadOnlyList<PerfdataItem> Items, IReadOnlyList<string> Invalid);
