using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tocsin.Access;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Postgres;

namespace Tocsin.Core.Tests.Ingestion.Postgres;

/// <summary>The PostgreSQL ingestion store on a real server (a database per test).</summary>
public sealed class PostgresIngestionStoreTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IngestionRow Row(string sender, int level, double secondsAgo, string message = "m") =>
        new(sender, message, level, Now.AddSeconds(-secondsAgo));

    private static RowQuery Window(string identity, double seconds, string? sender = null, int? level = null, int limit = 1000, RowCursor? before = null) =>
        new(identity, Now.AddSeconds(-seconds), sender, level, limit, before);

    private async Task<(NpgsqlDataSource Source, PostgresIngestionStore Store, string Cs)> NewStoreAsync()
    {
        string cs = await server.CreateDatabaseAsync();
        var source = NpgsqlDataSource.Create(cs);
        var store = new PostgresIngestionStore(source, _time);
        await store.InitializeAsync(Ct);
        return (source, store, cs);
    }

    [Fact]
    public async Task Rows_round_trip_newest_first_with_ids_in_order_per_batch_and_microsecond_times()
    {
        var (source, store, _) = await NewStoreAsync();
        await using var _s = source;
        var odd = Now.AddTicks(-1234567); // 123.4567 ms before: microseconds kept, the last tick truncated (as Npgsql does)
        var ids = await store.AppendAsync(RowKind.Logs,
        [
            new IngestionBatch("wd-1", [Row("dns", 20, 5, "a"), Row("dns", 40, 1, "b"), Row("dhcp", 10, 3, "c"), Row("dns", 20, 100, "old")]),
            new IngestionBatch("wd-2", [Row("dns", 20, 2, "other"), new IngestionRow("ünï", "multi\nline ✓", 0, odd)]),
        ], Ct);
        Assert.Equal([4, 2], ids.Select(b => b.Count));
        var flat = ids.SelectMany(b => b).ToList();
        Assert.True(flat.Zip(flat.Skip(1)).All(p => p.First < p.Second), "ids increase in row order");

        var all = await store.QueryAsync(RowKind.Logs, Window("wd-1", 10), Ct);
        Assert.Equal(["b", "c", "a"], all.Select(r => r.Message));
        Assert.Equal(new StoredRow(ids[0][1], "wd-1", "dns", "b", 40, Now.AddSeconds(-1)), all[0]);
        var other = await store.QueryAsync(RowKind.Logs, Window("wd-2", 10), Ct);
        Assert.Equal(new StoredRow(ids[1][1], "wd-2", "ünï", "multi\nline ✓", 0, Now.AddTicks(-1234570)), other[0]);
        Assert.Equal(TimeSpan.Zero, other[0].Time.Offset);
        Assert.Empty(await store.QueryAsync(RowKind.Notifications, Window("wd-1", 10), Ct));

        // Notifications have their own ids and table; ReadAsync skips missing ids and answers in id order.
        var n = await store.AppendAsync(RowKind.Notifications, [new IngestionBatch("wd-1", [Row("ups", 50, 2, "on battery"), Row("ups", 30, 1, "low")])], Ct);
        var read = await store.ReadAsync(RowKind.Notifications, [n[0][1], 999_999, n[0][0]], Ct);
        Assert.Equal([n[0][0], n[0][1]], read.Select(r => r.Id));
        Assert.Equal(["on battery", "low"], read.Select(r => r.Message));
        Assert.Empty(await store.ReadAsync(RowKind.Notifications, [], Ct));
        Assert.Empty(await store.AppendAsync(RowKind.Logs, [], Ct));
    }

    [Fact]
    public async Task Identities_cannot_read_each_others_rows()
    {
        var (source, store, _) = await NewStoreAsync();
        await using var _s = source;
        await store.AppendAsync(RowKind.Notifications,
            [new IngestionBatch("wd-a", [Row("s", 20, 1, "a's")]), new IngestionBatch("wd-b", [Row("s", 20, 1, "b's")])], Ct);

        Assert.Equal(["a's"], (await store.QueryAsync(RowKind.Notifications, Window("wd-a", 60), Ct)).Select(r => r.Message));
        Assert.Equal(["b's"], (await store.QueryAsync(RowKind.Notifications, Window("wd-b", 60), Ct)).Select(r => r.Message));
        Assert.Empty(await store.QueryAsync(RowKind.Notifications, Window("wd-", 60), Ct));
        Assert.Empty(await store.QueryAsync(RowKind.Notifications, Window("WD-A", 60), Ct));
    }

    [Fact]
    public async Task Filters_select_by_window_sender_and_level_and_pages_follow_a_cursor_without_gaps_or_repeats()
    {
        var (source, store, _) = await NewStoreAsync();
        await using var _s = source;
        await store.AppendAsync(RowKind.Logs,
            [new IngestionBatch("wd", [Row("dns", 20, 5, "a"), Row("dns", 40, 1, "b"), Row("dhcp", 10, 3, "c"), Row("dns", 20, 100, "old")])], Ct);
        Assert.Equal(["a"], (await store.QueryAsync(RowKind.Logs, Window("wd", 10, "dns", 30), Ct)).Select(r => r.Message));
        Assert.Equal(["b", "a"], (await store.QueryAsync(RowKind.Logs, Window("wd", 10, "dns"), Ct)).Select(r => r.Message));
        Assert.Equal(["c", "a"], (await store.QueryAsync(RowKind.Logs, Window("wd", 10, level: 20), Ct)).Select(r => r.Message));
        Assert.Equal(["b", "c", "a", "old"], (await store.QueryAsync(RowKind.Logs, Window("wd", 100), Ct)).Select(r => r.Message));
        Assert.Equal(["b", "c"], (await store.QueryAsync(RowKind.Logs, Window("wd", 100, limit: 2), Ct)).Select(r => r.Message));
        await store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [Row("dns", 20, 2, "50% of 100_a done"), Row("dns", 20, 2, "50 of 100xa")])], Ct);
        Assert.Equal(["50% of 100_a done"], (await store.QueryAsync(RowKind.Logs, new RowQuery("wd", Now.AddSeconds(-10), Text: "% of 100_a"), Ct)).Select(r => r.Message));
        Assert.Empty(await store.QueryAsync(RowKind.Logs, new RowQuery("wd", Now.AddSeconds(-10), Text: "Of"), Ct));
        Assert.Equal(5, (await store.QueryAsync(RowKind.Logs, new RowQuery("wd", Now.AddSeconds(-10), Text: ""), Ct)).Count); // empty: no filter

        // Equal times: ids break the ties, across a midnight (two partitions).
        var rows = Enumerable.Range(0, 25).Select(i => new IngestionRow("s", $"r{i}", 20, new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero).AddSeconds((i % 5) - 2))).ToArray();
        await store.AppendAsync(RowKind.Notifications, [new IngestionBatch("wd", rows)], Ct);
        var seen = new List<StoredRow>();
        RowCursor? cursor = null;
        while (true)
        {
            var page = await store.QueryAsync(RowKind.Notifications, new RowQuery("wd", Now.AddDays(-2), Limit: 7, Before: cursor), Ct);
            seen.AddRange(page);
            if (page.Count < 7)
            {
                break;
            }

            cursor = new RowCursor(page[^1].Time, page[^1].Id);
        }

        Assert.Equal(25, seen.Count);
        Assert.Equal(25, seen.Select(r => r.Id).Distinct().Count());
        Assert.Equal(seen.OrderByDescending(r => r.Time).ThenByDescending(r => r.Id).Select(r => r.Id), seen.Select(r => r.Id));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.QueryAsync(RowKind.Logs, Window("wd", 10, limit: 0), Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.QueryAsync(RowKind.Logs, Window("wd", 10, limit: RowQuery.MaxLimit + 1), Ct));

        // The largest page a client may ask (limit 10000) is read with one row more, to know whether another page follows:
        // getLogs with "limit": 10000 on PostgreSQL threw ArgumentOutOfRangeException instead of answering.
        var largest = IngestionProtocol.Parse("""{"action":"getLogs","timewindow":60,"limit":10000}"""u8, new IngestionOptions(), DateTimeOffset.UtcNow);
        Assert.Empty(await store.QueryAsync(RowKind.Logs, Assert.IsType<ReadRequest>(largest).ToQuery("nobody", DateTimeOffset.UtcNow), Ct));
    }

    [Fact]
    public async Task Purge_drops_whole_old_day_partitions_deletes_in_the_straddling_one_and_keeps_recent_rows()
    {
        var (source, store, cs) = await NewStoreAsync();
        await using var _s = source;
        var day = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        static IngestionRow At(DateTimeOffset t, string m) => new("s", m, 20, t);
        await store.AppendAsync(RowKind.Logs,
        [
            new IngestionBatch("wd", [At(day.AddDays(-10).AddHours(3), "d-10"), At(day.AddDays(-10).AddHours(4), "d-10b"), At(day.AddDays(-9).AddHours(23), "d-9")]),
            new IngestionBatch("wd", [At(day.AddHours(1), "d0 01h"), At(day.AddHours(11), "d0 11h"), At(day.AddHours(13), "d0 13h"), At(day.AddDays(1), "d1")]),
        ], Ct);
        await store.AppendAsync(RowKind.Notifications, [new IngestionBatch("wd", [At(day.AddDays(-10), "kept")])], Ct);
        Assert.Equal(["ingest_logs_p20261121", "ingest_logs_p20261122", "ingest_logs_p20261201", "ingest_logs_p20261202"], await PartitionsAsync(cs, "ingest_logs"));

        long purged = await store.PurgeAsync(RowKind.Logs, day.AddHours(12), Ct);

        Assert.Equal(5, purged); // 3 in the dropped partitions (never analysed: counted), 2 deleted
        Assert.Equal(["ingest_logs_p20261201", "ingest_logs_p20261202"], await PartitionsAsync(cs, "ingest_logs"));
        Assert.Equal(["d1", "d0 13h"], (await store.QueryAsync(RowKind.Logs, new RowQuery("wd", day.AddDays(-30)), Ct)).Select(r => r.Message));
        Assert.Equal(["kept"], (await store.QueryAsync(RowKind.Notifications, new RowQuery("wd", day.AddDays(-30)), Ct)).Select(r => r.Message));
        Assert.Equal(0, await store.PurgeAsync(RowKind.Logs, day.AddHours(12), Ct));

        // A day dropped is made again when a late row needs it, by this store and by another that believed it existed.
        await using var otherSource = NpgsqlDataSource.Create(cs);
        var other = new PostgresIngestionStore(otherSource, _time);
        await other.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [At(day.AddHours(5), "warm")])], Ct);
        Assert.Equal(2, await store.PurgeAsync(RowKind.Logs, day.AddDays(1), Ct)); // drops 2026-12-01 ("d0 13h", "warm") under the other store
        await other.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [At(day.AddHours(6), "late")])], Ct);
        await store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [At(day.AddDays(-9), "later")])], Ct);
        Assert.Equal(["d1", "late", "later"], (await store.QueryAsync(RowKind.Logs, new RowQuery("wd", day.AddDays(-30)), Ct)).Select(r => r.Message));
    }

    [Fact]
    public async Task Two_stores_on_one_database_initialise_and_append_at_once_and_never_share_an_id()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var sourceA = NpgsqlDataSource.Create(cs);
        await using var sourceB = NpgsqlDataSource.Create(cs);
        var stores = new[] { new PostgresIngestionStore(sourceA, _time), new PostgresIngestionStore(sourceB, _time) };
        await Task.WhenAll(stores.Select(s => s.InitializeAsync(Ct)));

        var appends = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
        {
            var ids = new List<long>();
            for (int i = 0; i < 20; i++)
            {
                var rows = Enumerable.Range(0, 50).Select(k => Row($"w{w}", 20, k, $"{w}/{i}/{k}")).ToArray();
                var got = await stores[w % 2].AppendAsync(RowKind.Logs, [new IngestionBatch($"wd-{w % 3}", rows[..20]), new IngestionBatch("wd-x", rows[20..])], Ct);
                var flat = got.SelectMany(b => b).ToList();
                Assert.True(flat.Zip(flat.Skip(1)).All(p => p.First < p.Second));
                ids.AddRange(flat);
            }

            return ids;
        }, Ct)).ToList();
        var all = (await Task.WhenAll(appends)).SelectMany(x => x).ToList();

        Assert.Equal(16 * 20 * 50, all.Count);
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal((long)all.Count, await ScalarAsync<long>(cs, "SELECT count(DISTINCT id) FROM tocsin.ingest_logs"));
    }

    [Fact]
    public async Task Configurations_are_stored_per_identity_and_replaced()
    {
        var (source, store, _) = await NewStoreAsync();
        await using var _s = source;
        Assert.Null(await store.GetConfigAsync("wd", Ct));
        await store.PutConfigAsync("wd", """{"b": 1,  "a": [1, 2]}""", Ct);
        Assert.Equal("""{"b": 1,  "a": [1, 2]}""", await store.GetConfigAsync("wd", Ct));
        await store.PutConfigAsync("wd", """{"v":2}""", Ct);
        await store.PutConfigAsync("other", """{"v":3}""", Ct);
        Assert.Equal("""{"v":2}""", await store.GetConfigAsync("wd", Ct));
        Assert.Equal("""{"v":3}""", await store.GetConfigAsync("other", Ct));
    }

    [Fact]
    public async Task Tokens_are_found_by_sha256_until_revoked_and_listed_oldest_first()
    {
        var (source, store, cs) = await NewStoreAsync();
        await using var _s = source;
        string agentToken = AccessTokens.Create();
        string userToken = AccessTokens.Create();
        var agent = await store.AddTokenAsync("wd-1", IngestionRole.Agent, AccessTokens.Sha256(agentToken), Ct);
        _time.Advance(TimeSpan.FromSeconds(1.0000017));
        var user = await store.AddTokenAsync("wd-1", IngestionRole.User, AccessTokens.Sha256(userToken), Ct);

        Assert.Equal(AccessTokens.Sha256Hex(agentToken)[..12], agent.Id);
        Assert.Equal(new IngestionToken(agent.Id, "wd-1", IngestionRole.Agent, Now, null), agent);
        Assert.Equal(user, await store.FindTokenAsync(AccessTokens.Sha256(userToken), Ct));
        Assert.Equal(agent, await store.FindTokenAsync(AccessTokens.Sha256(agentToken), Ct));
        Assert.Null(await store.FindTokenAsync(AccessTokens.Sha256("not-a-token"), Ct));
        Assert.Equal([agent, user], await store.ListTokensAsync(Ct));
        Assert.Equal(0L, await ScalarAsync<long>(cs, $"SELECT count(*) FROM tocsin.ingest_tokens t WHERE position('{agentToken}' in t::text) > 0"));

        var duplicate = await Assert.ThrowsAsync<IngestionStoreException>(() => store.AddTokenAsync("wd-2", IngestionRole.Agent, AccessTokens.Sha256(agentToken), Ct));
        Assert.Contains(agent.Id, duplicate.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => store.AddTokenAsync("wd-2", IngestionRole.Agent, [1, 2, 3], Ct));

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(await store.RevokeTokenAsync(agent.Id, Ct));
        Assert.False(await store.RevokeTokenAsync(agent.Id, Ct));
        Assert.False(await store.RevokeTokenAsync("000000000000", Ct));
        Assert.Null(await store.FindTokenAsync(AccessTokens.Sha256(agentToken), Ct));
        var listed = await store.ListTokensAsync(Ct);
        Assert.Equal(agent with { RevokedAt = Now.AddTicks(610_000_010) }, listed[0]); // 1 min 1.0000017 s later, in microseconds
        Assert.Null(listed[1].RevokedAt);
    }

    [Fact]
    public async Task Rows_postgresql_cannot_hold_fail_the_append_with_a_clear_reason_and_store_nothing()
    {
        var (source, store, cs) = await NewStoreAsync();
        await using var _s = source;
        var nul = await Assert.ThrowsAsync<IngestionStoreException>(() =>
            store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [Row("s", 20, 1), Row("s", 20, 1, "bad\0byte")])], Ct));
        Assert.Contains("U+0000", nul.Message);
        var level = await Assert.ThrowsAsync<IngestionStoreException>(() =>
            store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [Row("s", 40_000, 1)])], Ct));
        Assert.Contains("40000", level.Message);
        Assert.Equal(0L, await ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.ingest_logs"));
    }

    [Fact]
    public async Task Postgres_stopped_mid_append_fails_it_with_a_store_exception_and_nothing_is_half_written()
    {
        var (source, store, cs) = await NewStoreAsync();
        await using var _s = source;
        var day = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);
        await store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [new IngestionRow("s", "before", 20, day), new IngestionRow("s", "before", 20, day.AddDays(1))])], Ct);

        // The append below copies 20,000 rows of 2026-12-03 and then one of 2026-12-04, whose partition another session
        // holds locked: PostgreSQL is stopped while the append waits, its first rows written and not committed.
        var locker = new NpgsqlConnection(Unpooled(cs));
        await locker.OpenAsync(Ct);
        var lockTx = await locker.BeginTransactionAsync(Ct);
        await using (var l = new NpgsqlCommand("LOCK TABLE tocsin.ingest_logs_p20261204 IN ACCESS EXCLUSIVE MODE", locker, lockTx))
        {
            await l.ExecuteNonQueryAsync(Ct);
        }

        var rows = Enumerable.Range(0, 20_000).Select(i => new IngestionRow("s", $"row {i}", 20, day.AddSeconds(i))).Append(new IngestionRow("s", "blocked", 20, day.AddDays(1).AddHours(1)));
        var append = store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [.. rows])], Ct);
        try
        {
            await Poll.UntilAsync(
                () => ScalarAsync<long>(cs, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY tocsin.ingest_logs%'"),
                n => n == 1 || append.IsCompleted, TimeSpan.FromSeconds(30), "the append waiting on the locked partition");
            Assert.False(append.IsCompleted);
            await server.StopAsync();
        }
        finally
        {
            await locker.DisposeAsync();
            if (!server.IsRunning)
            {
                await server.StartAsync();
            }
        }

        var ex = await Assert.ThrowsAsync<IngestionStoreException>(() => append);
        Assert.StartsWith(store.Description + ": could not append 20001 log row(s): ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Password, ex.ToString(), StringComparison.Ordinal);
        Assert.Equal(2L, await ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.ingest_logs"));

        // The store works again once PostgreSQL is back (a pooled connection cut by the stop may fail one more call).
        await Poll.UntilAsync(async () =>
        {
            try
            {
                await store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [new IngestionRow("s", "after", 20, day)])], Ct);
                return true;
            }
            catch (IngestionStoreException)
            {
                return false;
            }
        }, ok => ok, TimeSpan.FromSeconds(30), "an append after the restart");
        Assert.Equal(3L, await ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.ingest_logs"));
    }

    [Fact]
    public async Task Description_and_failures_never_show_the_password()
    {
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        await using (var right = NpgsqlDataSource.Create(cs))
        {
            Assert.Equal($"PostgreSQL 127.0.0.1:{server.Port}/{b.Database}", new PostgresIngestionStore(right, _time).Description);
        }

        b.Password = "wrong-secret-" + Guid.NewGuid().ToString("N");
        await using var wrong = NpgsqlDataSource.Create(b.ConnectionString);
        var store = new PostgresIngestionStore(wrong, _time);
        var ex = await Assert.ThrowsAsync<IngestionStoreException>(() => store.InitializeAsync(Ct));
        Assert.Contains("28P01", ex.Message); // password authentication failed
        Assert.DoesNotContain(b.Password, ex.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(b.Password, store.Description, StringComparison.Ordinal);
        var append = await Assert.ThrowsAsync<IngestionStoreException>(() => store.AppendAsync(RowKind.Logs, [new IngestionBatch("wd", [Row("s", 20, 1)])], Ct));
        Assert.DoesNotContain(b.Password, append.ToString(), StringComparison.Ordinal);
    }

    private static string Unpooled(string cs) => new NpgsqlConnectionStringBuilder(cs) { Pooling = false }.ConnectionString;

    internal static async Task<T> ScalarAsync<T>(string cs, string sql)
    {
        await using var c = new NpgsqlConnection(Unpooled(cs));
        await c.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand(sql, c);
        return (T)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    private static async Task<List<string>> PartitionsAsync(string cs, string table)
    {
        await using var c = new NpgsqlConnection(Unpooled(cs));
        await c.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand($"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tocsin.{table}'::regclass ORDER BY 1", c);
        await using var r = await cmd.ExecuteReaderAsync(Ct);
        var list = new List<string>();
        while (await r.ReadAsync(Ct))
        {
            list.Add(r.GetString(0));
        }

        return list;
    }
}
