namespace Tocsin.Bench;

/// <summary>
/// A fixed-size, lock-free histogram of millisecond values, so recording costs no allocation and the
/// benchmark's own memory stays flat whatever the run count. Buckets: 10 µs wide below 10 ms, 100 µs
/// below 1 s, 10 ms below 60 s, then one overflow bucket. A percentile is reported as the upper edge
/// of its bucket (never under-reports).
/// </summary>
internal sealed class LatencyHistogram
{
    private const int FineBuckets = 1_000;            // [0, 10 ms) by 10 µs
    private const int MidBuckets = 9_900;             // [10 ms, 1 s) by 100 µs
    private const int CoarseBuckets = 5_900;          // [1 s, 60 s) by 10 ms
    private const int Overflow = FineBuckets + MidBuckets + CoarseBuckets;

    private readonly long[] _counts = new long[Overflow + 1];
    private long _count;
    private long _maxMicros;
    private long _windowMaxMicros;

    public long Count => Interlocked.Read(ref _count);

    public double MaxMs => Interlocked.Read(ref _maxMicros) / 1000.0;

    public void Record(double ms)
    {
        long us = ms <= 0 ? 0 : (long)(ms * 1000);
        int i = us switch
        {
            < 10_000 => (int)(us / 10),
            < 1_000_000 => FineBuckets + (int)((us - 10_000) / 100),
            < 60_000_000 => FineBuckets + MidBuckets + (int)((us - 1_000_000) / 10_000),
            _ => Overflow,
        };
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Increment(ref _count);
        RaiseTo(ref _maxMicros, us);
        RaiseTo(ref _windowMaxMicros, us);
    }

    /// <summary>The largest value since the previous call, in ms (0 when nothing was recorded).</summary>
    public double TakeWindowMaxMs() => Interlocked.Exchange(ref _windowMaxMicros, 0) / 1000.0;

    /// <summary>The value below which <paramref name="p"/> (0–1) of the samples fall, in ms; NaN when empty.</summary>
    public double Percentile(double p)
    {
        long total = Count;
        if (total == 0)
        {
            return double.NaN;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(p * total));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= rank)
            {
                return Math.Min(UpperEdgeMs(i), MaxMs);
            }
        }

        return MaxMs;
    }

    private double UpperEdgeMs(int i) => i switch
    {
        < FineBuckets => (i + 1) * 0.01,
        < FineBuckets + MidBuckets => 10 + ((i - FineBuckets + 1) * 0.1),
        < Overflow => 1_000 + ((i - FineBuckets - MidBuckets + 1) * 10.0),
        _ => MaxMs,
    };

    private static void RaiseTo(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value > seen)
        {
            long was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }
}
