using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Core.Tests.Storage;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Export;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Export;

public sealed class ExporterTests(PostgresServer server) : IClassFixture<PostgresServer>, IDisposable
{
    private static readonly ExporterOptions FastRetries = new()
    {
        MinRetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromMilliseconds(300),
        PollInterval = TimeSpan.FromMilliseconds(50),
    };

    private readonly TempFolder _folder = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    /// <summary><paramref name="count"/> results spread evenly over the <paramref name="days"/> days before now, 10 checks.</summary>
    private static List<CheckResult> Results(int count, double days = 8, int offset = 0)
    {
        var now = DateTimeOffset.UtcNow;
        var list = new List<CheckResult>(count);
        for (int i = 0; i < count; i++)
        {
            var started = now - TimeSpan.FromDays(days) + (TimeSpan.FromDays(days) * i / count) + TimeSpan.FromMilliseconds(offset);
            list.Add(new CheckResult(
                Guid.CreateVersion7(started), $"check-{i % 10}", "http", (CheckState)(i % 4), started.AddMilliseconds(-2), started, started.AddMilliseconds(30),
                30.5, i % 3 == 0 ? null : 200, $"result {i}", i % 2 == 0 ? null : new JsonObject { ["ttfbMs"] = 12.5, ["n"] = i }));
        }

        return list;
    }

    private static Exporter NewExporter(SqliteOutbox outbox, NpgsqlDataSource source, ExporterOptions? options = null) =>
        new(outbox, source, options ?? FastRetries, TimeProvider.System, NullLogger<Exporter>.Instance);

    private static async Task<HashSet<Guid>> CentralIdsAsync(string cs)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand("SELECT id FROM tocsin.results", c);
        await using var r = await cmd.ExecuteReaderAsync(Ct);
        var ids = new HashSet<Guid>();
        while (await r.ReadAsync(Ct))
        {
            Assert.True(ids.Add(r.GetGuid(0)), "duplicate id in tocsin.results");
        }

