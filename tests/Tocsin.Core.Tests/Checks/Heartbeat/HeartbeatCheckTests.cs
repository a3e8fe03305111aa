using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Checks.Heartbeat;
using Tocsin.Configuration;
using Tocsin.Scheduling;
using Tocsin.Status;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Core.Tests.Checks.Heartbeat;

/// <summary>The <c>heartbeat</c> kind: deadlines, pings, durability, tokens, configuration.</summary>
public sealed class HeartbeatCheckTests
{
    private const string Token = "0123456789abcdef0123456789abcdef";

    private static readonly DateTimeOffset T0 = new(2026, 3, 10, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static TocsinConfig ParseConfig(string checks, string extra = "") =>
        Loader.Parse($$"""{ {{extra}} "checks": [ {{checks}} ] }""", "/tocsin-tests/config.json");

    private static CheckDefinition Check(string fields, string token = Token, string extra = "") =>
        Assert.Single(ParseConfig($$"""{ "name": "nightly-backup", "kind": "heartbeat", "token": "{{token}}", {{fields}} }""", extra).Checks);

    private sealed class Harness
    {
        public Harness(IHeartbeatStore? store = null)
        {
            Pings = new HeartbeatPings(Time, store);
            Kind = new HeartbeatCheckKind(Time, Pings);
        }

        public FakeTimeProvider Time { get; } = new(T0);

        public HeartbeatPings Pings { get; }

        public HeartbeatCheckKind Kind { get; }

        public ListSink Sink { get; } = new();

        public Task<RunOutcome> RunAsync(CheckDefinition check) => Kind.RunAsync(check, Ct);

        public Task<CheckResult?> PingAsync(CheckDefinition check, HeartbeatPing ping, string? body = null) =>
            Pings.ReceiveAsync(check, ping, body, false, Sink, Ct);
    }

    internal sealed class ListSink : IResultSink
    {
        private readonly ConcurrentQueue<CheckResult> _results = new();

        public IReadOnlyList<CheckResult> Results => [.. _results];

        public ValueTask WriteAsync(CheckResult result, CancellationToken cancellationToken)
        {
            _results.Enqueue(result);
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task Check_that_never_reports_waits_for_the_first_ping_then_turns_CRITICAL_after_period_plus_grace()
    {
        var h = new Harness();
        var check = Check("""  "period": "1d", "grace": "1h" """);

        var first = await h.RunAsync(check);
        Assert.Equal(CheckState.OK, first.State);
        Assert.StartsWith("waiting for the first ping", first.Message, StringComparison.Ordinal);

        h.Time.Advance(TimeSpan.FromHours(25)); // exactly period + grace: not yet late
        Assert.Equal(CheckState.OK, (await h.RunAsync(check)).State);

        h.Time.Advance(TimeSpan.FromSeconds(1));
        var late = await h.RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, late.State);
        Assert.Equal("no ping since the check was first seen at 2026-03-10T00:00:00Z (1d1h1s ago); expected every 1d + 1h grace", late.Message);
        Assert.Empty(h.Sink.Results); // runs make outcomes for the executor, not results of their own
    }

    [Fact]
    public async Task Success_on_time_keeps_the_check_OK_and_a_missed_one_turns_it_CRITICAL_after_the_grace()
    {
        var h = new Harness();
        var check = Check("""  "period": "1d", "grace": "1h" """);
        await h.RunAsync(check);
        h.Time.Advance(TimeSpan.FromHours(2));

        var ok = await h.PingAsync(check, HeartbeatPing.Success, "backup done\n42 files");
        Assert.NotNull(ok);
        Assert.Equal(CheckState.OK, ok.State);
        Assert.Equal("job reported success", ok.Message);
        Assert.Equal(0, ok.DurationMs);
        Assert.Equal("success", (string)ok.Details!["ping"]!);
        Assert.Equal("backup done\n42 files", (string)ok.Details["body"]!);
        Assert.Equal(h.Time.GetUtcNow(), ok.StartedAt);
        Assert.Equal("heartbeat", ok.Kind);
        Assert.Same(ok, Assert.Single(h.Sink.Results));

        h.Time.Advance(TimeSpan.FromHours(12));
        var onTime = await h.RunAsync(check);
        Assert.Equal(CheckState.OK, onTime.State);
        Assert.Equal("last success at 2026-03-10T02:00:00Z (12h ago), next expected by 2026-03-11T02:00:00Z + 1h grace", onTime.Message);

        h.Time.Advance(TimeSpan.FromMinutes(12 * 60 + 30)); // 30 min overdue, within the grace
        var overdue = await h.RunAsync(check);
        Assert.Equal(CheckState.OK, overdue.State);
        Assert.Contains("overdue since 2026-03-11T02:00:00Z", overdue.Message, StringComparison.Ordinal);

        h.Time.Advance(TimeSpan.FromMinutes(31));
        var late = await h.RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, late.State);
        Assert.Equal("late: last success at 2026-03-10T02:00:00Z (1d1h1m ago), expected every 1d + 1h grace", late.Message);

        await h.PingAsync(check, HeartbeatPing.Success);
        Assert.Equal(CheckState.OK, (await h.RunAsync(check)).State);
    }

    [Fact]
    public async Task Fail_ping_writes_a_CRITICAL_result_at_once_and_runs_stay_CRITICAL_until_a_success()
    {
        var h = new Harness();
        var check = Check("""  "period": "1h", "grace": "5m" """);

        var failed = await h.PingAsync(check, HeartbeatPing.Fail, "\n  pg_dump: connection refused  \nmore detail");
        Assert.NotNull(failed);
        Assert.Equal(CheckState.CRITICAL, failed.State);
        Assert.Equal("job reported failure: pg_dump: connection refused", failed.Message);
        Assert.Equal("fail", (string)failed.Details!["ping"]!);
        Assert.Same(failed, Assert.Single(h.Sink.Results));

        h.Time.Advance(TimeSpan.FromMinutes(1));
        var run = await h.RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, run.State);
        Assert.Equal("job reported failure at 2026-03-10T00:00:00Z (1m ago): pg_dump: connection refused", run.Message);

        // A new start does not clear the failure; a success does.
        await h.PingAsync(check, HeartbeatPing.Start);
        Assert.Equal(CheckState.CRITICAL, (await h.RunAsync(check)).State);
        h.Time.Advance(TimeSpan.FromMinutes(2));
        await h.PingAsync(check, HeartbeatPing.Success);
        Assert.Equal(CheckState.OK, (await h.RunAsync(check)).State);
    }

