using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Ingestion;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>The <c>ingestion</c> section and seed 002's LOGS_TIMEWINDOW / CLEANUP_INTERVAL.</summary>
public sealed class IngestionOptionsTests
{
    private static TocsinConfig Load(string json, Dictionary<string, string>? env = null) =>
        new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)) { Environment = n => env?.GetValueOrDefault(n) }
            .Parse(json, "/tocsin-tests/config.json");

    private static List<string> Errors(string json, Dictionary<string, string>? env = null) =>
        [.. Assert.Throws<ConfigException>(() => Load(json, env)).Errors.Select(e => e.ToString())];

    [Fact]
    public void Defaults_keep_logs_a_week_and_notifications_a_month_next_to_the_local_database()
    {
        var config = Load("""{ "localDatabasePath": "/var/lib/tocsin/local.db" }""");
        var o = config.Ingestion;
        Assert.True(o.Enabled);
        Assert.Equal(TimeSpan.FromDays(7), o.LogRetention);
        Assert.Equal(TimeSpan.FromDays(30), o.NotificationRetention);
        Assert.Equal(TimeSpan.FromMinutes(1), o.CleanupInterval);
        Assert.Equal(1 << 20, o.MaxFrameBytes);
        Assert.Equal(Path.GetFullPath("/var/lib/tocsin/local.ingestion.db"), Path.GetFullPath(o.SqlitePath(config.LocalDatabasePath)));
    }

    [Fact]
    public void Seed_002_variables_set_retention_and_cleanup_unless_the_section_does()
    {
        var env = new Dictionary<string, string> { ["LOGS_TIMEWINDOW"] = "60", ["CLEANUP_INTERVAL"] = "5" };
        var o = Load("{}", env).Ingestion;
        Assert.Equal(TimeSpan.FromSeconds(60), o.LogRetention);
        Assert.Equal(TimeSpan.FromSeconds(5), o.CleanupInterval);

        var set = Load("""{ "ingestion": { "logRetention": "2d" } }""", env).Ingestion;
        Assert.Equal(TimeSpan.FromDays(2), set.LogRetention);
        Assert.Equal(TimeSpan.FromSeconds(5), set.CleanupInterval);
    }

    [Fact]
    public void Every_field_is_read_and_a_relative_database_path_is_relative_to_the_file()
    {
        var o = Load("""
            { "ingestion": { "enabled": false, "databasePath": "data/ingest.db", "logRetention": "1h", "notificationRetention": "90d",
                             "cleanupInterval": "10s", "maxFrameBytes": "256KiB", "maxRowsPerFrame": 500, "maxSenderLength": 64,
                             "maxMessageLength": 4096, "maxRowAge": "2d", "maxClockSkew": "30s", "maxRowsPerSecond": 1000,
                             "maxInFlight": 4, "maxConnections": 100 } }
            """).Ingestion;
        Assert.False(o.Enabled);
        Assert.Equal(Path.GetFullPath("/tocsin-tests/data/ingest.db"), o.DatabasePath);
        Assert.Equal(TimeSpan.FromHours(1), o.RetentionOf(RowKind.Logs));
        Assert.Equal(TimeSpan.FromDays(90), o.RetentionOf(RowKind.Notifications));
        Assert.Equal(256 * 1024, o.MaxFrameBytes);
        Assert.Equal((500, 64, 4096, 1000, 4, 100), (o.MaxRowsPerFrame, o.MaxSenderLength, o.MaxMessageLength, o.MaxRowsPerSecond, o.MaxInFlight, o.MaxConnections));
        Assert.Equal((TimeSpan.FromDays(2), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10)), (o.MaxRowAge, o.MaxClockSkew, o.CleanupInterval));
    }

    [Fact]
    public void Bad_values_name_the_field_or_variable_and_what_is_allowed()
    {
        var errors = Errors("""{ "ingestion": { "logRetention": "10s", "maxFrameBytes": "1GiB", "maxInFlight": 0, "retention": "1d" } }""");
        Assert.Contains(errors, e => e.Contains("field \"ingestion.logRetention\" = \"10s\": must be from 1m", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("field \"ingestion.maxFrameBytes\" = \"1GiB\"", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("field \"ingestion.maxInFlight\" = 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("\"ingestion.retention\"", StringComparison.Ordinal));

        var env = Assert.Single(Errors("{}", new Dictionary<string, string> { ["LOGS_TIMEWINDOW"] = "sixty" }));
        Assert.Contains("field \"LOGS_TIMEWINDOW\" = \"sixty\": must be whole seconds from 60 to", env, StringComparison.Ordinal);
    }
}
