using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.State;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.State;

/// <summary>State tracking as the outbox stores it: real SQLite files in a temp folder, reopened like a restart.</summary>
public sealed class StatePersistenceTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string DatabasePath => _folder.File("local.db");

    private static CheckResult Result(string check, CheckState state, double second, double durationMs = 10)
    {
        var started = T0.AddSeconds(second);
        return new CheckResult(Guid.CreateVersion7(started), check, "http", state, started, started, started.AddMilliseconds(durationMs),
            durationMs, null, $"{state} at {second}", null);
    }

    private static Func<string, StateThresholds> Thresholds(int failure, int success) => _ => new StateThresholds(failure, success);

    [Fact]
    public void Hard_state_changes_and_an_incident_are_stored_with_the_results_in_one_batch()
    {
        using var outbox = new SqliteOutbox(DatabasePath);

        outbox.WriteBatch([Result("site", CheckState.OK, 0), Result("site", CheckState.CRITICAL, 1), Result("site", CheckState.CRITICAL, 2)], Thresholds(2, 1));

        var state = outbox.ReadTrackedStates()["site"];
        Assert.Equal((CheckState.CRITICAL, CheckState.CRITICAL, 2, T0.AddSeconds(2)), (state.SoftState, state.HardState, state.ConsecutiveFailures, state.HardChangeAt));
        var change = Assert.Single(outbox.ReadStateChanges(null, null, null, 10));
        Assert.Equal(("site", CheckState.OK, CheckState.CRITICAL, "CRITICAL at 2"), (change.CheckName, change.From, change.To, change.Message));
        var incident = Assert.Single(outbox.ReadIncidents("site", open: true, null, 10));
        Assert.Equal(change.IncidentId, incident.Id);
        Assert.Equal(T0.AddSeconds(1), incident.FailingSince);
        Assert.Equal(incident, state.OpenIncident);
        Assert.Empty(outbox.ReadIncidents("site", open: false, null, 10));
    }

    [Fact]
    public void Results_arriving_one_per_batch_give_the_same_states_as_one_batch()
    {
        var states = new[] { CheckState.OK, CheckState.WARNING, CheckState.CRITICAL, CheckState.CRITICAL, CheckState.OK, CheckState.OK, CheckState.UNKNOWN };
        var results = states.Select((s, i) => Result("site", s, i)).ToList();
        using var one = new SqliteOutbox(_folder.File("one.db"));
        using var many = new SqliteOutbox(_folder.File("many.db"));

        one.WriteBatch(results, Thresholds(2, 2));
        foreach (var r in results)
        {
            many.WriteBatch([r], Thresholds(2, 2));
        }

        Assert.Equal(Describe(one), Describe(many));
    }

    [Fact]
    public void Reopening_the_outbox_continues_an_open_incident_and_closes_it_on_recovery()
    {
        Guid incidentId;
        using (var outbox = new SqliteOutbox(DatabasePath))
        {
            outbox.WriteBatch([Result("api", CheckState.CRITICAL, 0), Result("api", CheckState.OK, 1)], Thresholds(1, 2));
            incidentId = Assert.Single(outbox.ReadIncidents(null, true, null, 10)).Id;
        }

        SqliteConnection.ClearAllPools();
        using (var reopened = new SqliteOutbox(DatabasePath))
        {
            var state = reopened.ReadTrackedStates()["api"];
            Assert.Equal((CheckState.OK, CheckState.CRITICAL, 1), (state.SoftState, state.HardState, state.ConsecutiveSuccesses));
            Assert.Equal(incidentId, state.OpenIncident!.Id);

            reopened.WriteBatch([Result("api", CheckState.WARNING, 2), Result("api", CheckState.OK, 3), Result("api", CheckState.OK, 4)], Thresholds(1, 2));

            var closed = Assert.Single(reopened.ReadIncidents("api", false, null, 10));
            Assert.Equal(incidentId, closed.Id);
            Assert.Equal((T0, T0.AddSeconds(4), CheckState.CRITICAL), (closed.OpenedAt, closed.ClosedAt, closed.WorstState));
            Assert.Equal(("CRITICAL at 0", "WARNING at 2"), (closed.FirstMessage, closed.LastMessage));
            Assert.Equal(TimeSpan.FromSeconds(4), closed.Duration);
            Assert.Equal(
                [(CheckState.OK, CheckState.CRITICAL), (CheckState.CRITICAL, CheckState.WARNING), (CheckState.WARNING, CheckState.OK)],
                reopened.ReadStateChanges("api", null, null, 10).Reverse().Select(c => (c.From, c.To)));
            Assert.Null(reopened.ReadTrackedStates()["api"].OpenIncident);
        }
    }

    [Fact]
    public void A_retried_batch_changes_no_state_or_count_twice()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var batch = new[] { Result("site", CheckState.CRITICAL, 0), Result("site", CheckState.CRITICAL, 1) };

        outbox.WriteBatch(batch);
        outbox.WriteBatch(batch);

        Assert.Equal(2, outbox.ReadTrackedStates()["site"].ConsecutiveFailures);
        Assert.Single(outbox.ReadStateChanges(null, null, null, 10));
        Assert.Equal(2, outbox.ReadHours("site", T0).Single().Runs);
    }

    [Fact]
    public void A_late_older_result_is_stored_and_counted_in_uptime_but_does_not_change_the_state()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        outbox.WriteBatch([Result("site", CheckState.OK, 10)]);

        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 5)]);

        var state = outbox.ReadTrackedStates()["site"];
        Assert.Equal((CheckState.OK, CheckState.OK), (state.SoftState, state.HardState));
        Assert.Empty(outbox.ReadStateChanges(null, null, null, 10));
        Assert.Equal(2, outbox.CountResults());
        Assert.Equal(50, outbox.ReadUptime(T0.AddMinutes(1))["site"].Percent24h);
    }

    [Fact]
    public void Uptime_counts_ok_and_warning_runs_as_up_over_24h_7d_and_30d()
    {
        using var outbox = new SqliteOutbox(DatabasePath) { UptimeCacheTime = TimeSpan.Zero };
        var now = T0;
        // 10 days ago: 4 CRITICAL runs; 3 days ago: 2 OK and 2 CRITICAL; 1 h ago: 3 OK, 1 WARNING (30 ms each).
        var results = Enumerable.Range(0, 4).Select(i => Result("db", CheckState.CRITICAL, (-10 * 86400) + i))
            .Concat(Enumerable.Range(0, 4).Select(i => Result("db", i < 2 ? CheckState.OK : CheckState.CRITICAL, (-3 * 86400) + i)))
            .Concat(Enumerable.Range(0, 4).Select(i => Result("db", i < 3 ? CheckState.OK : CheckState.WARNING, -3600 + i, 30)))
            .ToList();

        outbox.WriteBatch(results);
        var uptime = outbox.ReadUptime(now)["db"];

        Assert.Equal(100, uptime.Percent24h);
        Assert.Equal(4, uptime.Runs24h);
        Assert.Equal(30, uptime.AverageDurationMs24h);
        Assert.Equal(75, uptime.Percent7d);
        Assert.Equal(50, uptime.Percent30d);
        Assert.False(outbox.ReadUptime(now).ContainsKey("nobody"));
    }

    [Fact]
    public void Collector_deletes_results_past_retention_but_keeps_aggregates_and_incidents_until_35_days()
    {
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(DatabasePath) { UptimeCacheTime = TimeSpan.Zero };
        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 0), Result("site", CheckState.OK, 60)]);
        var collector = new Collector(outbox, new CollectorOptions { LocalRetention = TimeSpan.FromDays(1) }, time, NullLogger<Collector>.Instance);

        time.Advance(TimeSpan.FromDays(2));
        collector.CollectOnce();

        Assert.Equal(0, outbox.CountResults());
        Assert.Equal(50, outbox.ReadUptime(time.GetUtcNow())["site"].Percent7d);
        Assert.Single(outbox.ReadIncidents(null, null, null, 10));
        Assert.Equal(2, outbox.ReadStateChanges(null, null, null, 10).Count);
        Assert.Equal(CheckState.OK, outbox.ReadTrackedStates()["site"].HardState);

        time.Advance(TimeSpan.FromDays(34));
        collector.CollectOnce();

        Assert.Empty(outbox.ReadUptime(time.GetUtcNow()));
        Assert.Empty(outbox.ReadIncidents(null, null, null, 10));
        Assert.Empty(outbox.ReadStateChanges(null, null, null, 10));
        Assert.Equal(CheckState.OK, outbox.ReadTrackedStates()["site"].HardState);
    }

    [Fact]
    public void Hourly_aggregates_go_after_8_days_and_daily_ones_stay_for_the_30_day_uptime()
    {
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(DatabasePath) { UptimeCacheTime = TimeSpan.Zero };
        outbox.WriteBatch([Result("site", CheckState.OK, 0), Result("site", CheckState.CRITICAL, 60)]);
        var collector = new Collector(outbox, new CollectorOptions(), time, NullLogger<Collector>.Instance);

        time.Advance(TimeSpan.FromDays(9));
        collector.CollectOnce();

        Assert.Empty(outbox.ReadHours("site", T0.AddDays(-1)));
        var uptime = outbox.ReadUptime(time.GetUtcNow())["site"];
        Assert.Equal((null, null, 50.0, 0L), (uptime.Percent24h, uptime.Percent7d, uptime.Percent30d, uptime.Runs24h));
    }

    [Fact]
    public void Uptime_figures_are_reused_within_the_cache_time()
    {
        using var outbox = new SqliteOutbox(DatabasePath) { UptimeCacheTime = TimeSpan.FromSeconds(10) };
        outbox.WriteBatch([Result("site", CheckState.OK, 0)]);
        Assert.Equal(100, outbox.ReadUptime(T0.AddSeconds(1))["site"].Percent24h);

        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 2)]);

        Assert.Equal(100, outbox.ReadUptime(T0.AddSeconds(5))["site"].Percent24h);
        Assert.Equal(50, outbox.ReadUptime(T0.AddMinutes(5))["site"].Percent24h);
    }

    [Fact]
    public void An_open_incident_is_kept_past_35_days()
    {
        var time = new FakeTimeProvider(T0);
        using var outbox = new SqliteOutbox(DatabasePath);
        outbox.WriteBatch([Result("site", CheckState.CRITICAL, 0)]);
        var collector = new Collector(outbox, new CollectorOptions(), time, NullLogger<Collector>.Instance);

        time.Advance(TimeSpan.FromDays(40));
        collector.CollectOnce();

        Assert.Single(outbox.ReadIncidents(null, true, null, 10));
        Assert.NotNull(outbox.ReadTrackedStates()["site"].OpenIncident);
    }

    [Fact]
    public void Pages_of_incidents_state_changes_and_results_follow_their_cursors_newest_first()
    {
        using var outbox = new SqliteOutbox(DatabasePath);
        var results = Enumerable.Range(0, 10).Select(i => Result("site", i % 2 == 0 ? CheckState.CRITICAL : CheckState.OK, i)).ToList();
        outbox.WriteBatch(results);

        var first = outbox.ReadIncidents("site", null, null, 3);
        var second = outbox.ReadIncidents("site", null, first[^1].Id, 3);
        Assert.Equal(5, outbox.ReadIncidents(null, null, null, 100).Count);
        Assert.Equal([T0.AddSeconds(8), T0.AddSeconds(6), T0.AddSeconds(4)], first.Select(i => i.OpenedAt));
        Assert.Equal([T0.AddSeconds(2), T0], second.Select(i => i.OpenedAt));

        var changes = outbox.ReadStateChanges("site", T0.AddSeconds(5), null, 100);
        Assert.Equal([9, 8, 7, 6, 5], changes.Select(c => (int)(c.At - T0).TotalSeconds));

        var page1 = outbox.ReadResults("site", T0.AddSeconds(2), T0.AddSeconds(8), null, 4);
        var last = page1[^1];
        var page2 = outbox.ReadResults("site", T0.AddSeconds(2), T0.AddSeconds(8), new ResultPosition(last.StartedAt, last.Id), 4);
        Assert.Equal([7, 6, 5, 4], page1.Select(r => (int)(r.StartedAt - T0).TotalSeconds));
        Assert.Equal([3, 2], page2.Select(r => (int)(r.StartedAt - T0).TotalSeconds));
        Assert.Equal(results[3], outbox.ReadResult("site", results[3].Id));
        Assert.Null(outbox.ReadResult("other", results[3].Id));
    }

    [Fact]
    public void A_version_1_outbox_is_upgraded_keeping_each_check_state_as_its_hard_state()
    {
        using (var c = new SqliteConnection($"Data Source={DatabasePath}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = SqliteSchema.CreateMigrationsTable + SqliteSchema.Migrations[0].Sql + """
                INSERT INTO schema_migrations VALUES (1, 'v1', '2026-01-01');
                INSERT INTO results (id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, message)
                VALUES ('0190a000-0000-7000-8000-000000000001', 'old', 'tcp', 2, 1000, 1000, 1010, 10, 'refused');
                INSERT INTO check_states VALUES ('old', 'tcp', 2, '0190a000-0000-7000-8000-000000000001', 1000, 10, 'refused', 3, 0, 900);
                """;
            cmd.ExecuteNonQuery();
        }

        SqliteConnection.ClearAllPools();
        using var outbox = new SqliteOutbox(DatabasePath);

        var state = outbox.ReadTrackedStates()["old"];
        Assert.Equal((CheckState.CRITICAL, CheckState.CRITICAL, 3), (state.SoftState, state.HardState, state.ConsecutiveFailures));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(900), state.HardChangeAt);
        Assert.Equal(1, outbox.ReadHours("old", DateTimeOffset.UnixEpoch).Single().Runs);

        outbox.WriteBatch([new CheckResult(Guid.CreateVersion7(T0), "old", "tcp", CheckState.OK, T0, T0, T0, 1, null, "open", null)]);
        var change = Assert.Single(outbox.ReadStateChanges("old", null, null, 10));
        Assert.Equal((CheckState.CRITICAL, CheckState.OK), (change.From, change.To));
    }

    private static string Describe(SqliteOutbox outbox)
    {
        var s = outbox.ReadTrackedStates()["site"];
        var changes = outbox.ReadStateChanges(null, null, null, 100).Select(c => $"{c.From}>{c.To}@{c.At:O}");
        var incidents = outbox.ReadIncidents(null, null, null, 100).Select(i => $"{i.OpenedAt:O}-{i.ClosedAt:O} {i.WorstState} {i.FailedRuns}");
        return $"{s with { OpenIncident = null }} | {string.Join(",", changes)} | {string.Join(",", incidents)}";
    }
}