    [Fact]
    public async Task Start_without_a_success_within_the_grace_turns_CRITICAL()
    {
        var h = new Harness();
        var check = Check("""  "period": "1d", "grace": "30m" """);
        await h.PingAsync(check, HeartbeatPing.Success);
        h.Time.Advance(TimeSpan.FromHours(23));

        Assert.Null(await h.PingAsync(check, HeartbeatPing.Start));
        Assert.Single(h.Sink.Results); // a start makes no result
        h.Time.Advance(TimeSpan.FromMinutes(30));
        var running = await h.RunAsync(check);
        Assert.Equal(CheckState.OK, running.State);
        Assert.Equal("started at 2026-03-10T23:00:00Z (30m ago), running; success expected by 2026-03-10T23:30:00Z", running.Message);

        h.Time.Advance(TimeSpan.FromSeconds(1));
        var stuck = await h.RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, stuck.State);
        Assert.Equal("started at 2026-03-10T23:00:00Z (30m1s ago), no success within the 30m grace", stuck.Message);
    }

    [Fact]
    public async Task Start_then_success_records_the_run_duration()
    {
        var h = new Harness();
        var check = Check("""  "period": "1d" """);
        await h.PingAsync(check, HeartbeatPing.Start);
        h.Time.Advance(TimeSpan.FromSeconds(754.5));

        var done = await h.PingAsync(check, HeartbeatPing.Success);
        Assert.NotNull(done);
        Assert.Equal(754_500, done.DurationMs);
        Assert.Equal("job reported success after running 12m35s", done.Message);
        Assert.Equal(T0, DateTimeOffset.Parse((string)done.Details!["startedAt"]!, System.Globalization.CultureInfo.InvariantCulture));

        // A second success has no pending start: no duration.
        h.Time.Advance(TimeSpan.FromMinutes(1));
        var again = await h.PingAsync(check, HeartbeatPing.Success);
        Assert.Equal(0, again!.DurationMs);
        Assert.Null(again.Details!["startedAt"]);

        // A start older than period + grace belongs to another run.
        await h.PingAsync(check, HeartbeatPing.Start);
        h.Time.Advance(TimeSpan.FromHours(26));
        Assert.Equal(0, (await h.PingAsync(check, HeartbeatPing.Success))!.DurationMs);
    }

    [Fact]
    public async Task Cron_schedule_expects_the_first_occurrence_after_the_last_success_in_the_configured_time_zone()
    {
        var h = new Harness();
        // 02:00 in Paris is 01:00 UTC in March (CET, before the change of 29 March 2026).
        var check = Check("""  "schedule": "0 2 * * *", "grace": "1h" """, extra: """ "timeZone": "Europe/Paris", """);
        var options = Assert.IsType<HeartbeatCheckOptions>(check.Options);
        Assert.Null(options.Period);
        Assert.Equal("push, cron 0 2 * * * (Europe/Paris) + 1h grace", h.Kind.Describe(options));

        h.Time.SetUtcNow(new DateTimeOffset(2026, 3, 10, 1, 5, 0, TimeSpan.Zero));
        await h.PingAsync(check, HeartbeatPing.Success);

        h.Time.SetUtcNow(new DateTimeOffset(2026, 3, 11, 1, 59, 0, TimeSpan.Zero)); // 02:59 Paris: 59 min after the occurrence
        var within = await h.RunAsync(check);
        Assert.Equal(CheckState.OK, within.State);
        Assert.Equal("2026-03-11T01:00:00Z", (string)within.Details!["expectedAt"]!);

        h.Time.SetUtcNow(new DateTimeOffset(2026, 3, 11, 2, 0, 1, TimeSpan.Zero));
        var late = await h.RunAsync(check);
        Assert.Equal(CheckState.CRITICAL, late.State);
        Assert.Equal("late: last success at 2026-03-10T01:05:00Z (1d55m1s ago), expected at 2026-03-11T01:00:00Z (cron 0 2 * * * (Europe/Paris) + 1h grace)", late.Message);
    }

    [Fact]
    public async Task Pings_survive_a_restart_in_the_outbox_file()
    {
        using var folder = new TempFolder();
        string path = folder.File("outbox.db");
        var check = Check("""  "period": "1d", "grace": "1h" """);
        var restartAt = T0 + TimeSpan.FromHours(3);
        using (var outbox = new SqliteOutbox(path))
        {
            var h = new Harness(outbox);
            await h.RunAsync(check); // first seen at T0
            h.Time.Advance(TimeSpan.FromHours(1));
            await h.PingAsync(check, HeartbeatPing.Fail, "disk full");
            h.Time.Advance(TimeSpan.FromHours(1));
            await h.PingAsync(check, HeartbeatPing.Start);
        }

        using (var outbox = new SqliteOutbox(path))
        {
            var h = new Harness(outbox);
            h.Time.SetUtcNow(restartAt);
            var record = h.Pings.Find(check.Name);
            Assert.NotNull(record);
            Assert.Equal(T0, record.FirstSeenAt);
            Assert.Equal(T0 + TimeSpan.FromHours(1), record.LastFailAt);
            Assert.Equal("disk full", record.LastFailMessage);
            Assert.Equal(T0 + TimeSpan.FromHours(2), record.LastStartAt);
            Assert.Null(record.LastSuccessAt);
            Assert.Equal(CheckState.CRITICAL, (await h.RunAsync(check)).State);

            // The start from before the restart still times the run.
            var done = await h.PingAsync(check, HeartbeatPing.Success);
            Assert.Equal(TimeSpan.FromHours(1).TotalMilliseconds, done!.DurationMs);
        }

        using (var outbox = new SqliteOutbox(path))
        {
            var h = new Harness(outbox);
            h.Time.SetUtcNow(restartAt + TimeSpan.FromHours(24)); // 1 d after the success: within the grace
            var run = await h.RunAsync(check);
            Assert.Equal(CheckState.OK, run.State);
            Assert.StartsWith("last success at 2026-03-10T03:00:00Z", run.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Tokens_are_found_only_when_exact_and_never_shown()
    {
        var config = ParseConfig($$"""
            { "name": "a", "kind": "heartbeat", "period": "1d", "token": "{{Token}}" },
            { "name": "b", "kind": "heartbeat", "period": "1h", "token": "{{Token}}-b" },
            { "name": "c", "kind": "tcp", "host": "127.0.0.1", "port": 1 }
            """);
        var snapshot = new CheckCatalog(config.Checks).Current;

        Assert.Equal("a", HeartbeatTokens.Find(snapshot, Token)?.Name);
        Assert.Equal("b", HeartbeatTokens.Find(snapshot, Token + "-b")?.Name);
        foreach (string wrong in new[] { "", Token[..^1], Token.ToUpperInvariant(), Token + "x", "../" + Token, new string('a', 5000) })
        {
            Assert.Null(HeartbeatTokens.Find(snapshot, wrong));
        }

        var a = config.Checks[0];
        var lines = DefinitionView.Lines(a);
        Assert.Contains(new KeyValuePair<string, string>("token", Secrets.Mask), lines);
        Assert.Contains(new KeyValuePair<string, string>("period", "1d"), lines);
        Assert.Contains(new KeyValuePair<string, string>("grace", "1h"), lines);
        Assert.DoesNotContain(lines, l => l.Value.Contains(Token, StringComparison.Ordinal));
        Assert.DoesNotContain(Token, a.Options.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Token, a.ToString(), StringComparison.Ordinal);
        Assert.Equal("push, every 1d + 1h grace", new HeartbeatCheckKind(TimeProvider.System).Describe(a.Options));
    }

    [Fact]
    public void Token_may_come_from_an_environment_variable_and_grace_defaults_to_one_hour()
    {
        string variable = "TOCSIN_TEST_HEARTBEAT_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, Token + "\n");
        try
        {
            var check = Assert.Single(ParseConfig($$"""{ "name": "x", "kind": "heartbeat", "period": "6h", "tokenEnv": "{{variable}}" }""").Checks);
            var options = Assert.IsType<HeartbeatCheckOptions>(check.Options);
            Assert.Equal(Token, options.Token);
            Assert.Equal(TimeSpan.FromHours(1), options.Grace);
            Assert.Equal(TimeSpan.FromHours(6), options.Period);
            Assert.Equal(ConfigLoader.DefaultInterval, check.Interval);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Theory]
    [InlineData("""{ "name": "x", "kind": "heartbeat", "period": "1d", "token": "tooShort123" }""", "token", "22 to 200 characters")]
    [InlineData("""{ "name": "x", "kind": "heartbeat", "period": "1d", "token": "0123456789abcdef01234567 89" }""", "token", "22 to 200 characters")]
    [InlineData("""{ "name": "x", "kind": "heartbeat", "period": "1d" }""", "token", "is required")]
    [InlineData("""{ "name": "x", "kind": "heartbeat", "period": "1d", "schedule": "0 2 * * *", "token": "0123456789abcdef0123456789abcdef" }""", "schedule", "give only one of \"period\"")]
    [InlineData("""{ "name": "x", "kind": "heartbeat", "token": "0123456789abcdef0123456789abcdef" }""", "period", "is required")]
    [InlineData("""{ "name": "x", "kind": "heartbeat", "schedule": "0 2 * *", "token": "0123456789abcdef0123456789abcdef" }""", "schedule", "is not a cron expression")]
    [InlineData("""{ "name": "x", "kind": "heartbeat", "period": "10s", "token": "0123456789abcdef0123456789abcdef" }""", "period", "must be from 1m")]
    public void Invalid_heartbeat_configuration_is_refused_naming_the_field_without_showing_the_token(string check, string field, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => ParseConfig(check));
        var error = Assert.Single(ex.Errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(problem, error.Problem, StringComparison.Ordinal);
        Assert.DoesNotContain("tooShort123", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("0123456789abcdef", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_checks_with_the_same_token_are_refused_without_showing_it()
    {
        var ex = Assert.Throws<ConfigException>(() => ParseConfig($$"""
            { "name": "a", "kind": "heartbeat", "period": "1d", "token": "{{Token}}" },
            { "name": "b", "kind": "heartbeat", "period": "1d", "token": "{{Token}}" }
            """));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("checks[1] \"b\"", error.Location);
        Assert.Equal("token", error.Field);
        Assert.Contains("the same as the token of checks[0] \"a\"", error.Problem, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, ex.Message, StringComparison.Ordinal);
    }
}
