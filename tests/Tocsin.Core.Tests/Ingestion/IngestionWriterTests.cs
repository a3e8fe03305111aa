using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Sqlite;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>The batching writer and retention over a real SQLite store.</summary>
public sealed class IngestionWriterTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly TempFolder _folder = new();
    private readonly FakeTimeProvider _time = new(Now);
    private CountingStore _store = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _store = new CountingStore(new SqliteIngestionStore(_folder.File("ingestion.db"), _time));
        await _store.InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _folder.Dispose();
    }

    private static IngestionBatch Batch(string identity, int rows, string message = "m", double secondsAgo = 1) =>
        new(identity, [.. Enumerable.Range(0, rows).Select(i => new IngestionRow("s", message, 20, Now.AddSeconds(-secondsAgo)))]);

    private void RefuseMessage(string message)
    {
        using var c = new SqliteConnection($"Data Source={_folder.File("ingestion.db")};Pooling=False");
        c.Open();
        using var t = c.CreateCommand();
        t.CommandText = $"CREATE TRIGGER refuse BEFORE INSERT ON ingest_logs WHEN NEW.message = '{message}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
        t.ExecuteNonQuery();
    }

    [Fact]
    public async Task Uploads_of_many_connections_are_committed_together_and_each_gets_its_own_ids()
    {
        await using var writer = new IngestionWriter(_store, NullLogger<IngestionWriter>.Instance);
        var uploads = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => writer.SubmitAsync(RowKind.Logs, Batch($"wd-{i % 7}", 25), Ct), Ct)));
        Assert.All(uploads, u => Assert.Equal(25, u.Count));
        Assert.Equal(400 * 25, uploads.SelectMany(u => u).Select(r => r.Id).Distinct().Count());
        Assert.All(uploads, u => Assert.Single(u.Select(r => r.Identity).Distinct()));
        Assert.True(_store.Appends < 400, $"{_store.Appends} transactions for 400 uploads");
        var stored = await _store.QueryAsync(RowKind.Logs, new RowQuery("wd-3", Now.AddMinutes(-1), Limit: 10_000), Ct);
        Assert.Equal(uploads.Where(u => u[0].Identity == "wd-3").Sum(u => u.Count), stored.Count);
    }

    [Fact]
    public async Task A_bad_upload_fails_alone_and_stores_nothing_while_those_beside_it_are_committed()
    {
        RefuseMessage("boom");
        await using var writer = new IngestionWriter(_store, NullLogger<IngestionWriter>.Instance);
        var good = Enumerable.Range(0, 50).Select(_ => writer.SubmitAsync(RowKind.Logs, Batch("wd", 3), Ct)).ToList();
        var bad = writer.SubmitAsync(RowKind.Logs, new IngestionBatch("wd", [new("s", "fine", 20, Now), new("s", "boom", 20, Now)]), Ct);
        good.AddRange(Enumerable.Range(0, 50).Select(_ => writer.SubmitAsync(RowKind.Logs, Batch("wd", 3), Ct)));

        var ex = await Assert.ThrowsAsync<IngestionStoreException>(() => bad);
        Assert.Contains("refused by the test", ex.Message, StringComparison.Ordinal);
        await Task.WhenAll(good);
        var stored = await _store.QueryAsync(RowKind.Logs, new RowQuery("wd", Now.AddMinutes(-1), Limit: 10_000), Ct);
        Assert.Equal(300, stored.Count);
        Assert.DoesNotContain(stored, r => r.Message == "fine");
    }

    [Fact]
    public async Task Stopping_commits_what_was_queued_and_refuses_what_comes_after()
    {
        var writer = new IngestionWriter(_store, NullLogger<IngestionWriter>.Instance);
        var queued = Enumerable.Range(0, 100).Select(_ => writer.SubmitAsync(RowKind.Notifications, Batch("wd", 2), Ct)).ToList();
        await writer.DisposeAsync();
        await Task.WhenAll(queued);
        var late = await Assert.ThrowsAsync<IngestionStoreException>(() => writer.SubmitAsync(RowKind.Notifications, Batch("wd", 1), Ct));
        Assert.Contains("stopping", late.Message, StringComparison.Ordinal);
        Assert.Equal(200, (await _store.QueryAsync(RowKind.Notifications, new RowQuery("wd", Now.AddMinutes(-1), Limit: 10_000), Ct)).Count);
    }

    [Fact]
    public async Task Retention_purges_each_kind_by_its_own_age_every_cleanup_interval()
    {
        var options = new IngestionOptions { LogRetention = TimeSpan.FromMinutes(1), NotificationRetention = TimeSpan.FromHours(1), CleanupInterval = TimeSpan.FromSeconds(5) };
        await _store.AppendAsync(RowKind.Logs, [Batch("wd", 3, "young", 10), Batch("wd", 2, "old", 120)], Ct);
        await _store.AppendAsync(RowKind.Notifications, [Batch("wd", 1, "young", 120), Batch("wd", 1, "old", 7200)], Ct);
        using var retention = new IngestionRetention(_store, options, _time, NullLogger<IngestionRetention>.Instance);
        await retention.StartAsync(Ct);

        async Task<string[]> Messages(RowKind kind) =>
            [.. (await _store.QueryAsync(kind, new RowQuery("wd", Now.AddDays(-1), Limit: 100), Ct)).Select(r => r.Message).Distinct()];

        // The first purge runs at start (logs, then notifications).
        await Poll.UntilAsync(() => Messages(RowKind.Logs), m => m.SequenceEqual(["young"]), TimeSpan.FromSeconds(10), "old logs purged at start");
        await Poll.UntilAsync(() => Messages(RowKind.Notifications), m => m.SequenceEqual(["young"]), TimeSpan.FromSeconds(10), "old notifications purged at start");

        // 60 s later the young logs are past their minute; the next tick (every 5 s) purges them, not the notifications.
        _time.Advance(TimeSpan.FromSeconds(55));
        await Poll.UntilAsync(() => Messages(RowKind.Logs), m => m.Length == 0, TimeSpan.FromSeconds(10), "the next purge");
        Assert.Equal(["young"], await Messages(RowKind.Notifications));
        await retention.StopAsync(Ct);
    }

    /// <summary>The real store, counting its transactions.</summary>
    private sealed class CountingStore(SqliteIngestionStore inner) : IIngestionStore
    {
        private int _appends;

        public int Appends => Volatile.Read(ref _appends);

        public string Description => inner.Description;

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<IReadOnlyList<IReadOnlyList<long>>> AppendAsync(RowKind kind, IReadOnlyList<IngestionBatch> batches, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _appends);
            return inner.AppendAsync(kind, batches, cancellationToken);
        }

        public Task<IReadOnlyList<StoredRow>> QueryAsync(RowKind kind, RowQuery query, CancellationToken cancellationToken) => inner.QueryAsync(kind, query, cancellationToken);

        public Task<IReadOnlyList<StoredRow>> ReadAsync(RowKind kind, IReadOnlyList<long> ids, CancellationToken cancellationToken) => inner.ReadAsync(kind, ids, cancellationToken);

        public Task<long> PurgeAsync(RowKind kind, DateTimeOffset olderThan, CancellationToken cancellationToken) => inner.PurgeAsync(kind, olderThan, cancellationToken);

        public Task<string?> GetConfigAsync(string identity, CancellationToken cancellationToken) => inner.GetConfigAsync(identity, cancellationToken);

        public Task PutConfigAsync(string identity, string json, CancellationToken cancellationToken) => inner.PutConfigAsync(identity, json, cancellationToken);

        public Task<IngestionToken> AddTokenAsync(string identity, IngestionRole role, byte[] sha256, CancellationToken cancellationToken) => inner.AddTokenAsync(identity, role, sha256, cancellationToken);

        public Task<IngestionToken?> FindTokenAsync(byte[] sha256, CancellationToken cancellationToken) => inner.FindTokenAsync(sha256, cancellationToken);

        public Task<IReadOnlyList<IngestionToken>> ListTokensAsync(CancellationToken cancellationToken) => inner.ListTokensAsync(cancellationToken);

        public Task<bool> RevokeTokenAsync(string id, CancellationToken cancellationToken) => inner.RevokeTokenAsync(id, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
