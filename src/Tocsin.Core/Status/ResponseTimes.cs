using Tocsin.Checks;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Status;

/// <summary>One bucket of a response-time chart: the runs started in [<paramref name="Start"/>, <paramref name="End"/>).</summary>
/// <param name="Start">Start of the bucket (UTC).</param>
/// <param name="End">End of the bucket (UTC, exclusive).</param>
/// <param name="Runs">Runs started in it.</param>
/// <param name="Failed">Of which neither OK nor WARNING.</param>
/// <param name="P50Ms">Median duration, ms (nearest rank), or null without runs.</param>
/// <param name="P95Ms">95th percentile duration, ms (nearest rank), or null without runs.</param>
/// <param name="MaxMs">Longest duration, ms, or null without runs.</param>
public sealed record DurationBucket(DateTimeOffset Start, DateTimeOffset End, int Runs, int Failed, double? P50Ms, double? P95Ms, double? MaxMs);

/// <summary>Response-time percentiles over time, for the check page's chart.</summary>
public static class ResponseTimes
{
    /// <summary>
    /// Splits [<paramref name="from"/>, <paramref name="to"/>) into <paramref name="buckets"/> equal buckets and gives, for
    /// each, the runs of <paramref name="points"/> started in it with their p50, p95 and longest duration (nearest-rank
    /// percentiles of every run's duration, failed runs included: a timeout is a slow answer). Points outside the range are ignored.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="buckets"/> is not positive or <paramref name="to"/> is not after <paramref name="from"/>.</exception>
    public static IReadOnlyList<DurationBucket> Bucket(IReadOnlyList<DurationPoint> points, DateTimeOffset from, DateTimeOffset to, int buckets)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(buckets);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(to, from);
        long width = Math.Max(1, (to - from).Ticks / buckets);
        var durations = new List<double>[buckets];
        var failed = new int[buckets];
        foreach (var p in points)
        {
            long offset = (p.StartedAt - from).Ticks;
            if (offset < 0 || p.StartedAt >= to)
            {
                continue;
            }

            int i = (int)Math.Min(buckets - 1, offset / width);
            (durations[i] ??= []).Add(p.DurationMs);
            if (p.State is not (CheckState.OK or CheckState.WARNING))
            {
                failed[i]++;
            }
        }

        var answer = new DurationBucket[buckets];
        for (int i = 0; i < buckets; i++)
        {
            var start = from.AddTicks(width * i);
            var end = i == buckets - 1 ? to : from.AddTicks(width * (i + 1));
            var d = durations[i];
            if (d is null)
            {
                answer[i] = new DurationBucket(start, end, 0, 0, null, null, null);
                continue;
            }

            d.Sort();
            answer[i] = new DurationBucket(start, end, d.Count, failed[i], Percentile(d, 0.50), Percentile(d, 0.95), d[^1]);
        }

        return answer;
    }

    /// <summary>The nearest-rank <paramref name="q"/>-quantile (0 &lt; q ≤ 1) of <paramref name="sorted"/> (ascending, not empty).</summary>
    /// <exception cref="ArgumentException">When <paramref name="sorted"/> is empty.</exception>
    public static double Percentile(IReadOnlyList<double> sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
        {
            throw new ArgumentException("no values", nameof(sorted));
        }

        int rank = (int)Math.Ceiling(q * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }
}
