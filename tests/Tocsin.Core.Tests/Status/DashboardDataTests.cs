using System.Text.RegularExpressions;
using Tocsin.Checks;
using Tocsin.Checks.Http;
using Tocsin.Checks.Tcp;
using Tocsin.Status;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Status;

/// <summary>What the dashboard reads and computes: response-time buckets, the outbox's history reads, the redacted definition.</summary>
public sealed class DashboardDataTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static CheckResult Result(string check, CheckState state, DateTimeOffset started, double durationMs) =>
        new(Guid.CreateVersion7(started), check, "tcp", state, started, started, started.AddMilliseconds(durationMs), durationMs, null, state.ToString(), null);

    private static DurationPoint P(double minute, double ms, CheckState state = CheckState.OK) => new(T0.AddMinutes(minute), ms, state);

    [Fact]
    public void Buckets_give_nearest_rank_p50_p95_max_and_failures_per_equal_slice()
    {
        // 20 runs in the first 10-minute bucket: 1..20 ms; one failed. None in the second; one in the third.
        var points = Enumerable.Range(1, 20).Select(i => P(i * 0.4, i, i == 20 ? CheckState.CRITICAL : CheckState.OK)).Append(P(25, 7)).ToList();

        var buckets = ResponseTimes.Bucket(points, T0, T0.AddMinutes(30), 3);

        Assert.Equal(3, buckets.Count);
        Assert.Equal((20, 1, 10.0, 19.0, 20.0), (buckets[0].Runs, buckets[0].Failed, buckets[0].P50Ms!.Value, buckets[0].P95Ms!.Value, buckets[0].MaxMs!.Value));
        Assert.Equal((0, (double?)null), (buckets[1].Runs, buckets[1].P50Ms));
        Assert.Equal((1, 7.0, 7.0), (buckets[2].Runs, buckets[2].P50Ms!.Value, buckets[2].P95Ms!.Value));
        Assert.Equal((T0.AddMinutes(10), T0.AddMinutes(20)), (buckets[1].Start, buckets[1].End));
        Assert.Equal(T0.AddMinutes(30), buckets[2].End);
    }

    [Fact]
    public void Buckets_ignore_points_outside_the_range_and_warnings_are_not_failures()
    {
        var points = new[] { P(-1, 500), P(5, 3, CheckState.WARNING), P(10, 900) };

        var b = Assert.Single(ResponseTimes.Bucket(points, T0, T0.AddMinutes(10), 1));

        Assert.Equal((1, 0, 3.0), (b.Runs, b.Failed, b.MaxMs!.Value));
        Assert.Throws<ArgumentOutOfRangeException>(() => ResponseTimes.Bucket(points, T0, T0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ResponseTimes.Bucket(points, T0, T0.AddMinutes(1), 0));
    }

    [Theory]
    [InlineData(new[] { 5.0 }, 0.5, 5.0)]
    [InlineData(new[] { 1.0, 2.0 }, 0.5, 1.0)]
    [InlineData(new[] { 1.0, 2.0, 3.0, 4.0 }, 0.95, 4.0)]
    [InlineData(new[] { 1.0, 2.0, 3.0, 4.0 }, 0.25, 1.0)]
    public void Percentile_is_nearest_rank(double[] sorted, double q, double expected) =>
        Assert.Equal(expected, ResponseTimes.Percentile(sorted, q));

    [Fact]
    public void Outbox_reads_durations_in_a_range_recent_runs_per_check_and_daily_aggregates()
    {
        using var outbox = new SqliteOutbox(_folder.File("history.db"));
        var results = new List<CheckResult>();
        for (int i = 0; i < 50; i++)
        {
            results.Add(Result("a", i % 10 == 9 ? CheckState.CRITICAL : CheckState.OK, T0.AddHours(-30).AddMinutes(i * 60), i + 1));
        }

        results.Add(Result("b", CheckState.OK, T0, 42));
        outbox.WriteBatch(results);

        var range = outbox.ReadDurations("a", T0.AddHours(-10), T0);
        Assert.Equal(Enumerable.Range(21, 10).Select(i => (double)i), range.Select(p => p.DurationMs)); // oldest first
        Assert.All(range, p => Assert.InRange(p.StartedAt, T0.AddHours(-10), T0.AddTicks(-1)));

        var recent = outbox.ReadRecentDurations(["a", "b", "never ran"], 5);
        Assert.Equal([46.0, 47, 48, 49, 50], recent["a"].Select(p => p.DurationMs));
        Assert.Equal(CheckState.CRITICAL, recent["a"][^1].State);
        Assert.Equal([42.0], recent["b"].Select(p => p.DurationMs));
        Assert.False(recent.ContainsKey("never ran"));

        var days = outbox.ReadDays("a", T0.AddDays(-3));
        Assert.Equal(50, days.Sum(d => d.Runs));
        Assert.All(days, d => Assert.Equal(TimeSpan.Zero, d.Start.TimeOfDay));
        Assert.Equal(45, days.Sum(d => d.OkRuns));
        Assert.Equal(days.Sum(d => d.DurationSumMs), Enumerable.Range(1, 50).Sum());
        var hours = outbox.ReadHours("a", T0.AddHours(-2));
        Assert.Equal(22, hours.Count); // one run an hour from T0 - 30 h to T0 + 19 h: the hours from T0 - 2 h on
        Assert.Equal(100.0, hours[0].UpPercent);
    }

    [Fact]
    public void Definition_lines_name_the_common_fields_and_options_and_hide_secrets()
    {
        var http = new HttpCheckOptions
        {
            Url = new Uri("https://monitor:hunter2@example.org/health?x=1"),
            Headers = new Dictionary<string, string> { ["Authorization"] = "Bearer abc", ["X-Api-Key"] = "k", ["Accept"] = "text/plain" },
            BodyRegex = new Regex("ok|fine"),
            Body = new string('x', 400),
            ExpectStatus = [200, 204],
        };
        var check = new CheckDefinition("api", "http", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(1500), http) { Tags = ["web", "prod"], Public = true };

        var lines = DefinitionView.Lines(check).ToDictionary(l => l.Key, l => l.Value);

        Assert.Equal(("http", "30s", "1500ms", "web, prod", "true"), (lines["kind"], lines["interval"], lines["timeout"], lines["tags"], lines["public"]));
        Assert.Equal("https://monitor:***@example.org/health?x=1", lines["url"]);
        Assert.Equal("***", lines["headers.Authorization"]);
        Assert.Equal("***", lines["headers.X-Api-Key"]);
        Assert.Equal("text/plain", lines["headers.Accept"]);
        Assert.Equal("ok|fine", lines["bodyRegex"]);
        Assert.Equal("200, 204", lines["expectStatus"]);
        Assert.Equal(DefinitionView.MaxValueLength + 1, lines["body"].Length);
        Assert.DoesNotContain(lines.Values, v => v.Contains("hunter2", StringComparison.Ordinal) || v.Contains("abc", StringComparison.Ordinal));

        var tcp = DefinitionView.Lines(new CheckDefinition("port", "tcp", TimeSpan.FromMinutes(90), TimeSpan.FromSeconds(10), new TcpCheckOptions("db", 5432)))
            .ToDictionary(l => l.Key, l => l.Value);
        Assert.Equal(("90m", "db", "5432"), (tcp["interval"], tcp["host"], tcp["port"]));
        Assert.False(tcp.ContainsKey("tags"));
    }

    [Theory]
    [InlineData(500, "500ms")]
    [InlineData(1000, "1s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3_600_000, "1h")]
    [InlineData(86_400_000, "1d")]
    [InlineData(1500, "1500ms")]
    public void Durations_are_written_the_way_the_config_writes_them(double ms, string expected) =>
        Assert.Equal(expected, DefinitionView.Format(TimeSpan.FromMilliseconds(ms)));
}
