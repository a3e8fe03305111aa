using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Checks.Tcp;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Alerting;

public sealed class AlertingConfigTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static TocsinConfig Parse(string json) => Loader.Parse(json, "/etc/tocsin/config.json");

    private static List<string> Errors(string json) =>
        [.. Assert.Throws<ConfigException>(() => Parse(json)).Errors.Select(e => e.ToString())];

    [Fact]
    public void Check_fields_and_defaults_are_read()
    {
        var config = Parse("""
            {
              "defaults": { "renotifyInterval": "1h" },
              "maintenance": [{ "name": "nightly", "schedule": "0 2 * * *", "duration": "1h", "tags": ["db"] },
                              { "from": "2026-12-01T22:00:00Z", "to": "2026-12-01T23:30:00+01:00", "checks": ["db"] }],
              "checks": [
                { "name": "db", "kind": "tcp", "host": "localhost", "port": 5432 },
                { "name": "app", "kind": "tcp", "host": "localhost", "port": 80, "dependsOn": "db", "renotifyInterval": "never",
                  "slowResponse": { "p95Above": "800ms" } }
              ]
            }
            """);
        var app = config.Checks.Single(c => c.Name == "app");
        Assert.Equal(["db"], app.Alerting.DependsOn);
        Assert.Null(app.Alerting.RenotifyInterval);
        Assert.Equal(TimeSpan.FromHours(1), config.Checks[0].Alerting.RenotifyInterval);
        Assert.Equal(new SlowResponseRule(TimeSpan.FromMilliseconds(800), TimeSpan.FromMinutes(10), 5), app.SlowResponse);
        Assert.Equal(2, config.Maintenance.Count);
        Assert.Equal(TimeSpan.FromHours(1), config.Maintenance[0].Duration);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 22, 30, 0, TimeSpan.Zero), config.Maintenance[1].To);
    }

    [Fact]
    public void References_to_unknown_channels_and_checks_and_cycles_are_errors()
    {
        var errors = Errors("""
            {
              "maintenance": [{ "from": "2026-12-01T22:00:00Z", "to": "2026-12-01T23:00:00Z", "checks": ["nope"] }],
              "checks": [
                { "name": "a", "kind": "tcp", "host": "localhost", "port": 1, "notify": ["pager"], "dependsOn": ["b"] },
                { "name": "b", "kind": "tcp", "host": "localhost", "port": 1, "dependsOn": "a", "escalation": [{ "after": "1h", "notify": ["boss"] }] },
                { "name": "c", "kind": "tcp", "host": "localhost", "port": 1, "dependsOn": ["c", "zzz"] }
              ]
            }
            """);
        Assert.Contains(errors, e => e.Contains("field \"notify\" = \"pager\": unknown channel; none is configured in \"notifications\"", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("field \"escalation\" = \"boss\": unknown channel", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("\"dependsOn\" = \"b\": makes a cycle", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("\"dependsOn\" = \"c\": a check cannot depend on itself", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("\"dependsOn\" = \"zzz\": no check has this name", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("maintenance[0]: field \"checks\" = \"nope\": no check has this name", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{ "schedule": "0 2 * * *" }""", "field \"duration\": is required with \"schedule\"")]
    [InlineData("""{ "schedule": "61 * * * *", "duration": "1h" }""", "not a valid cron expression")]
    [InlineData("""{ "from": "2026-12-01T22:00:00" , "to": "2026-12-01T23:00:00Z" }""", "must be an ISO 8601 time with an offset")]
    [InlineData("""{ "from": "2026-12-01T22:00:00Z", "to": "2026-12-01T21:00:00Z" }""", "must be after \"from\"")]
    [InlineData("""{ "from": "2026-12-01T22:00:00Z" }""", "field \"to\": is required")]
    [InlineData("""{ "checks": ["a"] }""", "a window needs \"schedule\" (cron) + \"duration\", or \"from\" + \"to\"")]
    [InlineData("""{ "schedule": "0 2 * * *", "duration": "1h", "when": 1 }""", "field \"when\" = 1: unknown field")]
    public void Bad_maintenance_windows_are_named(string window, string expected)
    {
        var errors = Errors($$"""{ "maintenance": [{{window}}], "checks": [{ "name": "a", "kind": "tcp", "host": "localhost", "port": 1 }] }""");
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{ "renotifyInterval": "10s" }""", "renotifyInterval")]
    [InlineData("""{ "escalation": [{ "after": "30m" }] }""", "field \"escalation[0].notify\": is required")]
    [InlineData("""{ "escalation": [{ "notify": "x" }] }""", "field \"escalation[0].after\": is required")]
    [InlineData("""{ "escalation": {} }""", "must be an array of steps")]
    [InlineData("""{ "slowResponse": { "window": "5m" } }""", "field \"slowResponse.p95Above\": is required")]
    [InlineData("""{ "slowResponse": { "p95Above": "fast" } }""", "slowResponse.p95Above")]
    [InlineData("""{ "notify": "" }""", "must be a name or a list of names")]
    public void Bad_check_alerting_fields_are_named(string fields, string expected)
    {
        string check = """{ "name": "a", "kind": "tcp", "host": "localhost", "port": 1, """ + fields.TrimStart('{');
        var errors = Errors($$"""{ "checks": [{{check}}] }""");
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Notifications_need_a_known_type_and_a_unique_name()
    {
        var errors = Errors("""{ "notifications": [{ "name": "ops", "type": "carrier-pigeon" }, { "type": "webhook" }, "x"] }""");
        Assert.Contains(errors, e => e.Contains("notifications[0] \"ops\": field \"type\" = \"carrier-pigeon\": unknown channel type; allowed:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("notifications[1]: field \"name\": is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("notifications[2]", StringComparison.Ordinal));
    }

    [Fact]
    public void Slow_runs_turn_ok_into_warning_once_the_window_has_enough()
    {
        var check = new CheckDefinition("site", "tcp", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), new TcpCheckOptions("localhost", 1))
        {
            SlowResponse = new SlowResponseRule(TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(1), 3),
        };
        var tracker = new SlowResponseTracker();
        var t = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        var ok = new RunOutcome(CheckState.OK, "connected");
        Assert.Equal(CheckState.OK, tracker.Apply(check, ok, 900, t).State); // 1 run: too few
        Assert.Equal(CheckState.OK, tracker.Apply(check, ok, 900, t.AddSeconds(10)).State);
        var slow = tracker.Apply(check, ok, 100, t.AddSeconds(20));
        Assert.Equal(CheckState.WARNING, slow.State);
        Assert.StartsWith("slow: p95 900 ms over the last 1m (3 runs) is above 500 ms; connected", slow.Message, StringComparison.Ordinal);
        Assert.Equal(900, (double)slow.Details!["slowP95Ms"]!);

        // A failure is left as it is; once the slow runs leave the window, OK again.
        Assert.Equal(CheckState.CRITICAL, tracker.Apply(check, new RunOutcome(CheckState.CRITICAL, "refused"), 5, t.AddSeconds(30)).State);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(CheckState.WARNING, tracker.Apply(check, ok, 100, t.AddSeconds(40 + i)).State);
        }

        Assert.Equal(CheckState.OK, tracker.Apply(check, ok, 100, t.AddSeconds(75)).State);
    }
}
