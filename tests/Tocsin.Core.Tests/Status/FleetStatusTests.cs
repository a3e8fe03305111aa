using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Core.Tests.Storage;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Export;
using Tocsin.Status;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Status;

/// <summary><c>tocsin.check_states</c> kept by the exporters of several agents, and the fleet view read from it.</summary>
public sealed class FleetStatusTests(PostgresServer server) : IClassFixture<PostgresServer>, IDisposable
{
    private static readonly ExporterOptions Options = new() { MinRetryDelay = TimeSpan.FromMilliseconds(50), MaxRetryDelay = TimeSpan.FromMilliseconds(300) };

    private readonly TempFolder _folder = new();
    // Whole milliseconds: the outbox keeps times in ms.
    private readonly DateTimeOffset _t0 = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddMinutes(-30).ToUnixTimeMilliseconds());

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private CheckResult Result(string check, CheckState state, int second, string message = "m")
    {
        var started = _t0.AddSeconds(second);
        return new CheckResult(Guid.CreateVersion7(started), check, "tcp", state, started, started, started.AddMilliseconds(5), 5, null, message, null);
    }

    private static async Task ExportAsync(SqliteOutbox outbox, NpgsqlDataSource source, params CheckResult[] results)
    {
        outbox.WriteBatch(results);
        using var exporter = new Exporter(outbox, source, Options, TimeProvider.System, NullLogger<Exporter>.Instance);
        while (await exporter.ExportBatchAsync(Ct) > 0)
        {
        }
    }

    private static async Task<CentralCheckState> StateAsync(NpgsqlDataSource source, string check) =>
        (await new CentralStatusReader(source).ReadStatesAsync([check], Ct))[check];

    private static CheckDefinition Check(string name, bool enabled = true) =>
        new(name, "tcp", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500), new object()) { Enabled = enabled };

    [Fact]
    public async Task Check_state_follows_the_newest_result_and_counts_failures_across_batches_and_agents()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var a = new SqliteOutbox(_folder.File("a.db"));
        using var b = new SqliteOutbox(_folder.File("b.db"));

        await ExportAsync(a, source, Result("x", CheckState.OK, 1), Result("x", CheckState.CRITICAL, 2), Result("x", CheckState.CRITICAL, 3, "a3"));
        var s = await StateAsync(source, "x");
        Assert.Equal((CheckState.CRITICAL, 2, _t0.AddSeconds(2), a.AgentId, "a3"), (s.State, s.ConsecutiveFailures, s.LastChange, s.AgentId, s.Message));

        // The check moved to agent B: its failures continue the count, its state change is dated.
        await ExportAsync(b, source, Result("x", CheckState.CRITICAL, 4), Result("x", CheckState.WARNING, 5, "b5"));
        s = await StateAsync(source, "x");
        Assert.Equal((CheckState.WARNING, 4, _t0.AddSeconds(5), b.AgentId, "b5"), (s.State, s.ConsecutiveFailures, s.LastChange, s.AgentId, s.Message));
        Assert.Equal(_t0.AddSeconds(5), s.LastRun);

        // Same state from A in a later batch: the count goes on, the change keeps its date.
        await ExportAsync(a, source, Result("x", CheckState.WARNING, 6, "a6"));
        s = await StateAsync(source, "x");
        Assert.Equal((CheckState.WARNING, 5, _t0.AddSeconds(5), a.AgentId, "a6"), (s.State, s.ConsecutiveFailures, s.LastChange, s.AgentId, s.Message));

        // A late OK older than the stored newest (a backlog drained late) is kept in results but not in the state.
        await ExportAsync(b, source, Result("x", CheckState.OK, 4));
        s = await StateAsync(source, "x");
        Assert.Equal((CheckState.WARNING, 5, "a6"), (s.State, s.ConsecutiveFailures, s.Message));
        Assert.Equal(7L, await CentralDatabaseTests.ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.results WHERE check_name = 'x'"));

        await ExportAsync(b, source, Result("x", CheckState.CRITICAL, 7), Result("x", CheckState.OK, 8, "b8"), Result("x", CheckState.OK, 9, "b9"));
        s = await StateAsync(source, "x");
        Assert.Equal((CheckState.OK, 0, _t0.AddSeconds(8), b.AgentId, "b9"), (s.State, s.ConsecutiveFailures, s.LastChange, s.AgentId, s.Message));
    }

    [Fact]
    public async Task Rows_sent_again_after_a_crash_before_the_local_mark_do_not_count_twice()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        string path = _folder.File("a.db");
        using var outbox = new SqliteOutbox(path);
        await ExportAsync(outbox, source, Result("x", CheckState.CRITICAL, 1), Result("x", CheckState.CRITICAL, 2), Result("y", CheckState.OK, 2));
        var before = await new CentralStatusReader(source).ReadStatesAsync(["x", "y"], Ct);

        using (var c = new SqliteConnection($"Data Source={path}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE results SET exported = 0";
            cmd.ExecuteNonQuery();
        }

        await ExportAsync(outbox, source);

        var after = await new CentralStatusReader(source).ReadStatesAsync(["x", "y"], Ct);
        Assert.Equal(before["x"], after["x"]);
        Assert.Equal(before["y"], after["y"]);
        Assert.Equal(2, after["x"].ConsecutiveFailures);
    }

    [Fact]
    public async Task Two_agents_exporting_the_same_check_at_once_leave_the_newest_result_and_a_count_no_larger_than_the_failures()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var a = new SqliteOutbox(_folder.File("a.db"));
        using var b = new SqliteOutbox(_folder.File("b.db"));
        await new CentralDatabase(source).MigrateAsync(Ct);

        // "placement": "all": both agents run the check every second, every run fails; they export at once, in small batches.
        a.WriteBatch([.. Enumerable.Range(0, 400).Select(i => Result("both", CheckState.CRITICAL, i, "a"))]);
        b.WriteBatch([.. Enumerable.Range(0, 400).Select(i => Result("both", CheckState.CRITICAL, i, "b"))]);
        // Oldest first only: with a share of the newest rows in each batch the newest result arrives first and the
        // older ones, late, are left out of the count (README, fleet view); this test is about two exporters at once.
        var small = Options with { InitialBatchSize = 10, MinBatchSize = 10, MaxBatchSize = 10, NewestShare = 0 };
        using var ea = new Exporter(a, source, small, TimeProvider.System, NullLogger<Exporter>.Instance);
        using var eb = new Exporter(b, source, small, TimeProvider.System, NullLogger<Exporter>.Instance);
        await Task.WhenAll(
            Task.Run(async () => { while (await ea.ExportBatchAsync(Ct) > 0) { } }, Ct),
            Task.Run(async () => { while (await eb.ExportBatchAsync(Ct) > 0) { } }, Ct));

        var s = await StateAsync(source, "both");
        var newest = await CentralDatabaseTests.ScalarAsync<Guid>(cs, "SELECT id FROM tocsin.results ORDER BY started_at DESC, id DESC LIMIT 1");
        Assert.Equal(newest, s.LastResultId);
        Assert.InRange(s.ConsecutiveFailures, 400, 800);
        Assert.Equal(_t0.AddSeconds(0), s.LastChange);
    }

    [Fact]
    public async Task Migration_to_version_2_fills_check_states_from_the_newest_result_of_each_check()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        var agent = Guid.CreateVersion7();
        await CentralDatabaseTests.ExecuteAsync(cs, PostgresSchema.CreateMigrationsTable + PostgresSchema.Migrations[0].Sql
            + "INSERT INTO tocsin.schema_migrations (version, description) VALUES (1, 'v1');");
        var db = new CentralDatabase(source);
        await db.EnsurePartitionsAsync([DateOnly.FromDateTime(_t0.UtcDateTime), DateOnly.FromDateTime(_t0.AddSeconds(2).UtcDateTime)], Ct);
        foreach (var (r, i) in new[] { Result("x", CheckState.OK, 1), Result("x", CheckState.CRITICAL, 2, "newest") }.Select((r, i) => (r, i)))
        {
            await using var cmd = source.CreateCommand("""
                INSERT INTO tocsin.results (id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, message)
                VALUES (@id, @agent, @check, 'tcp', @state, @started, @started, @started, 5, @message)
                """);
            cmd.Parameters.AddWithValue("id", r.Id);
            cmd.Parameters.AddWithValue("agent", agent);
            cmd.Parameters.AddWithValue("check", r.CheckName);
            cmd.Parameters.AddWithValue("state", (short)r.State);
            cmd.Parameters.AddWithValue("started", r.StartedAt);
            cmd.Parameters.AddWithValue("message", r.Message);
            await cmd.ExecuteNonQueryAsync(Ct);
        }

        Assert.Equal(CentralDatabase.SchemaVersion, await db.MigrateAsync(Ct));

        var s = await StateAsync(source, "x");
        Assert.Equal((CheckState.CRITICAL, 1, "newest", agent, _t0.AddSeconds(2)), (s.State, s.ConsecutiveFailures, s.Message, s.AgentId, s.LastChange));
    }

    [Fact]
    public async Task Fleet_view_reads_every_agents_checks_from_the_central_database_and_shows_checks_without_a_row_as_pending()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var a = new SqliteOutbox(_folder.File("a.db"));
        using var b = new SqliteOutbox(_folder.File("b.db"));
        await ExportAsync(a, source, Result("on a", CheckState.OK, 1));
        await ExportAsync(b, source, Result("on b", CheckState.CRITICAL, 1, "refused"));
        var logger = new RecordingLogger<CheckStatusReader>();
        var reader = new CheckStatusReader(a, new CentralStatusReader(source), logger);

        var reading = await reader.ReadChecksAsync([Check("on a"), Check("on b"), Check("never ran"), Check("off", enabled: false)], Ct);

        Assert.Equal(StatusReport.SourceCentral, reading.Source);
        Assert.Null(reading.FallbackReason);
        Assert.All(reading.Checks, c => Assert.Equal(StatusReport.SourceCentral, c.Source));
        Assert.Equal(["on a", "on b", "never ran", "off"], reading.Checks.Select(c => c.Name));
        Assert.Equal(("OK", a.AgentId), (reading.Checks[0].State, reading.Checks[0].AgentId));
        Assert.Equal(("CRITICAL", b.AgentId, "refused", 1), (reading.Checks[1].State, reading.Checks[1].AgentId, reading.Checks[1].Message, reading.Checks[1].ConsecutiveFailures));
        Assert.Equal((StatusReport.Pending, (Guid?)null, (DateTimeOffset?)null), (reading.Checks[2].State, reading.Checks[2].AgentId, reading.Checks[2].LastRun));
        Assert.Equal((StatusReport.Pending, "disabled"), (reading.Checks[3].State, reading.Checks[3].Message));
        Assert.Empty(logger.Lines);
    }

    [Fact]
    public async Task Results_merge_the_central_rows_of_every_agent_with_this_agents_unexported_ones_each_once()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var a = new SqliteOutbox(_folder.File("a.db"));
        using var b = new SqliteOutbox(_folder.File("b.db"));
        await ExportAsync(a, source, Result("x", CheckState.OK, 1));
        await ExportAsync(b, source, Result("x", CheckState.OK, 2));
        a.WriteBatch([Result("x", CheckState.WARNING, 3)]);
        var reader = new CheckStatusReader(a, new CentralStatusReader(source), NullLogger<CheckStatusReader>.Instance);

        var reading = await reader.ReadResultsAsync("x", 10, Ct);

        Assert.Null(reading.FallbackReason);
        Assert.Equal(
            [(_t0.AddSeconds(3), a.AgentId, "local"), (_t0.AddSeconds(2), b.AgentId, "central"), (_t0.AddSeconds(1), a.AgentId, "central")],
            reading.Results.Select(r => (r.StartedAt, r.AgentId!.Value, r.Source)));
        Assert.Equal(2, (await reader.ReadResultsAsync("x", 2, Ct)).Results.Count);
    }

    [Fact]
    public async Task Result_pages_by_time_range_and_cursor_merge_central_and_local_rows_without_gaps_or_repeats()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var a = new SqliteOutbox(_folder.File("a.db"));
        using var b = new SqliteOutbox(_folder.File("b.db"));
        await ExportAsync(a, source, Result("x", CheckState.OK, 1), Result("x", CheckState.OK, 3), Result("x", CheckState.OK, 5));
        await ExportAsync(b, source, Result("x", CheckState.OK, 2), Result("x", CheckState.OK, 4), Result("x", CheckState.OK, 6));
        a.WriteBatch([Result("x", CheckState.WARNING, 7), Result("x", CheckState.WARNING, 8)]);
        var reader = new CheckStatusReader(a, new CentralStatusReader(source), NullLogger<CheckStatusReader>.Instance);

        var seconds = new List<int>();
        ResultPosition? before = null;
        for (int page = 0; page < 10; page++)
        {
            var reading = await reader.ReadResultsAsync("x", new ResultQuery(2, _t0.AddSeconds(2), _t0.AddSeconds(8), before), Ct);
            Assert.Null(reading.FallbackReason);
            seconds.AddRange(reading.Results.Select(r => (int)Math.Round((r.StartedAt - _t0).TotalSeconds)));
            if (reading.Results.Count < 2)
            {
                break;
            }

            before = new ResultPosition(reading.Results[^1].StartedAt, reading.Results[^1].Id);
        }

        Assert.Equal([7, 6, 5, 4, 3, 2], seconds);
    }

    [Fact]
    public async Task Fleet_view_adds_this_agents_hard_state_and_uptime_to_the_central_rows()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var a = new SqliteOutbox(_folder.File("a.db"));
        using var b = new SqliteOutbox(_folder.File("b.db"));
        await ExportAsync(a, source, Result("mine", CheckState.CRITICAL, 1), Result("mine", CheckState.CRITICAL, 2));
        await ExportAsync(b, source, Result("theirs", CheckState.OK, 1));
        var reader = new CheckStatusReader(a, new CentralStatusReader(source), NullLogger<CheckStatusReader>.Instance);

        var reading = await reader.ReadChecksAsync([Check("mine") with { Thresholds = new Tocsin.State.StateThresholds(2, 1) }, Check("theirs")], Ct);

        Assert.Equal(StatusReport.SourceCentral, reading.Source);
        var mine = reading.Checks[0];
        Assert.Equal(("CRITICAL", "CRITICAL", "HARD", 2, 0.0), (mine.SoftState, mine.HardState, mine.StateType, mine.FailureThreshold, mine.Uptime24h));
        Assert.NotNull(mine.OpenIncidentId);
        var theirs = reading.Checks[1];
        Assert.Equal(("OK", b.AgentId), (theirs.State, theirs.AgentId));
        Assert.Null(theirs.HardState);
        Assert.Null(theirs.Uptime24h);
        Assert.Equal(1, theirs.FailureThreshold);
    }

    [Fact]
    public async Task Unreachable_central_database_falls_back_to_the_local_outbox_marked_local_and_warns_once()
    {
        using var outbox = new SqliteOutbox(_folder.File("a.db"));
        outbox.WriteBatch([Result("x", CheckState.CRITICAL, 1)]);
        // Nothing listens on the port of a stopped listener: connection refused.
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        await using var source = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Username=u;Password=hunter2-secret;Database=d;Timeout=2");
        var logger = new RecordingLogger<CheckStatusReader>();
        var reader = new CheckStatusReader(outbox, new CentralStatusReader(source), logger);

        var first = await reader.ReadChecksAsync([Check("x"), Check("y")], Ct);
        var second = await reader.ReadChecksAsync([Check("x")], Ct);
        var results = await reader.ReadResultsAsync("x", 5, Ct);

        Assert.Equal(StatusReport.SourceLocal, first.Source);
        Assert.NotNull(first.FallbackReason);
        Assert.DoesNotContain("hunter2", first.FallbackReason, StringComparison.Ordinal);
        Assert.All(first.Checks, c => Assert.Equal(StatusReport.SourceLocal, c.Source));
        Assert.Equal(("CRITICAL", outbox.AgentId), (first.Checks[0].State, first.Checks[0].AgentId));
        Assert.Equal(StatusReport.Pending, first.Checks[1].State);
        Assert.Equal(StatusReport.SourceLocal, second.Source);
        Assert.Equal("local", Assert.Single(results.Results).Source);
        Assert.NotNull(results.FallbackReason);
        var warning = Assert.Single(logger.Lines);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.DoesNotContain("hunter2", warning.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Central_database_that_accepts_but_never_answers_falls_back_to_local_after_the_central_timeout()
    {
        using var outbox = new SqliteOutbox(_folder.File("a.db"));
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        int port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var accepted = Task.Run(async () =>
        {
            using var socket = await silent.AcceptSocketAsync(Ct);
            await Task.Delay(Timeout.Infinite, Ct);
        }, Ct);
        await using var source = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Username=u;Database=d;Timeout=60");
        var reader = new CheckStatusReader(outbox, new CentralStatusReader(source), NullLogger<CheckStatusReader>.Instance)
        {
            CentralTimeout = TimeSpan.FromMilliseconds(500),
        };

        var started = System.Diagnostics.Stopwatch.StartNew();
        var reading = await reader.ReadChecksAsync([Check("x")], Ct);

        Assert.Equal(StatusReport.SourceLocal, reading.Source);
        Assert.Equal("the central database did not answer in time", reading.FallbackReason);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"took {started.Elapsed}");
    }

    [Fact]
    public async Task Central_database_without_check_states_falls_back_to_local_and_says_the_schema_is_older()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("a.db"));
        var reader = new CheckStatusReader(outbox, new CentralStatusReader(source), NullLogger<CheckStatusReader>.Instance);

        var reading = await reader.ReadChecksAsync([Check("x")], Ct);

        Assert.Equal(StatusReport.SourceLocal, reading.Source);
        Assert.Contains("schema older than version 2", reading.FallbackReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_failure_reads_stay_local_for_the_retry_period_then_use_the_central_database_again()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        using var outbox = new SqliteOutbox(_folder.File("a.db"));
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var logger = new RecordingLogger<CheckStatusReader>();
        var reader = new CheckStatusReader(outbox, new CentralStatusReader(source), logger, time);

        Assert.Equal(StatusReport.SourceLocal, (await reader.ReadChecksAsync([Check("x")], Ct)).Source);
        await new CentralDatabase(source).MigrateAsync(Ct);
        var meanwhile = await reader.ReadChecksAsync([Check("x")], Ct);
        time.Advance(reader.RetryCentralAfter);
        var after = await reader.ReadChecksAsync([Check("x")], Ct);

        Assert.Equal(StatusReport.SourceLocal, meanwhile.Source);
        Assert.Contains("schema older than version 2", meanwhile.FallbackReason, StringComparison.Ordinal);
        Assert.Equal(StatusReport.SourceCentral, after.Source);
        Assert.Null(after.FallbackReason);
        Assert.Equal([LogLevel.Warning, LogLevel.Information], logger.Lines.Select(l => l.Level));
    }

    /// <summary>Keeps every log line written through it.</summary>
    private sealed class RecordingLogger<T> : ILogger<T>
    {
        public List<(LogLevel Level, string Text)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
