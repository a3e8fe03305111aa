using System.Globalization;
using System.Text.Json.Nodes;
using Tocsin.Configuration;

namespace Tocsin.Checks.Heartbeat;

/// <summary>
/// Decides a heartbeat check's state at a moment from what its job reported (the scheduled run of the check):
/// <list type="number">
/// <item>The last report was a <c>/fail</c> (newer than the last success): CRITICAL until a success comes.</item>
/// <item>A <c>/start</c> is pending (newer than the last success and failure): OK while it is younger than the grace, then
/// CRITICAL <c>started at …, no success within the … grace</c>.</item>
/// <item>Otherwise the deadline: with a <c>period</c>, the last success (or, before the first ping, when the check was first
/// seen) + period; with a <c>schedule</c>, the first cron occurrence after that. CRITICAL once now is past the deadline + grace;
/// OK before (saying when the next ping is expected).</item>
/// </list>
/// </summary>
public static class HeartbeatDeadline
{
    /// <summary>The outcome for <paramref name="record"/> at <paramref name="now"/> (UTC), with details
    /// <c>{"firstSeenAt","lastSuccessAt","lastStartAt","lastFailAt","expectedAt","lateAfter"}</c> (ISO-8601, those known).</summary>
    public static RunOutcome Evaluate(HeartbeatCheckOptions options, HeartbeatRecord record, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(record);
        var details = new JsonObject { ["firstSeenAt"] = Iso(record.FirstSeenAt) };
        AddTime(details, "lastSuccessAt", record.LastSuccessAt);
        AddTime(details, "lastStartAt", record.LastStartAt);
        AddTime(details, "lastFailAt", record.LastFailAt);

        if (record.Failed && record.LastFailAt is { } failedAt)
        {
            string what = record.LastFailMessage is { } m ? $": {m}" : "";
            string again = record.StartPending && record.LastStartAt is { } s ? $"; started again at {When(s, now)}" : "";
            return new RunOutcome(CheckState.CRITICAL, $"job reported failure at {When(failedAt, now)}{what}{again}", null, details);
        }

        if (record.StartPending && record.LastStartAt is { } startedAt)
        {
            var runLimit = startedAt + options.Grace;
            details["lateAfter"] = Iso(runLimit);
            return now > runLimit
                ? new RunOutcome(CheckState.CRITICAL, $"started at {When(startedAt, now)}, no success within the {Span(options.Grace)} grace", null, details)
                : new RunOutcome(CheckState.OK, $"started at {When(startedAt, now)}, running; success expected by {Iso(runLimit)}", null, details);
        }

        var since = record.LastSuccessAt ?? record.FirstSeenAt;
        DateTimeOffset expected;
        if (options.Schedule is { } schedule)
        {
            if (schedule.Next(since) is not { } next)
            {
                return new RunOutcome(CheckState.OK, $"schedule {schedule} never fires again; nothing expected", null, details);
            }

            expected = next;
        }
        else
        {
            expected = since + (options.Period ?? TimeSpan.Zero);
        }

        var lateAfter = expected + options.Grace;
        details["expectedAt"] = Iso(expected);
        details["lateAfter"] = Iso(lateAfter);
        string expectation = options.Schedule is null ? $"expected {options.Expectation}" : $"expected at {Iso(expected)} ({options.Expectation})";
        if (record.LastSuccessAt is not { } lastSuccess)
        {
            return now > lateAfter
                ? new RunOutcome(CheckState.CRITICAL, $"no ping since the check was first seen at {When(record.FirstSeenAt, now)}; {expectation}", null, details)
                : new RunOutcome(CheckState.OK, $"waiting for the first ping (check first seen at {Iso(record.FirstSeenAt)}); expected by {Iso(expected)} + {Span(options.Grace)} grace", null, details);
        }

        if (now > lateAfter)
        {
            return new RunOutcome(CheckState.CRITICAL, $"late: last success at {When(lastSuccess, now)}, {expectation}", null, details);
        }

        return now > expected
            ? new RunOutcome(CheckState.OK, $"last success at {When(lastSuccess, now)}; overdue since {Iso(expected)}, within the grace until {Iso(lateAfter)}", null, details)
            : new RunOutcome(CheckState.OK, $"last success at {When(lastSuccess, now)}, next expected by {Iso(expected)} + {Span(options.Grace)} grace", null, details);
    }

    /// <summary>A UTC time to the second, e.g. <c>2026-01-31T02:00:12Z</c>.</summary>
    internal static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A duration to the second (to the millisecond under one second), e.g. <c>1d2h</c>, <c>45s</c>.</summary>
    internal static string Span(TimeSpan t) =>
        Duration.Format(t < TimeSpan.FromSeconds(1) ? t : TimeSpan.FromSeconds(Math.Round(t.TotalSeconds, MidpointRounding.AwayFromZero)));

    private static string When(DateTimeOffset t, DateTimeOffset now) => $"{Iso(t)} ({Span(now - t)} ago)";

    private static void AddTime(JsonObject details, string name, DateTimeOffset? t)
    {
        if (t is { } v)
        {
            details[name] = Iso(v);
        }
    }
}
