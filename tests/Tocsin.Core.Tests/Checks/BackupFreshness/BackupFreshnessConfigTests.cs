using Tocsin.Checks;
using Tocsin.Checks.BackupFreshness;
using Tocsin.Configuration;
using Tocsin.Status;

namespace Tocsin.Core.Tests.Checks.BackupFreshness;

/// <summary>Configuration of the <c>backup-freshness</c> kind: fields, defaults, and a clear error for each bad value.</summary>
public sealed class BackupFreshnessConfigTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static CheckDefinition Check(string fields, string extra = "") =>
        Assert.Single(Loader.Parse($$"""{ {{extra}} "checks": [{ "name": "backups", "kind": "backup-freshness", {{fields}} }] }""", "/tocsin-tests/config.json").Checks);

    private static BackupFreshnessOptions Options(string fields, string extra = "") => Assert.IsType<BackupFreshnessOptions>(Check(fields, extra).Options);

    private static List<string> Errors(string fields) =>
        [.. Assert.Throws<ConfigException>(() => Check(fields)).Errors.Select(e => e.ToString())];

    [Fact]
    public void A_relative_path_is_relative_to_the_configuration_file()
    {
        Assert.Equal(Path.GetFullPath("/tocsin-tests/backups"), Options("""  "path": "backups", "maxAge": "26h" """).Path);
    }

    [Fact]
    public void The_interval_defaults_to_five_minutes_unless_set()
    {
        Assert.Equal(TimeSpan.FromMinutes(5), Check("""  "path": "/var/data", "maxAge": "26h" """).Interval);
        Assert.Equal(TimeSpan.FromMinutes(2), Check("""  "path": "/var/data", "maxAge": "26h" """, """ "defaults": { "interval": "2m" }, """).Interval);
    }

    [Fact]
    public void Seed_001_options_are_read_with_the_default_pattern_time_zone_and_grace()
    {
        var check = Check("""  "interval": "5m", "path": "/var/data", "schedule": "1 0 * * *", "keep": 7, "minSize": "1MB" """);
        var o = Assert.IsType<BackupFreshnessOptions>(check.Options);
        Assert.Equal("/var/data", o.Path);
        Assert.Equal("dump-{yyyy-MM-dd-HH:mm:ss}", o.Pattern.ToString());
        Assert.Equal(TimeZoneInfo.Utc.Id, o.TimeZone.Id);
        Assert.Equal("1 0 * * * (UTC)", o.Schedule!.ToString());
        Assert.Null(o.MaxAge);
        Assert.Equal(TimeSpan.FromHours(1), o.Grace);
        Assert.Equal(7, o.Keep);
        Assert.Equal(1_000_000, o.MinSize);
        Assert.Equal(TimeSpan.FromSeconds(30), check.Timeout); // the kind's default timeout
        Assert.Equal("backups /var/data/dump-{yyyy-MM-dd-HH:mm:ss}, cron 1 0 * * * (UTC) + 1h grace, keep 7", new BackupFreshnessCheckKind(TimeProvider.System).Describe(o));
        var lines = DefinitionView.Lines(check);
        Assert.Equal("dump-{yyyy-MM-dd-HH:mm:ss}", Assert.Single(lines, l => l.Key == "pattern").Value);
        Assert.Contains(CheckKinds.CreateDefault(TimeProvider.System).Names, n => n == "backup-freshness");
    }

    [Fact]
    public void The_time_zone_follows_the_configuration_unless_the_check_sets_its_own_and_applies_to_the_schedule()
    {
        Assert.Equal("Europe/Paris", Options("""  "path": "/b", "schedule": "1 0 * * *" """, """ "timeZone": "Europe/Paris", """).Schedule!.TimeZone.Id);
        var own = Options("""  "path": "/b", "schedule": "1 0 * * *", "timeZone": "America/New_York" """, """ "timeZone": "Europe/Paris", """);
        Assert.Equal("America/New_York", own.TimeZone.Id);
        Assert.Equal("America/New_York", own.Schedule!.TimeZone.Id);
    }

    [Fact]
    public void Max_age_mode_reads_its_duration_and_a_pattern_in_braces()
    {
        var o = Options("""  "path": "/srv/dumps/", "pattern": "db-{yyyyMMdd'T'HHmm}.sql.gz", "maxAge": "25h", "grace": "0s" """);
        Assert.Equal(TimeSpan.FromHours(25), o.MaxAge);
        Assert.Null(o.Schedule);
        Assert.Equal(TimeSpan.Zero, o.Grace);
        Assert.Equal("db-", o.Pattern.Prefix);
        Assert.Equal("yyyyMMdd'T'HHmm", o.Pattern.Format);
        Assert.Equal(".sql.gz", o.Pattern.Suffix);
        Assert.Null(o.Keep);
        Assert.Null(o.MinSize);
    }

    [Theory]
    [InlineData("""  "schedule": "1 0 * * *" """, "field \"path\": is required")]
    [InlineData("""  "path": " ", "schedule": "1 0 * * *" """, "field \"path\" = \" \": must be the path of the backup folder")]
    [InlineData("""  "path": "/b" """, "field \"maxAge\": is required: how old the newest dump may be")]
    [InlineData("""  "path": "/b", "maxAge": "25h", "schedule": "1 0 * * *" """, "field \"schedule\": give only one of \"maxAge\"")]
    [InlineData("""  "path": "/b", "schedule": "1 0 * *" """, "field \"schedule\" = \"1 0 * *\": is not a cron expression")]
    [InlineData("""  "path": "/b", "schedule": "0 0 30 2 *" """, "never fires")]
    [InlineData("""  "path": "/b", "maxAge": "25" """, "field \"maxAge\" = \"25\": is not a duration")]
    [InlineData("""  "path": "/b", "maxAge": "10s" """, "field \"maxAge\" = \"10s\": must be from 1m to 366d")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "grace": "31d" """, "field \"grace\" = \"31d\": must be from 0s to 30d")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "keep": 0 """, "field \"keep\" = 0: must be from 1 to 100000")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "minSize": "100" """, "field \"minSize\" = \"100\": is not a size")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "timeZone": "Mars/Olympus" """, "field \"timeZone\" = \"Mars/Olympus\": unknown time zone")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dump-latest" """, "field \"pattern\" = \"dump-latest\": has no date-time part; use literal text around one date-time part in braces")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dump-{yyyy}-{MM}" """, "must have exactly one date-time part in braces")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dump-{yyyy-MM}" """, "must give the year (yyyy), the month (MM) and the day of the month (dd)")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dump-{yyyy-MM-dd hh:mm}" """, "12-hour hour (h) without AM/PM (tt)")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dump-{yyyy-MM-dd'T}" """, "unclosed ' quote")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dumps/{yyyy-MM-dd}" """, "has a '/' or NUL character in its literal text")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dump-{yyyyMd}" """, "does not read back what it writes")]
    [InlineData("""  "path": "/b", "maxAge": "1d", "pattern": "dump-{yyyy-MM-dd}", "retention": 7 """, "field \"retention\" = 7: unknown field")]
    public void Bad_options_are_named_with_what_is_allowed(string fields, string expected)
    {
        var errors = Errors(fields);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("dump-yyyy-MM-dd-HH:mm:ss", "dump-2020-02-10-08:01:25", "2020-02-10T08:01:25Z")]
    [InlineData("dump-{yyyy-MM-dd-HH:mm:ss}", "dump-2020-02-10-08:01:25", "2020-02-10T08:01:25Z")]
    [InlineData("{yyyy-MM-dd}", "2020-02-10", "2020-02-10T00:00:00Z")]
    [InlineData("mongo-{yyyyMMdd'T'HHmmss}.archive.gz", "mongo-20200210T080125.archive.gz", "2020-02-10T08:01:25Z")]
    [InlineData("b_{yyyy-MM-ddTHH:mm:sszzz}", "b_2020-02-10T09:01:25+01:00", "2020-02-10T08:01:25Z")]
    [InlineData("b_{yyyy-MM-ddTHH:mm:ssK}", "b_2020-02-10T08:01:25Z", "2020-02-10T08:01:25Z")]
    public void Patterns_read_the_time_from_matching_names(string pattern, string name, string expectedUtc)
    {
        Assert.True(DumpNamePattern.TryParse(pattern, out var p, out string? problem), problem);
        Assert.True(p!.TryMatch(name, TimeZoneInfo.Utc, out var time));
        Assert.Equal(DateTimeOffset.Parse(expectedUtc, System.Globalization.CultureInfo.InvariantCulture), time);
    }

    [Theory]
    [InlineData("dump-2020-02-10-08:01")]
    [InlineData("dump-2020-13-10-08:01:25")]
    [InlineData("Dump-2020-02-10-08:01:25")]
    [InlineData("dump-2020-02-10-08:01:25.tmp")]
    [InlineData("dump-")]
    [InlineData("lost+found")]
    public void Names_that_do_not_match_the_default_pattern_are_refused(string name)
    {
        Assert.True(DumpNamePattern.TryParse(DumpNamePattern.Default, out var p, out _));
        Assert.False(p!.TryMatch(name, TimeZoneInfo.Utc, out _));
    }

    [Fact]
    public void Names_are_read_in_the_time_zone_even_across_a_daylight_saving_change()
    {
        Assert.True(DumpNamePattern.TryParse(DumpNamePattern.Default, out var p, out _));
        var paris = ConfigLoader.FindTimeZone("Europe/Paris")!;
        Assert.True(p!.TryMatch("dump-2026-12-03-01:01:00", paris, out var winter));
        Assert.Equal(new DateTimeOffset(2026, 12, 3, 0, 1, 0, TimeSpan.Zero), winter);
        Assert.True(p.TryMatch("dump-2026-07-03-02:01:00", paris, out var summer));
        Assert.Equal(new DateTimeOffset(2026, 7, 3, 0, 1, 0, TimeSpan.Zero), summer);
        // 02:30 does not exist on 2026-03-29 in Paris: read with the standard offset, not refused.
        Assert.True(p.TryMatch("dump-2026-03-29-02:30:00", paris, out var skipped));
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 30, 0, TimeSpan.Zero), skipped);
    }
}