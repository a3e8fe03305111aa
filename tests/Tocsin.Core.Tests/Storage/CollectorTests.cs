using Microsoft.Extensions.Logging.Abstractions;
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

        long deleted = collector.CollectOnce();

        // Days 10, 9, 8 and 7 (each 300 results, all started more than 7 days ago) go; the "only-old" row too.
        Assert.Equal(4 * 300 + 1, deleted);
        Assert.Equal(7 * 300, outbox.CountResults());
        Assert.All(outbox.ReadResults("old-and-new", 1000), r => Assert.True(r.StartedAt >= Now - TimeSpan.FromDays(7)));
        var states = outbox.ReadStates();
        Assert.Equal(CheckState.CRITICAL, states["only-old"].State);
        Assert.Equal(0, collector.CollectOnce());
    }

    [Fact]
    public void Collector_keeps_unexported_rows_when_export_is_configured()
    {
        using var outbox = new SqliteOutbox(Path.Combine(_dir, "local.db"));
        outbox.WriteBatch([ResultAt("c", Now - TimeSpan.FromDays(30))]);
        var collector = new Collector(outbox, new CollectorOptions { ExportedOnly = true }, new FakeTimeProvider(Now), NullLogger<Collector>.Instance);
        Assert.Equal(0, collector.CollectOnce());
        Assert.Equal(1, outbox.CountResults());
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
