using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Checks;
using Tocsin.Diagnostics;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Storage;

public sealed class SqliteOutboxTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string DatabasePath => _folder.File("local.db");

    /// <summary>A result of <paramref name="check"/> started <paramref name="second"/> seconds after <see cref="T0"/>.</summary>
    private static CheckResult Result(string check, CheckState state, int second, string? message = null)
    {
        var started = T0.AddSeconds(second);
        return new CheckResult(
            Guid.CreateVersion7(started), check, "http", state, started.AddMilliseconds(-3), started, started.AddMilliseconds(42),
            41.5, state == CheckState.OK ? 200 : 500, message ?? $"{state} at {second}",
            new JsonObject { ["ttfbMs"] = 12.25, ["bodyBytes"] = 12 });
    }

    [Fact]
    public void Unexported_rows_are_read_oldest_first_and_marking_them_exported_removes_them_from_the_backlog()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var results = Enumerable.Range(0, 10).Select(i => Result("site", CheckState.OK, 100 - i)).ToList();
        outbox.WriteBatch(results);
        var backlog = outbox.ReadExportBacklog();
        Assert.Equal(10, backlog.Pending);
        Assert.Equal(T0.AddSeconds(91), backlog.OldestStartedAt);

        var first = outbox.ReadUnexported(4);

        Assert.Equal(results.OrderBy(r => r.StartedAt).Take(4).Select(r => r.Id), first.Select(r => r.Id));
        var row = first[0];
        var source = results.Single(r => r.Id == row.Id);
        Assert.Equal((source.CheckName, source.Kind, (short)source.State, source.StartedAt.ToUnixTimeMilliseconds(), source.StatusCode, source.Message),
            (row.CheckName, row.Kind, row.State, row.StartedAtMs, row.StatusCode, row.Message));
        Assert.Equal(source.Details!.ToJsonString(), row.DetailsJson);

        Assert.Equal(4, outbox.MarkExported(first.Select(r => r.Id).ToList()));
        Assert.Equal(0, outbox.MarkExported(first.Select(r => r.Id).ToList()));
        Assert.Equal(6, outbox.ReadExportBacklog().Pending);
        Assert.Equal(T0.AddSeconds(95), outbox.ReadExportBacklog().OldestStartedAt);
        Assert.Equal(results.OrderBy(r => r.StartedAt).Skip(4).Select(r => r.Id), outbox.ReadUnexported(100).Select(r => r.Id));

        outbox.MarkExported(outbox.ReadUnexported(100).Select(r => r.Id).ToList());
        Assert.Equal(new ExportBacklog(0, null), outbox.ReadExportBacklog());
        Assert.Empty(outbox.ReadUnexported(100));
    }

    /// <summary>One <see cref="SqliteOutbox.ReadForExport"/>: the read, the oldest slice's ids and the newest slice's ids, as visited.</summary>
    private static (ExportRead Read, List<Guid> Oldest, List<Guid> Newest) ReadForExport(SqliteOutbox outbox, int oldest, int newest, ExportRead? inFlight)
    {
        var visited = new List<Guid>();
        var ids = new OutboxIdList();
        var read = outbox.ReadForExport(oldest, newest, inFlight, ids, (in OutboxRowView r) => visited.Add(r.Id));
        Assert.Equal(visited, Enumerable.Range(0, ids.Count).Select(i => Guid.Parse(ids.TextAt(i))));
        return (read, visited.Take(read.OldestCount).ToList(), visited.Skip(read.OldestCount).ToList());
    }

    [Fact]
    public void A_read_for_export_takes_the_newest_rows_too_only_while_a_backlog_waits_and_skips_the_batch_in_flight()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var results = Enumerable.Range(0, 100).Select(i => Result($"c{i % 7}", CheckState.OK, i)).ToList();
        outbox.WriteBatch(results);
        var ids = results.Select(r => r.Id).ToList(); // oldest first

        // No backlog beyond the oldest share: no newest slice.
        var all = ReadForExport(outbox, 200, 20, inFlight: null);
        Assert.Equal(ids, all.Oldest);
        Assert.Empty(all.Newest);

        // A backlog: 30 oldest, and the 5 newest, newest first.
        var first = ReadForExport(outbox, 30, 5, inFlight: null);
        Assert.Equal(ids.Take(30), first.Oldest);
        Assert.Equal(ids.TakeLast(5).Reverse(), first.Newest);
        Assert.Equal(35, first.Read.Count);

        // Read while the first batch is still being sent (nothing marked yet): it continues after it.
        var second = ReadForExport(outbox, 30, 5, inFlight: first.Read);
        Assert.Equal(ids.Skip(30).Take(30), second.Oldest);
        Assert.Equal(ids.SkipLast(5).TakeLast(5).Reverse(), second.Newest);

        // The first batch marked; a new result arrives: the next read in flight of the second carries it.
        outbox.MarkExported(first.Oldest.Concat(first.Newest).ToList());
        var late = Result("c1", CheckState.CRITICAL, 500);
        outbox.WriteBatch([late]);
        var third = ReadForExport(outbox, 20, 5, inFlight: second.Read);
        Assert.Equal(ids.Skip(60).Take(20), third.Oldest);
        Assert.Equal(new[] { late.Id }.Concat(ids.Skip(86).Take(4).Reverse()), third.Newest);

        // Without a batch in flight the read starts again from the oldest unexported row.
        outbox.MarkExported(second.Oldest.Concat(second.Newest).Concat(third.Oldest).Concat(third.Newest).ToList());
        var rest = ReadForExport(outbox, 1_000, 100, inFlight: null);
        Assert.Equal(ids.Skip(80).Take(6), rest.Oldest);
        Assert.Empty(rest.Newest);
        Assert.Equal(6, outbox.ReadExportBacklog().Pending);
    }

    [Fact]
    public void A_read_for_export_shows_every_field_as_stored()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var r = Result("site", CheckState.WARNING, 7, "slow: 1.2 s ✓");
        var bare = Result("site", CheckState.UNKNOWN, 8) with { StatusCode = null, Details = null };
        outbox.WriteBatch([r, bare]);
        var seen = new List<string>();
        outbox.ReadForExport(10, 0, null, new OutboxIdList(), (in OutboxRowView v) => seen.Add(string.Join('|',
            v.Id, Encoding.UTF8.GetString(v.CheckName), Encoding.UTF8.GetString(v.Kind), v.State, v.ScheduledAtMs, v.StartedAtMs, v.FinishedAtMs,
            v.DurationMs, v.StatusCode, Encoding.UTF8.GetString(v.Message), v.HasDetails ? Encoding.UTF8.GetString(v.Details) : "null")));
        static string Expected(CheckResult x) => string.Join('|',
            x.Id, x.CheckName, x.Kind, (short)x.State, x.ScheduledAt.ToUnixTimeMilliseconds(), x.StartedAt.ToUnixTimeMilliseconds(),
            x.FinishedAt.ToUnixTimeMilliseconds(), x.DurationMs, x.StatusCode, x.Message, x.Details?.ToJsonString() ?? "null");
        Assert.Equal([Expected(r), Expected(bare)], seen);
    }

    [Fact]
    public void Marking_more_ids_than_one_transaction_holds_marks_them_all()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var results = Enumerable.Range(0, 12_345).Select(i => Result($"c{i % 50}", CheckState.OK, i)).ToList();
        outbox.WriteBatch(results);
        Assert.Equal(12_345, outbox.MarkExported(results.Select(r => r.Id).ToList()));
        Assert.Equal(0, outbox.ReadExportBacklog().Pending);
    }

    [Fact]
    public void Written_results_are_read_back_newest_first_up_to_the_limit()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var results = Enumerable.Range(0, 5).Select(i => Result("site", CheckState.OK, i)).ToList();
        outbox.WriteBatch([.. results, Result("other", CheckState.CRITICAL, 10)]);

        var read = outbox.ReadResults("site", 3);

        Assert.Equal([results[4].Id, results[3].Id, results[2].Id], read.Select(r => r.Id));
        Assert.Equal(results[4].Message, read[0].Message);
        Assert.Equal(5, outbox.ReadResults("site", 100).Count);
        Assert.Equal(6, outbox.CountResults());
        Assert.Empty(outbox.ReadResults("nobody", 10));
    }

    [Fact]
    public void Every_field_of_a_result_survives_the_round_trip()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var written = Result("site", CheckState.WARNING, 1);
        var noDetails = Result("tcp-port", CheckState.CRITICAL, 2) with { Kind = "tcp", StatusCode = null, Details = null };
        outbox.WriteBatch([written, noDetails]);

        var read = Assert.Single(outbox.ReadResults("site", 10));
        Assert.Equal(written with { Details = null }, read with { Details = null });
        Assert.Equal(written.Details!.ToJsonString(), read.Details!.ToJsonString());

        var readNoDetails = Assert.Single(outbox.ReadResults("tcp-port", 10));
        Assert.Equal(noDetails, readNoDetails);
    }

    [Fact]
    public void Consecutive_failures_count_up_and_reset_on_ok()
    {
        using var outbox = new SqliteOutbox(DatabasePath);

        outbox.WriteBatch([Result("site", CheckState.OK, 0)]);
        Assert.Equal((CheckState.OK, 0, T0), State(outbox));

        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 1)]);
        Assert.Equal((CheckState.CRITICAL, 1, T0.AddSeconds(1)), State(outbox));

        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 2), Result("site", CheckState.WARNING, 3)]);
        Assert.Equal((CheckState.WARNING, 3, T0.AddSeconds(3)), State(outbox));

        outbox.WriteBatch([Result("site", CheckState.UNKNOWN, 4)]);
        Assert.Equal((CheckState.UNKNOWN, 4, T0.AddSeconds(4)), State(outbox));

        outbox.WriteBatch([Result("site", CheckState.OK, 5, "back"), Result("other", CheckState.CRITICAL, 5)]);
        Assert.Equal((CheckState.OK, 0, T0.AddSeconds(5)), State(outbox));

        var site = outbox.ReadStates()["site"];
        Assert.Equal(("site", "http", "back", T0.AddSeconds(5), 41.5), (site.Name, site.Kind, site.Message, site.LastRun, site.DurationMs));
        Assert.Equal(1, outbox.ReadStates()["other"].ConsecutiveFailures);
    }

    [Fact]
    public void Last_change_stays_at_the_first_result_of_a_state()
    {
        using var outbox = new SqliteOutbox(DatabasePath);

        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 0), Result("site", CheckState.CRITICAL, 1), Result("site", CheckState.CRITICAL, 2)]);

        var state = outbox.ReadStates()["site"];
        Assert.Equal((3, T0, T0.AddSeconds(2)), (state.ConsecutiveFailures, state.LastChange, state.LastRun));
    }

    [Fact]
    public void Writing_the_same_batch_twice_stores_nothing_twice()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        List<CheckResult> batch = [Result("site", CheckState.OK, 0), Result("site", CheckState.CRITICAL, 1), Result("site", CheckState.CRITICAL, 2)];

        outbox.WriteBatch(batch);
        var statesBefore = outbox.ReadStates();
        outbox.WriteBatch(batch);

        Assert.Equal(3, outbox.CountResults());
        Assert.Equal(3, outbox.ReadResults("site", 10).Select(r => r.Id).Distinct().Count());
        Assert.Equal(statesBefore["site"], outbox.ReadStates()["site"]);
        Assert.Equal(2, outbox.ReadStates()["site"].ConsecutiveFailures);
    }

    [Fact]
    public void A_result_older_than_the_stored_state_does_not_change_the_state()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        outbox.WriteBatch([Result("site", CheckState.OK, 5)]);

        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 4)]);

        Assert.Equal((CheckState.OK, 0, T0.AddSeconds(5)), State(outbox));
        Assert.Equal(2, outbox.CountResults());
    }

    [Fact]
    public void Reopening_the_file_keeps_results_states_and_agent_id()
    {
        Guid agentId;
        using (var outbox = new SqliteOutbox(DatabasePath))
        {
            agentId = outbox.AgentId;
            Assert.Equal(7, agentId.Version);
            outbox.WriteBatch([Result("site", CheckState.CRITICAL, 0), Result("site", CheckState.CRITICAL, 1)]);
        }

        using (var reopened = new SqliteOutbox(DatabasePath))
        {
            Assert.Equal(agentId, reopened.AgentId);
            Assert.Equal(DatabasePath, reopened.Path);
            Assert.Equal(2, reopened.CountResults());
            Assert.Equal((CheckState.CRITICAL, 2, T0), State(reopened));

            reopened.WriteBatch([Result("site", CheckState.CRITICAL, 2)]);
            Assert.Equal(3, reopened.ReadStates()["site"].ConsecutiveFailures);
        }

        using var other = new SqliteOutbox(_folder.File("other.db"));
        Assert.NotEqual(agentId, other.AgentId);
    }

    [Fact]
    public void Missing_folders_of_the_database_path_are_created()
    {
        string path = Path.Combine(_folder.Path, "a", "b", "local.db");

        using var outbox = new SqliteOutbox(path);

        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task Result_writer_stop_commits_every_accepted_result()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        using var metrics = new TocsinMetrics();
        // A small queue and batch make producers wait and the writer commit many batches.
        var writer = new ResultWriter(
            outbox, new ResultWriterOptions { QueueCapacity = 500, MaxBatchSize = 200 }, TimeProvider.System, metrics, NullLogger<ResultWriter>.Instance);
        writer.Start();

        for (int i = 0; i < 5_000; i++)
        {
            await writer.WriteAsync(Result($"check-{i % 50}", (CheckState)(i % 4), i), TestContext.Current.CancellationToken);
        }

        await writer.StopAsync();

        Assert.Equal(5_000, outbox.CountResults());
        Assert.Equal(5_000, writer.Written);
        Assert.Equal(0, writer.Queued);
        Assert.Equal(50, outbox.ReadStates().Count);
    }

    [Fact]
    public void A_newer_schema_version_in_the_file_is_refused_naming_both_versions()
    {
        using (new SqliteOutbox(DatabasePath))
        {
        }

        using (var c = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO schema_migrations (version, description, applied_at) VALUES (999, 'from the future', '2099-01-01T00:00:00Z');";
            cmd.ExecuteNonQuery();
        }

        var ex = Assert.Throws<InvalidOperationException>(() => new SqliteOutbox(DatabasePath));

        Assert.Contains("schema version 999", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"this Tocsin's {SqliteOutbox.SchemaVersion}", ex.Message, StringComparison.Ordinal);
        Assert.Contains(DatabasePath, ex.Message, StringComparison.Ordinal);
    }

    private static (CheckState State, int ConsecutiveFailures, DateTimeOffset LastChange) State(SqliteOutbox outbox)
    {
        var s = outbox.ReadStates()["site"];
        return (s.State, s.ConsecutiveFailures, s.LastChange);
    }
}
