using System.Security.Cryptography;

namespace Tocsin;

/// <summary>Waits between attempts at something that failed (export, reconnecting a listener).</summary>
internal static class Backoff
{
    /// <summary>
    /// The wait after <paramref name="failures"/> (≥ 1) failures in a row: <paramref name="min"/> doubling per failure, capped
    /// at <paramref name="max"/>, with jitter (75–100 %, never under <paramref name="min"/>) so that many processes failing
    /// together do not retry in step.
    /// </summary>
    public static TimeSpan Jittered(TimeSpan min, TimeSpan max, int failures)
    {
        double baseTicks = Math.Min(min.Ticks * Math.Pow(2, Math.Clamp(failures - 1, 0, 30)), max.Ticks);
        double jitter = 0.75 + (0.25 * RandomNumberGenerator.GetInt32(1_000_001) / 1_000_000.0);
        return TimeSpan.FromTicks(Math.Max(min.Ticks, (long)(baseTicks * jitter)));
    }
}
