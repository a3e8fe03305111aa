using Microsoft.Data.Sqlite;
using Tocsin.Checks;

namespace Tocsin.Storage.Sqlite;

/// <summary>One run's start, duration and state: a point of a response-time chart.</summary>
/// <param name="StartedAt">Start of the run (UTC).</param>
/// <param name="DurationMs">Its duration, ms.</param>
/// <param name="State">Its state.</param>
public readonly record struct DurationPoint(DateTimeOffset StartedAt, double DurationMs, CheckState State);

public sealed partial class SqliteOutbox
{
    /// <summary>Most points <see cref="ReadDurations"/> returns, so a chart of a long range stays cheap.</summary>
    public const int MaxDurationPoints = 200_000;

    /// <summary>
    /// One check's hourly aggregates from <paramref name="from"/> (UTC, rounded down to the hour), oldest first: for
    /// charts of runs, uptime and response time. Kept 8 days.
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<AggregateBucket> ReadHours(string checkName, DateTimeOffset from) =>
        ReadBuckets(SqliteSchema.SelectHours, checkName, from, HourMs);

    /// <summary>
    /// One check's daily aggregates (UTC days) from <paramref name="from"/> (rounded down to the day), oldest first: for
    /// uptime bars. Kept 35 days.
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<AggregateBucket> ReadDays(string checkName, DateTimeOffset from) =>
        ReadBuckets(SqliteSchema.SelectDays, checkName, from, DayMs);

    private List<AggregateBucket> ReadBuckets(string sql, string checkName, DateTimeOffset from, long width)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        long ms = from.ToUnixTimeMilliseconds();
        cmd.Parameters.AddWithValue("$check", checkName);
        cmd.Parameters.AddWithValue("$from", ms - (((ms % width) + width) % width));
        using var r = cmd.ExecuteReader();
        var list = new List<AggregateBucket>();
        while (r.Read())
        {
            list.Add(new AggregateBucket(Ms(r.GetInt64(0)), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetDouble(4), r.GetDouble(5)));
        }

        return list;
    }

    /// <summary>
    /// Start, duration and state of one check's runs started in [<paramref name="from"/>, <paramref name="to"/>), oldest
    /// first, at most <see cref="MaxDurationPoints"/> (the newest ones when there are more): the raw points of a response-time
    /// chart (percentiles per bucket need them; the aggregates keep sums only). Only the results the outbox still holds
    /// (see <c>localRetention</c>).
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<DurationPoint> ReadDurations(string checkName, DateTimeOffset from, DateTimeOffset to)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectDurations;
        cmd.Parameters.AddWithValue("$check", checkName);
        cmd.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$limit", MaxDurationPoints);
        var list = new List<DurationPoint>();
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                list.Add(new DurationPoint(Ms(r.GetInt64(0)), r.GetDouble(1), (CheckState)r.GetInt32(2)));
            }
        }

        list.Reverse();
        return list;
    }

    /// <summary>
    /// The newest <paramref name="perCheck"/> runs of each of <paramref name="checkNames"/> (start, duration, state), oldest
    /// first per check: the points of the overview's sparklines. Checks without results are absent from the answer.
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyDictionary<string, IReadOnlyList<DurationPoint>> ReadRecentDurations(IEnumerable<string> checkNames, int perCheck)
    {
        ArgumentNullException.ThrowIfNull(checkNames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perCheck);
        var answer = new Dictionary<string, IReadOnlyList<DurationPoint>>(StringComparer.Ordinal);
        using var c = OpenRead();
        using var tx = c.BeginTransaction(deferred: true);
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = SqliteSchema.SelectRecentDurations;
        var name = cmd.Parameters.Add("$check", SqliteType.Text);
        cmd.Parameters.AddWithValue("$limit", perCheck);
        cmd.Prepare();
        foreach (string check in checkNames)
        {
            name.Value = check;
            var points = new List<DurationPoint>(perCheck);
            using (var r = cmd.ExecuteReader())
            {
                while (r.Read())
                {
                    points.Add(new DurationPoint(Ms(r.GetInt64(0)), r.GetDouble(1), (CheckState)r.GetInt32(2)));
                }
            }

            if (points.Count > 0)
            {
                points.Reverse();
                answer[check] = points;
            }
        }

        return answer;
    }
}
