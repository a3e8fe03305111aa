using System.Globalization;

namespace Tocsin.Web.Dashboard;

/// <summary>How the pages write times, durations and percentages (invariant culture, UTC).</summary>
public static class Fmt
{
    /// <summary>ISO-8601 UTC with seconds, for <c>datetime</c> attributes: <c>2026-11-23T17:20:03Z</c>.</summary>
    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A readable UTC time: <c>2026-11-23 17:20:03 UTC</c>.</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>How long ago <paramref name="t"/> was, seen at <paramref name="now"/>: <c>just now</c>, <c>42 s ago</c>, <c>5 min ago</c>, <c>3 h ago</c>, <c>2 d ago</c>.</summary>
    public static string Ago(DateTimeOffset t, DateTimeOffset now)
    {
        var d = now - t;
        return d.TotalSeconds switch
        {
            < 1 => "just now",
            < 60 => $"{(int)d.TotalSeconds} s ago",
            < 3600 => $"{(int)d.TotalMinutes} min ago",
            < 86400 => $"{(int)d.TotalHours} h ago",
            _ => $"{(int)d.TotalDays} d ago",
        };
    }

    /// <summary>A span: <c>45 s</c>, <c>12 min</c>, <c>3 h 20 min</c>, <c>2 d 4 h</c>.</summary>
    public static string Span(TimeSpan d) => d.TotalSeconds switch
    {
        < 60 => $"{Math.Max(0, (int)d.TotalSeconds)} s",
        < 3600 => $"{(int)d.TotalMinutes} min",
        < 86400 => d.Minutes == 0 ? $"{(int)d.TotalHours} h" : $"{(int)d.TotalHours} h {d.Minutes} min",
        _ => d.Hours == 0 ? $"{(int)d.TotalDays} d" : $"{(int)d.TotalDays} d {d.Hours} h",
    };

    /// <summary>A duration in ms: <c>0.42 ms</c>, <c>12.3 ms</c>, <c>350 ms</c>, <c>2.35 s</c>; <c>–</c> for null.</summary>
    public static string Ms(double? ms) => ms switch
    {
        null => "–",
        < 1 => ms.Value.ToString("0.##", CultureInfo.InvariantCulture) + " ms",
        < 100 => ms.Value.ToString("0.#", CultureInfo.InvariantCulture) + " ms",
        < 1000 => ms.Value.ToString("0", CultureInfo.InvariantCulture) + " ms",
        _ => (ms.Value / 1000).ToString("0.##", CultureInfo.InvariantCulture) + " s",
    };

    /// <summary>A percentage: <c>100 %</c>, <c>99.95 %</c>, <c>87.3 %</c>; <c>–</c> for null.</summary>
    public static string Percent(double? p) => p switch
    {
        null => "–",
        >= 100 => "100 %",
        >= 99 => (Math.Floor(p.Value * 100) / 100).ToString("0.00", CultureInfo.InvariantCulture) + " %",
        _ => p.Value.ToString("0.0", CultureInfo.InvariantCulture) + " %",
    };

    /// <summary>The CSS class of a state: <c>state-ok</c>, <c>state-warning</c>, <c>state-critical</c>, <c>state-unknown</c>, <c>state-pending</c>.</summary>
    public static string StateClass(string? state) => "state-" + (state ?? "PENDING").ToLowerInvariant();

    /// <summary>The CSS class of an uptime figure: <c>up-good</c> (≥ 99.9 %), <c>up-fair</c> (≥ 99 %), <c>up-poor</c>, <c>up-none</c> (null).</summary>
    public static string UptimeClass(double? p) => p switch
    {
        null => "up-none",
        >= 99.9 => "up-good",
        >= 99 => "up-fair",
        _ => "up-poor",
    };

    /// <summary>The link to a check's page.</summary>
    public static string CheckHref(string name) => "/checks/" + Uri.EscapeDataString(name);

    /// <summary>A number for SVG coordinates (invariant, 1 decimal).</summary>
    public static string N(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
}
