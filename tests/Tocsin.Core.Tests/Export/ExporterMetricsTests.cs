using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Core.Tests.Storage;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Diagnostics;
using Tocsin.Export;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Export;

/// <summary>The exporter's metrics: exported rows, failures, outbox depth and export lag.</summary>
public sealed class ExporterMetricsTests(PostgresServer server) : IClassFixture<PostgresServer>, IDisposable
{
    private readonly TempFolder _folder = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private static List<CheckResult> Results(int count, TimeSpan age)
    {
        var start = DateTimeOffset.UtcNow - age;
        return Enumerable.Range(0, count).Select(i =>
        {
            var at = start.AddMilliseconds(i);
            return new CheckResult(Guid.CreateVersion7(at), $"check-{i % 7}", "tcp", CheckState.OK, at, at, at.AddMilliseconds(2), 2, null, "ok", null);
        }).ToList();
    }

    [Fact]
    public async Task Metrics_count_exported_rows_and_show_the_backlog_and_its_age_until_it_drains()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        outbox.WriteBatch(Results(3_000, TimeSpan.FromMinutes(10)));
        using var meters = new TestMeterFactory();
        using var metrics = new TocsinMetrics(meters);
        using var exported = new MetricCollector<long>(meters, TocsinMetrics.MeterName, "tocsin.export.rows");
        using var pending = new MetricCollector<long>(meters, TocsinMetrics.MeterName, "tocsin.outbox.pending");
        using var lag = new MetricCollector<double>(meters, TocsinMetrics.MeterName, "tocsin.export.lag");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var exporter = new Exporter(outbox, source, new ExporterOptions(), time, NullLogger<Exporter>.Instance, metrics);

        pending.RecordObservableInstruments();
        lag.RecordObservableInstruments();
        Assert.Equal(3_000, pending.LastMeasurement!.Value);
        Assert.InRange(lag.LastMeasurement!.Value, 590, 700);

        while (await exporter.ExportBatchAsync(Ct) > 0)
        {
        }

        Assert.Equal(3_000, exported.GetMeasurementSnapshot().EvaluateAsCounter());
        pending.RecordObservableInstruments();
        Assert.Equal(3_000, pending.LastMeasurement!.Value); // the gauges share one backlog read per period
        time.Advance(Exporter.BacklogGaugeRefresh);
        pending.RecordObservableInstruments();
        lag.RecordObservableInstruments();
        Assert.Equal(0, pending.LastMeasurement!.Value);
        Assert.Equal(0, lag.LastMeasurement!.Value);
    }

    [Fact]
    public async Task Metrics_count_each_failed_attempt()
    {
        var cs = new NpgsqlConnectionStringBuilder(await server.CreateDatabaseAsync()) { Password = "wrong-password" };
        await using var source = NpgsqlDataSource.Create(cs.ConnectionString);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        outbox.WriteBatch(Results(10, TimeSpan.FromSeconds(5)));
        using var meters = new TestMeterFactory();
        using var metrics = new TocsinMetrics(meters);
        using var failures = new MetricCollector<long>(meters, TocsinMetrics.MeterName, "tocsin.export.failures");
        var options = new ExporterOptions { MinRetryDelay = TimeSpan.FromMilliseconds(20), MaxRetryDelay = TimeSpan.FromMilliseconds(40) };
        using var exporter = new Exporter(outbox, source, options, TimeProvider.System, NullLogger<Exporter>.Instance, metrics);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var run = exporter.RunAsync(cts.Token);
        await failures.WaitForMeasurementsAsync(3, TimeSpan.FromSeconds(20));
        await cts.CancelAsync();
        await run;

        Assert.Equal(exporter.GetStatus().ConsecutiveFailures, failures.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(10, exporter.GetStatus().PendingRows);
    }
}
