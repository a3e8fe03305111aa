using Microsoft.Extensions.Time.Testing;
using Tocsin.Access;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Sqlite;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>The SQLite ingestion store on a real file in a temp folder.</summary>
public sealed class SqliteIngestionStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly TempFolder _folder = new();
    private readonly FakeTimeProvider _time = new(Now);
    private SqliteIngestionStore _store = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteIngestionStore(_folder.File("sub/ingestion.db"), _time);
        await _store.InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _folder.Dispose();
    }

    private static IngestionRow Row(string sender, int level, double secondsAgo, string message = "m") =>
        new(sender, message, level, Now.AddSeconds(-secondsAgo));

    private static RowQuery Window(string identity, double seconds, string? sender = null, int? level = null, int limit = 1000, RowCursor? before = null) =>
        new(identity, Now.AddSeconds(-seconds), sender, level, limit, before);

    [Fact]
    public async Task Rows_come_back_newest_first_filtered_by_window_sender_and_level_and_scoped_by_identity()
    {
        var ids = await _store.AppendAsync(RowKind.Logs,
        [
            new IngestionBatch("wd-1", [Row("dns", 20, 5, "a"), Row("dns", 40, 1, "b"), Row("dhcp", 10, 3, "c"), Row("dns", 20, 100, "old")]),
            new IngestionBatch("wd-2", [Row("dns", 20, 2, "other")]),
        ], Ct);
        Assert.Equal(4, ids[0].Count);
        Assert.Single(ids[1]);
        Assert.True(ids[0].Zip(ids[0].Skip(1)).All(p => p.First < p.Second));

        var all = await _store.QueryAsync(RowKind.Logs, Window("wd-1", 10), Ct);
        Assert.Equal(["b", "c", "a"], all.Select(r => r.Message));
        Assert.Equal(Now.AddSeconds(-1), all[0].Time);
        Assert.Equal(["a"], (await _store.QueryAsync(RowKind.Logs, Window("wd-1", 10, "dns", 30), Ct)).Select(r => r.Message));
        Assert.Equal(["other"], (await _store.QueryAsync(RowKind.Logs, Window("wd-2", 10), Ct)).Select(r => r.Message));
        Assert.Equal(["b"], (await _store.QueryAsync(RowKind.Logs, Window("wd-1", 10) with { Text = "b" }, Ct)).Select(r => r.Message));
        Assert.Empty(await _store.QueryAsync(RowKind.Notifications, Window("wd-1", 10), Ct));
    }

    [Fact]
    public async Task Pages_follow_a_cursor_without_gaps_or_repeats()
    {
        var rows = Enumerable.Range(0, 25).Select(i => Row("s", 20, i % 5, $"r{i}")).ToArray(); // equal times: ids break ties
        await _store.AppendAsync(RowKind.Notifications, [new IngestionBatch("wd", rows)], Ct);
        var seen = new List<string>();
        RowCursor? before = null;
        while (true)
        {
            var page = await _store.QueryAsync(RowKind.Notifications, Window("wd", 60, limit: 7, before: before), Ct);
            seen.AddRange(page.Select(r => r.Message));
            if (page.Count < 7)
            {
                break;
            }

            before = new RowCursor(page[^1].Time, page[^1].Id);
        }

        Assert.Equal(25, seen.Count);
        Assert.Equal(25, seen.Distinct().Count());
    }

    [Fact]
    public async Task Purge_deletes_only_rows_older_than_the_limit_in_chunks_and_ids_are_never_reused()
    {
        var old = Enumerable.Range(0, SqliteIngestionStore.PurgeChunk + 10).Select(i => Row("s", 20, 3600 + i)).ToArray();
        await _store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", old), new IngestionBatch("wd", [Row("s", 20, 10, "recent")])], Ct);
        long deleted = await _store.PurgeAsync(RowKind.Logs, Now.AddMinutes(-30), Ct);
        Assert.Equal(old.Length, deleted);
        var left = await _store.QueryAsync(RowKind.Logs, Window("wd", 86400), Ct);
        Assert.Equal(["recent"], left.Select(r => r.Message));

        await _store.PurgeAsync(RowKind.Logs, Now, Ct);
        var next = await _store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [Row("s", 20, 0)])], Ct);
        Assert.True(next[0][0] > left[0].Id);
    }

    [Fact]
    public async Task Rows_are_read_back_by_id_for_fan_out()
    {
        var ids = await _store.AppendAsync(RowKind.Notifications, [new IngestionBatch("a", [Row("s", 50, 1, "x")]), new IngestionBatch("b", [Row("t", 10, 2, "y")])], Ct);
        var rows = await _store.ReadAsync(RowKind.Notifications, [ids[1][0], ids[0][0], 999_999], Ct);
        Assert.Equal([("a", "x"), ("b", "y")], rows.Select(r => (r.Identity, r.Message)));
    }

    [Fact]
    public async Task Configurations_are_stored_per_identity_and_replaced()
    {
        Assert.Null(await _store.GetConfigAsync("wd", Ct));
        await _store.PutConfigAsync("wd", """{"a":1}""", Ct);
        await _store.PutConfigAsync("wd", """{"a":2}""", Ct);
        Assert.Equal("""{"a":2}""", await _store.GetConfigAsync("wd", Ct));
        Assert.Null(await _store.GetConfigAsync("other", Ct));
    }

    [Fact]
    public async Task Tokens_are_found_by_hash_until_revoked()
    {
        string token = AccessTokens.Create();
        var added = await _store.AddTokenAsync("wd-7", IngestionRole.User, AccessTokens.Sha256(token), Ct);
        Assert.Equal(AccessTokens.Sha256Hex(token)[..12], added.Id);
        var found = await _store.FindTokenAsync(AccessTokens.Sha256(token), Ct);
        Assert.Equal(("wd-7", IngestionRole.User), (found!.Identity, found.Role));
        Assert.Null(await _store.FindTokenAsync(AccessTokens.Sha256("not-it"), Ct));

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(await _store.RevokeTokenAsync(added.Id, Ct));
        Assert.False(await _store.RevokeTokenAsync(added.Id, Ct));
        Assert.Null(await _store.FindTokenAsync(AccessTokens.Sha256(token), Ct));
        var listed = Assert.Single(await _store.ListTokensAsync(Ct));
        Assert.Equal(Now.AddMinutes(1), listed.RevokedAt);
        Assert.DoesNotContain(token, File.ReadAllText(_store.Path + "-wal", System.Text.Encoding.Latin1) + File.ReadAllText(_store.Path, System.Text.Encoding.Latin1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_a_clear_error()
    {
        File.WriteAllText(_folder.File("junk.db"), new string('x', 4096));
        await using var junk = new SqliteIngestionStore(_folder.File("junk.db"), _time);
        var ex = await Assert.ThrowsAsync<IngestionStoreException>(() => junk.InitializeAsync(Ct));
        Assert.Contains("junk.db", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_append_stores_nothing_of_its_batches()
    {
        // A trigger makes the database refuse the second row (as a full disk or an I/O error would, mid-transaction).
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_store.Path};Pooling=False"))
        {
            c.Open();
            using var t = c.CreateCommand();
            t.CommandText = "CREATE TRIGGER refuse BEFORE INSERT ON ingest_logs WHEN NEW.message = 'boom' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
            t.ExecuteNonQuery();
        }

        var ex = await Assert.ThrowsAsync<IngestionStoreException>(() => _store.AppendAsync(RowKind.Logs,
            [new IngestionBatch("wd", [Row("s", 20, 1, "first")]), new IngestionBatch("wd", [Row("s", 20, 1, "boom")])], Ct));
        Assert.Contains("refused by the test", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.QueryAsync(RowKind.Logs, Window("wd", 60), Ct));
    }
}