        return ids;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "condition not met in time");
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task Export_of_20000_rows_sends_every_id_once_and_marks_every_local_row_exported()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        var results = Results(20_000);
        outbox.WriteBatch(results);
        using var exporter = NewExporter(outbox, source);

        int batches = 0;
        while (await exporter.ExportBatchAsync(Ct) > 0)
        {
            batches++;
        }

        var central = await CentralIdsAsync(cs);
        Assert.Equal(results.Select(r => r.Id).ToHashSet(), central);
        var status = exporter.GetStatus();
        Assert.Equal(0, status.PendingRows);
        Assert.Null(status.OldestPendingAge);
        Assert.Equal(20_000, status.RowsExported);
        Assert.True(status.BatchSize > 1_000, $"batch size stayed at {status.BatchSize}");
        Assert.True(batches < 20, $"{batches} batches: the batch size did not grow");
        Assert.Empty(outbox.ReadUnexported(1));
        Assert.Equal(20_000, await CentralDatabaseTests.ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.results"));
    }

    [Fact]
    public async Task New_rows_reach_the_centre_while_an_old_backlog_drains_and_every_row_ends_exported_once()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        var backlog = Results(30_000, days: 0.5, offset: -3_600_000); // the hours PostgreSQL was away, up to an hour ago
        outbox.WriteBatch(backlog);
        using var exporter = NewExporter(outbox, source, FastRetries with { InitialBatchSize = 1_000, MaxBatchSize = 1_000 });
        Assert.Equal(1_000, await exporter.ExportBatchAsync(Ct));

        // Checking goes on: new results, newer than the whole backlog.
        var fresh = Results(40, days: 0.0001, offset: 2);
        Assert.True(string.CompareOrdinal(fresh.Min(r => r.Id.ToString())!, backlog.Max(r => r.Id.ToString())!) > 0);
        outbox.WriteBatch(fresh);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(1_000, await exporter.ExportBatchAsync(Ct));
        }

        // The new rows are central after a few batches, while most of the backlog still waits.
        var central = await CentralIdsAsync(cs);
        Assert.Subset(central, fresh.Select(r => r.Id).ToHashSet());
        Assert.Equal(4_000, central.Count);
        Assert.True(outbox.ReadExportBacklog().Pending > 25_000);
        var oldestFirst = backlog.OrderBy(r => r.Id.ToString()).Select(r => r.Id).ToList();
        Assert.Subset(central, oldestFirst.Take(3_000).ToHashSet());

        while (await exporter.ExportBatchAsync(Ct) > 0)
        {
        }

        Assert.Equal(backlog.Concat(fresh).Select(r => r.Id).ToHashSet(), await CentralIdsAsync(cs));
        Assert.Equal(30_040, await CentralDatabaseTests.ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.results"));
        Assert.Equal(0, outbox.ReadExportBacklog().Pending);
        Assert.Equal(30_040, exporter.RowsExported);
    }

    [Fact]
    public async Task A_backlog_drained_while_results_keep_coming_arrives_once_with_nothing_left_behind()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        var all = Results(40_000, days: 0.5);
        outbox.WriteBatch(all);
        using var exporter = NewExporter(outbox, source, FastRetries with { InitialBatchSize = 2_000, MaxBatchSize = 2_000 });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = Task.Run(() => exporter.RunAsync(stop.Token), Ct);
        try
        {
            // New results keep arriving, some of them late (started before results already written).
            for (int i = 0; i < 40; i++)
            {
                var now = Results(50, days: 0.00002, offset: i);
                outbox.WriteBatch(now);
                all.AddRange(now);
                await Task.Delay(10, Ct);
            }

            await WaitUntilAsync(() => outbox.ReadExportBacklog().Pending == 0, TimeSpan.FromSeconds(60));
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        Assert.Equal(all.Select(r => r.Id).ToHashSet(), await CentralIdsAsync(cs));
    }

    [Fact]
    public async Task Status_is_saved_in_the_outbox_for_other_processes_and_the_count_carries_over_restarts()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        outbox.WriteBatch(Results(1_500));
        using (var exporter = NewExporter(outbox, source))
        {
            Assert.Equal(1_500, await exporter.FlushAsync(TimeSpan.FromSeconds(30)));
        }

        var saved = Exporter.ReadStatus(outbox, DateTimeOffset.UtcNow);
        Assert.Equal(1_500, saved.RowsExported);
        Assert.NotNull(saved.LastSuccessAt);
        Assert.Null(saved.LastError);
        Assert.Equal(0, saved.PendingRows);

        outbox.WriteBatch(Results(10, offset: 1));
        using (var restarted = NewExporter(outbox, source))
        {
            Assert.Equal(10, await restarted.FlushAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(1_510, restarted.GetStatus().RowsExported);
        }
    }

    [Fact]
    public async Task Exported_rows_keep_their_fields_and_this_agents_id()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        var r = Results(2)[1];
        outbox.WriteBatch([r]);
        using var exporter = NewExporter(outbox, source);
        Assert.Equal(1, await exporter.ExportBatchAsync(Ct));

        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details::text FROM tocsin.results WHERE id = @id", c);
        cmd.Parameters.AddWithValue("id", r.Id);
        await using var row = await cmd.ExecuteReaderAsync(Ct);
        Assert.True(await row.ReadAsync(Ct));
        Assert.Equal(outbox.AgentId, row.GetGuid(0));
        Assert.Equal((r.CheckName, r.Kind, (short)r.State), (row.GetString(1), row.GetString(2), row.GetInt16(3)));
        Assert.Equal(r.ScheduledAt.ToUnixTimeMilliseconds(), new DateTimeOffset(row.GetDateTime(4)).ToUnixTimeMilliseconds());
        Assert.Equal(r.StartedAt.ToUnixTimeMilliseconds(), new DateTimeOffset(row.GetDateTime(5)).ToUnixTimeMilliseconds());
        Assert.Equal(r.FinishedAt.ToUnixTimeMilliseconds(), new DateTimeOffset(row.GetDateTime(6)).ToUnixTimeMilliseconds());
        Assert.Equal((r.DurationMs, r.StatusCode, r.Message), (row.GetDouble(7), (int?)row.GetInt32(8), row.GetString(9)));
        Assert.True(JsonNode.DeepEquals(r.Details, JsonNode.Parse(row.GetString(10))));
    }

    [Fact]
    public async Task Rows_sent_again_after_a_crash_before_the_local_mark_are_ignored_centrally()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        string path = _folder.File("local.db");
        using var outbox = new SqliteOutbox(path);
        var results = Results(3_000);
        outbox.WriteBatch(results);
        using var exporter = NewExporter(outbox, source);
        while (await exporter.ExportBatchAsync(Ct) > 0)
        {
        }

        // The crash: PostgreSQL committed, the local mark never happened (for half of the rows).
        using (var c = new SqliteConnection($"Data Source={path}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE results SET exported = 0 WHERE id IN (SELECT id FROM results ORDER BY id DESC LIMIT 1500)";
            Assert.Equal(1500, cmd.ExecuteNonQuery());
        }

        using var restarted = NewExporter(outbox, source);
        long sent = 0;
        int n;
        while ((n = await restarted.ExportBatchAsync(Ct)) > 0)
        {
            sent += n;
        }

        Assert.Equal(1500, sent);
        Assert.Equal(results.Select(r => r.Id).ToHashSet(), await CentralIdsAsync(cs));
        Assert.Equal(0, outbox.ReadExportBacklog().Pending);
    }

    [Fact]
    public async Task Export_resumes_after_postgres_restart_without_duplicates_or_losses()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        using var exporter = NewExporter(outbox, source);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = Task.Run(() => exporter.RunAsync(stop.Token), Ct);
        var all = new List<CheckResult>();
        try
        {
            var first = Results(2_000, days: 1);
            outbox.WriteBatch(first);
            all.AddRange(first);
            await WaitUntilAsync(() => exporter.GetStatus().PendingRows == 0, TimeSpan.FromSeconds(30));

            await server.StopAsync();
            try
            {
                var during = Results(3_000, days: 0.5, offset: 1);
                outbox.WriteBatch(during);
                all.AddRange(during);
                await WaitUntilAsync(() => exporter.GetStatus().ConsecutiveFailures >= 3, TimeSpan.FromSeconds(30));
                var more = Results(1_000, days: 0.1, offset: 2);
                outbox.WriteBatch(more);
                all.AddRange(more);
                var status = exporter.GetStatus();
                Assert.Equal(4_000, status.PendingRows);
                Assert.NotNull(status.LastError);
                Assert.NotNull(status.NextAttemptAt);
            }
            finally
            {
                await server.StartAsync();
            }

            await WaitUntilAsync(() => exporter.GetStatus().PendingRows == 0, TimeSpan.FromSeconds(30));
            var after = exporter.GetStatus();
            Assert.Equal(0, after.ConsecutiveFailures);
            Assert.Null(after.LastError);
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        Assert.Equal(all.Select(r => r.Id).ToHashSet(), await CentralIdsAsync(cs));
    }

    [Fact]
    public async Task Postgres_killed_while_a_backlog_is_being_copied_loses_and_duplicates_nothing()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        var results = Results(60_000);
        outbox.WriteBatch(results);
        using var exporter = NewExporter(outbox, source, FastRetries with { InitialBatchSize = 10_000 });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = Task.Run(() => exporter.RunAsync(stop.Token), Ct);
        try
        {
            // Kill as soon as the first batch is in: the next one is being read or copied.
            await WaitUntilAsync(() => exporter.RowsExported > 0, TimeSpan.FromSeconds(60));
            server.Kill();
            try
            {
                await WaitUntilAsync(() => exporter.GetStatus().ConsecutiveFailures >= 2, TimeSpan.FromSeconds(30));
                Assert.True(exporter.GetStatus().PendingRows > 0);
            }
            finally
            {
                await server.StartAsync();
            }

            await WaitUntilAsync(() => exporter.GetStatus().PendingRows == 0, TimeSpan.FromSeconds(120));
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        Assert.Equal(results.Select(r => r.Id).ToHashSet(), await CentralIdsAsync(cs));
    }

    [Fact]
    public async Task Wrong_password_keeps_the_exporter_running_and_the_status_says_why_without_the_password()
    {
        const string wrong = "not-the-password-7f3a";
        var cs = new NpgsqlConnectionStringBuilder(await server.CreateDatabaseAsync()) { Password = wrong };
        var status = await RunAgainstAsync(cs.ConnectionString);
        Assert.Contains("password authentication failed", status.LastError);
        Assert.DoesNotContain(wrong, status.LastError);
        Assert.DoesNotContain(server.Password, status.LastError);
    }

    [Fact]
    public async Task Unknown_database_keeps_the_exporter_running_and_the_status_says_why()
    {
        var cs = new NpgsqlConnectionStringBuilder(server.ConnectionString("no_such_database")) { Pooling = true };
        var status = await RunAgainstAsync(cs.ConnectionString);
        Assert.Contains("\"no_such_database\" does not exist", status.LastError);
        Assert.DoesNotContain(server.Password, status.LastError);
    }

    [Fact]
    public async Task Central_schema_newer_than_the_build_pauses_export_with_a_clear_status()
    {
        string cs = await server.CreateDatabaseAsync();
        await using (var s = NpgsqlDataSource.Create(cs))
        {
            await new CentralDatabase(s).MigrateAsync(Ct);
        }

        await CentralDatabaseTests.ExecuteAsync(cs, $"INSERT INTO tocsin.schema_migrations (version, description) VALUES ({CentralDatabase.SchemaVersion + 5}, 'future')");
        var status = await RunAgainstAsync(cs, failures: 1);
        Assert.Contains($"schema version {CentralDatabase.SchemaVersion + 5}, newer than", status.LastError);
        Assert.Equal(0L, await CentralDatabaseTests.ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.results"));
    }

    [Fact]
    public void Retry_delay_doubles_from_the_minimum_with_jitter_and_stays_under_the_cap()
    {
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        using var source = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1");
        using var exporter = new Exporter(outbox, source, new ExporterOptions(), TimeProvider.System, NullLogger<Exporter>.Instance);
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(TimeSpan.FromSeconds(1), exporter.RetryDelay(1));
            Assert.InRange(exporter.RetryDelay(3), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4));
            Assert.InRange(exporter.RetryDelay(40), TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>Runs an exporter with one pending row against <paramref name="cs"/> until it failed <paramref name="failures"/> times; checks it kept running and kept the row.</summary>
    private async Task<ExportStatus> RunAgainstAsync(string cs, int failures = 3)
    {
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("local.db"));
        outbox.WriteBatch(Results(1));
        using var exporter = NewExporter(outbox, source);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = Task.Run(() => exporter.RunAsync(stop.Token), Ct);
        try
        {
            await WaitUntilAsync(() => exporter.GetStatus().ConsecutiveFailures >= failures, TimeSpan.FromSeconds(30));
            Assert.False(running.IsCompleted);
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        var status = exporter.GetStatus();
        Assert.Equal(1, status.PendingRows);
        Assert.NotNull(status.LastError);

        // What `tocsin export status` shows from another process.
        var saved = Exporter.ReadStatus(outbox, DateTimeOffset.UtcNow);
        Assert.Equal(status.LastError, saved.LastError);
        Assert.True(saved.ConsecutiveFailures >= failures);
        Assert.Equal(1, saved.PendingRows);
        Assert.NotNull(saved.OldestPendingAge);
        return status;
    }
}
