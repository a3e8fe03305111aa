using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Prometheus;
using Tocsin.Checks;

namespace Tocsin.Web;

/// <summary>
/// Gauge <c>tocsin_perfdata{check,label,unit}</c>: the latest value of each performance data item (Nagios plugin
/// output, details <c>perfdata</c> of a <c>command</c> check's result, see <see cref="Checks.Command.CommandContract"/>)
/// of each check's newest committed result.
/// <para><b>Units</b>: Prometheus puts a metric's unit in its name, in base units; perfdata mixes units within one
/// metric, so the unit is the <c>unit</c> label and values are converted to base units: <c>s</c>, <c>ms</c>, <c>us</c>
/// → <c>seconds</c>; <c>B</c>, <c>KB</c>, <c>MB</c>, <c>GB</c>, <c>TB</c> (1024-based, as the Monitoring Plugins use
/// them) → <c>bytes</c>; <c>%</c> → <c>percent</c> (value kept 0–100, as the plugin's thresholds are); <c>c</c> (a
/// continuous counter) → <c>counter</c>; no unit → <c>""</c>; any other unit is kept as written (control characters
/// removed, at most <see cref="MaxUnitLength"/> characters) and the value unchanged.</para>
/// <para><b>Bounds</b>: at most <see cref="MaxLabelsPerCheck"/> items per check (the first ones; duplicates after
/// sanitizing: the first wins); labels have control characters replaced by <c>_</c> and are cut at
/// <see cref="MaxLabelLength"/> characters. A value of <c>U</c> (undetermined) has no sample. When a check's newest
/// result no longer reports a label (or has no perfdata at all, e.g. a timeout), that series is removed.
/// Series live in this process: after a restart they come back with each check's next result.</para>
/// </summary>
public sealed class PerfdataGauges
{
    /// <summary>Most perfdata series per check.</summary>
    public const int MaxLabelsPerCheck = 50;

    /// <summary>Longest <c>label</c> value, in characters.</summary>
    public const int MaxLabelLength = 128;

    /// <summary>Longest <c>unit</c> value kept as written, in characters.</summary>
    public const int MaxUnitLength = 16;

    private readonly Gauge _gauge;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CheckSeries> _checks = new(StringComparer.Ordinal);

    /// <summary>Creates the gauge with <paramref name="factory"/>.</summary>
    public PerfdataGauges(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _gauge = factory.CreateGauge(
            "tocsin_perfdata",
            "Latest value of each performance data item of each check's newest result, in base units (see the unit label).",
            new GaugeConfiguration { LabelNames = ["check", "label", "unit"] });
    }

    /// <summary>Series per check now published, for tests and diagnostics.</summary>
    public int SeriesCount(string check)
    {
        lock (_lock)
        {
            return _checks.TryGetValue(check, out var s) ? s.Series.Count : 0;
        }
    }

    /// <summary>Updates the series of the checks of <paramref name="results"/> (an older result than the one shown is ignored). Quick: no I/O.</summary>
    public void Observe(IReadOnlyList<CheckResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        lock (_lock)
        {
            foreach (var result in results)
            {
                Observe(result);
            }
        }
    }

    private void Observe(CheckResult result)
    {
        _checks.TryGetValue(result.CheckName, out var current);
        if (current is not null && result.StartedAt < current.StartedAt)
        {
            return;
        }

        var items = Read(result.Details);
        if (items.Count == 0 && current is null)
        {
            return;
        }

        var next = new Dictionary<(string Label, string Unit), Gauge.Child>();
        foreach (var (label, unit, value) in items)
        {
            var key = (label, unit);
            if (current is null || !current.Series.Remove(key, out var child))
            {
                child = _gauge.WithLabels(result.CheckName, label, unit);
            }

            child.Set(value);
            next[key] = child;
        }

        if (current is not null)
        {
            foreach (var stale in current.Series.Values)
            {
                stale.Remove();
            }
        }

        if (next.Count == 0)
        {
            _checks.Remove(result.CheckName);
        }
        else
        {
            _checks[result.CheckName] = new CheckSeries(result.StartedAt, next);
        }
    }

    /// <summary>The sanitized, converted items of a result's details <c>perfdata</c> (bounded, first label wins, <c>U</c> left out).</summary>
    internal static List<(string Label, string Unit, double Value)> Read(JsonObject? details)
    {
        var list = new List<(string, string, double)>();
        if (details?["perfdata"] is not JsonArray perfdata)
        {
            return list;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in perfdata)
        {
            if (seen.Count >= MaxLabelsPerCheck)
            {
                break;
            }

            if (node is not JsonObject item || item["label"] is not JsonValue labelNode || labelNode.GetValueKind() != JsonValueKind.String)
            {
                continue;
            }

            string label = Sanitize(labelNode.GetValue<string>(), MaxLabelLength, '_');
            if (label.Length == 0 || !seen.Add(label))
            {
                continue;
            }

            if (item["value"] is not JsonValue valueNode || valueNode.GetValueKind() != JsonValueKind.Number)
            {
                continue; // U: undetermined
            }

            string? uom = item["unit"] is JsonValue u && u.GetValueKind() == JsonValueKind.String ? u.GetValue<string>() : null;
            var (unit, scale) = Unit(uom);
            double value = valueNode.GetValue<double>() * scale;
            if (double.IsFinite(value))
            {
                list.Add((label, unit, value));
            }
        }

        return list;
    }

    /// <summary>The <c>unit</c> label of a Nagios unit of measure and the factor to base units (see the class remarks).</summary>
    public static (string Unit, double Scale) Unit(string? uom) => uom switch
    {
        null or "" => ("", 1),
        "s" => ("seconds", 1),
        "ms" => ("seconds", 1e-3),
        "us" => ("seconds", 1e-6),
        "B" => ("bytes", 1),
        "KB" => ("bytes", 1024),
        "MB" => ("bytes", 1024.0 * 1024),
        "GB" => ("bytes", 1024.0 * 1024 * 1024),
        "TB" => ("bytes", 1024.0 * 1024 * 1024 * 1024),
        "%" => ("percent", 1),
        "c" => ("counter", 1),
        _ => (Sanitize(uom, MaxUnitLength, null), 1),
    };

    /// <summary>Control characters replaced by <paramref name="replacement"/> (or removed), trimmed, cut at <paramref name="max"/> characters without splitting a surrogate pair.</summary>
    private static string Sanitize(string text, int max, char? replacement)
    {
        var sb = new StringBuilder(Math.Min(text.Length, max));
        foreach (char c in text.Trim())
        {
            if (char.IsControl(c))
            {
                if (replacement is { } r)
                {
                    sb.Append(r);
                }
            }
            else
            {
                sb.Append(c);
            }
        }

        if (sb.Length > max)
        {
            sb.Length = char.IsHighSurrogate(sb[max - 1]) ? max - 1 : max;
        }

        // A lone surrogate cannot be written as UTF-8 in the exposition: drop any.
        string s = sb.ToString();
        return s.Any(char.IsSurrogate) && !IsWellFormed(s) ? new string([.. s.Where(c => !char.IsSurrogate(c))]) : s;
    }

    private static bool IsWellFormed(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                return false;
            }
        }

        return true;
    }

    private sealed record CheckSeries(DateTimeOffset StartedAt, Dictionary<(string Label, string Unit), Gauge.Child> Series);
}
