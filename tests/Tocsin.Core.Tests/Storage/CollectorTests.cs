using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Tocsin.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Storage;

public sealed class CollectorTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("tocsin-collector-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CheckResult ResultAt(string check, DateTimeOffset startedAt, CheckState state = CheckState.OK) =>
        new(Guid.CreateVersion7(startedAt), check, "http", state, startedAt, startedAt, startedAt.AddMilliseconds(5), 5, 200, "ok", null);

    [Fact]
    public void Collector_deletes_results_past_local_retention_and_keeps_the_rest_and_the_latest_state()
    {
        using var outbox = new SqliteOutbox(Path.Combine(_dir, "local.db"));
        var batch = new List<CheckResult>();
        for (int day = 10; day >= 0; day--)
        {
            for (int i = 0; i < 300; i++)
            {
                batch.Add(ResultAt("old-and-new", Now - TimeSpan.FromDays(day) - TimeSpan.FromSeconds(i + 1)));
            }
        }

        batch.Add(ResultAt("only-old", Now - TimeSpan.FromDays(9), CheckState.CRITICAL));
        outbox.WriteBatch(batch);
        var time = new FakeTimeProvider(Now);
        var collector = new Collector(outbox, new CollectorOptions { LocalRetention = TimeSpan.FromDays(7), BatchSize = 100 }, time, NullLogger<Collector>.Instance);

        long deleted = collector.CollectOnce().Expired;

        // Days 10, 9, 8 and 7 (each 300 results, all started more than 7 days ago) go; the "only-old" row too.
        Assert.Equal(4 * 300 + 1, deleted);
        Assert.Equal(7 * 300, outbox.CountResults());
        Assert.All(outbox.ReadResults("old-and-new", 1000), r => Assert.True(r.StartedAt >= Now - TimeSpan.FromDays(7)));
        var states = outbox.ReadStates();
        Assert.Equal(CheckState.CRITICAL, states["only-old"].State);
        Assert.Equal(new CollectionReport(0, 0, 0, outbox.ReadSize().UsedBytes), collector.CollectOnce());
    }

    [Fact]
    public void Collector_keeps_unexported_rows_when_export_is_configured()
    {
        using var outbox = new SqliteOutbox(Path.Combine(_dir, "local.db"));
        outbox.WriteBatch([ResultAt("c", Now - TimeSpan.FromDays(30))]);
        var collector = new Collector(outbox, new CollectorOptions { ExportedOnly = true }, new FakeTimeProvider(Now), NullLogger<Collector>.Instance);
        Assert.Equal(0, collector.CollectOnce().Expired);
        Assert.Equal(1, outbox.CountResults());
    }

    /// <summary>Writes <paramref name="count"/> results one second apart, ending a minute before now, with a few hundred bytes each.</summary>
    private static List<CheckResult> Fill(SqliteOutbox outbox, int count)
    {
        var rows = new List<CheckResult>(count);
        string message = new('x', 300);
        for (int i = 0; i < count; i++)
        {
            var at = Now - TimeSpan.FromMinutes(1) - TimeSpan.FromSeconds(count - i);
            rows.Add(new CheckResult(Guid.CreateVersion7(at), $"check {i % 50}", "http", CheckState.OK, at, at, at.AddMilliseconds(5), 5, 200, message, null));
        }

        foreach (var chunk in rows.Chunk(2_000))
        {
            outbox.WriteBatch(chunk);
        }

        return rows;
    }

    [Fact]
    public void Over_max_outbox_size_exported_rows_go_first_then_the_oldest_unexported_are_dropped_counted_logged_and_shown()
    {
        using var outbox = new SqliteOutbox(Path.Combine(_dir, "local.db"));
        var rows = Fill(outbox, 20_000);
        outbox.MarkExported(rows.Take(10_000).Select(r => r.Id).ToList());
        Assert.True(outbox.ReadSize().UsedBytes > 4 << 20, "the fill should be several MiB");
        var logger = new FakeLogger<Collector>();
        using var meterFactory = new TestMeterFactory();
        using var metrics = new TocsinMetrics(meterFactory);
        using var droppedMetric = new MetricCollector<long>(meterFactory, TocsinMetrics.MeterName, "tocsin.outbox.dropped");
        var options = new CollectorOptions { ExportedOnly = true, MaxOutboxSize = 1 << 20, BatchSize = 1_000 };
        var collector = new Collector(outbox, options, new FakeTimeProvider(Now), logger, metrics);

        var report = collector.CollectOnce();

        Assert.Equal(0, report.Expired);
        Assert.Equal(10_000, report.Trimmed);
        Assert.True(report.Dropped > 0);
        Assert.True(report.UsedBytes <= options.MaxOutboxSize, $"{report.UsedBytes} bytes left");
        Assert.Equal(outbox.ReadSize().UsedBytes, report.UsedBytes);

        // What is left is the newest unexported rows, none of them missing: only the oldest were dropped.
        long left = outbox.CountResults();
        Assert.Equal(20_000 - 10_000 - report.Dropped, left);
        Assert.Equal(left, outbox.ReadExportBacklog().Pending);
        Assert.Equal(rows[(int)(10_000 + report.Dropped)].StartedAt, outbox.ReadExportBacklog().OldestStartedAt);
        Assert.Equal(50, outbox.ReadStates().Count);

        // The loss is logged at error level, counted in the metric, and kept in the outbox for `tocsin export status`.
        var error = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Error);
        Assert.Contains("RESULTS LOST", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{report.Dropped} oldest unexported", error.Message, StringComparison.Ordinal);
        Assert.Contains("1MiB", error.Message, StringComparison.Ordinal);
        Assert.Equal(report.Dropped, droppedMetric.GetMeasurementSnapshot().EvaluateAsCounter());
        var status = Tocsin.Export.Exporter.ReadStatus(outbox, Now);
        Assert.Equal(report.Dropped, status.DroppedRows);
        Assert.Equal(Now, status.LastDropAt);

        // Under the limit again: the next pass deletes nothing, and the total adds up over passes.
        Assert.Equal(new CollectionReport(0, 0, 0, report.UsedBytes), collector.CollectOnce());
        Fill(outbox, 20_000);
        long second = collector.CollectOnce().Dropped;
        Assert.True(second > 0);
        Assert.Equal(report.Dropped + second, Tocsin.Export.Exporter.ReadStatus(outbox, Now).DroppedRows);
    }

    [Fact]
    public void Without_export_the_size_limit_trims_the_oldest_rows_and_reports_no_loss()
    {
        using var outbox = new SqliteOutbox(Path.Combine(_dir, "local.db"));
        var rows = Fill(outbox, 10_000);
        var logger = new FakeLogger<Collector>();
        var collector = new Collector(outbox, new CollectorOptions { MaxOutboxSize = 1 << 20 }, new FakeTimeProvider(Now), logger);

        var report = collector.CollectOnce();

        Assert.True(report.Trimmed > 0);
        Assert.Equal(0, report.Dropped);
        Assert.True(report.UsedBytes <= 1 << 20);
        Assert.Equal(10_000 - report.Trimmed, outbox.CountResults());
        Assert.Equal(rows[^1].Id, outbox.ReadResults(rows[^1].CheckName, 1)[0].Id);
        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(0, Tocsin.Export.Exporter.ReadStatus(outbox, Now).DroppedRows);
    }

    [Fact]
    public void Id_lower_bound_orders_version_7_ids_by_time()
    {
        var t = new DateTimeOffset(2026, 3, 4, 5, 6, 7, 890, TimeSpan.Zero);
        string bound = SqliteOutbox.IdLowerBound(t);
        Assert.True(string.CompareOrdinal(Guid.CreateVersion7(t.AddMilliseconds(-1)).ToString("D"), bound) < 0);
        Assert.True(string.CompareOrdinal(Guid.CreateVersion7(t).ToString("D"), bound) >= 0);
    }
}
