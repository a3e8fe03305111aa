using Tocsin.Checks;
using Tocsin.Checks.Http;
using Tocsin.Checks.Tcp;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private static readonly string ConfigPath = Path.Combine(Path.GetTempPath(), "tocsin-config-tests", "config.json");

    private static readonly string Home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    private static TocsinConfig Parse(string json) => Loader.Parse(json, ConfigPath);

    private static string Checks(params string[] checks) => $$"""{ "checks": [ {{string.Join(", ", checks)}} ] }""";

    private static ConfigException Refused(string json) => Assert.Throws<ConfigException>(() => Parse(json));

    /// <summary>Asserts the file is refused with exactly one error, naming where, what, the value and what is allowed.</summary>
    private static ConfigError OnlyError(string json, string location, string field, string? value, string allowed)
    {
        var ex = Refused(json);
        var error = Assert.Single(ex.Errors);
        Assert.Equal(ConfigPath, error.File);
        Assert.Equal(location, error.Location);
        Assert.Equal(field, error.Field);
        Assert.Equal(value, error.Value);
        Assert.Contains(allowed, error.Problem, StringComparison.Ordinal);

        // The message shown to the user carries all of it.
        foreach (string part in new[] { ConfigPath, location, $"\"{field}\"", value ?? "", allowed })
        {
            Assert.Contains(part, ex.Message, StringComparison.Ordinal);
        }

        return error;
    }

    private static HttpCheckOptions HttpOptions(CheckDefinition check) => Assert.IsType<HttpCheckOptions>(check.Options);

    [Fact]
    public void Valid_http_check_is_read_with_every_field()
    {
        var config = Parse("""
            {
              "$schema": "https://example.org/tocsin.schema.json",
              "localDatabasePath": "/var/lib/tocsin/local.db",
              "externalDatabaseUri": "postgresql://tocsin@db/tocsin",
              "web": { "urls": "http://127.0.0.1:9090;http://[::1]:9090" },
              "defaults": { "interval": "1m", "timeout": "5s" },
              "scheduler": { "maxConcurrentRuns": 64 },
              // comments and trailing commas are allowed
              "checks": [
                { "name": "site", "kind": "http", "url": "https://example.org/", "method": "post",
                  "headers": { "Accept": "text/html" }, "body": { "q": 1 }, "followRedirects": false, "maxRedirects": 3,
                  "reuseConnections": true, "maxBodyBytes": 4096, "tags": ["web", "prod"], "enabled": false,
                  "description": "front page", "interval": "2m", "timeout": "20s",
                  "expect": { "status": [200, 204], "bodyRegex": "Example", "maxDuration": "2s" },
                  "tls": { "skipVerify": true, "minDaysToExpiry": 14 } },
                { "name": "db-port", "kind": "tcp", "host": "db.example.org", "port": 5432 },
              ],
            }
            """);

        Assert.Equal(ConfigFormat.Tocsin, config.Format);
        Assert.Equal(ConfigPath, config.SourcePath);
        Assert.Equal("/var/lib/tocsin/local.db", config.LocalDatabasePath);
        Assert.Equal("postgresql://tocsin@db/tocsin", config.ExternalDatabaseUri);
        Assert.Equal("http://127.0.0.1:9090;http://[::1]:9090", config.WebUrls);
        Assert.Equal(64, config.MaxConcurrentRuns);
        Assert.Equal(2, config.Checks.Count);

        var site = config.Checks[0];
        Assert.Equal(("site", "http", 0), (site.Name, site.Kind, site.Index));
        Assert.Equal(TimeSpan.FromMinutes(2), site.Interval);
        Assert.Equal(TimeSpan.FromSeconds(20), site.Timeout);
        Assert.Equal(["web", "prod"], site.Tags);
        Assert.False(site.Enabled);
        var o = HttpOptions(site);
        Assert.Equal(new Uri("https://example.org/"), o.Url);
        Assert.Equal("POST", o.Method);
        Assert.Equal("text/html", o.Headers["accept"]);
        Assert.Equal("""{ "q": 1 }""", o.Body);
        Assert.False(o.FollowRedirects);
        Assert.Equal(3, o.MaxRedirects);
        Assert.True(o.ReuseConnections);
        Assert.Equal(4096, o.MaxBodyBytes);
        Assert.Equal([200, 204], o.ExpectStatus);
        Assert.Equal("Example", o.BodyRegex?.ToString());
        Assert.Equal(TimeSpan.FromSeconds(2), o.MaxDuration);
        Assert.True(o.TlsSkipVerify);
        Assert.Equal(14, o.TlsMinDaysToExpiry);

        var db = config.Checks[1];
        Assert.Equal(("db-port", "tcp", 1), (db.Name, db.Kind, db.Index));
        Assert.Equal(TimeSpan.FromMinutes(1), db.Interval);
        Assert.Equal(TimeSpan.FromSeconds(5), db.Timeout);
        Assert.True(db.Enabled);
        Assert.Equal(new TcpCheckOptions("db.example.org", 5432), db.Options);
    }

    [Fact]
    public void Unknown_kind_is_refused_naming_the_known_kinds()
    {
        OnlyError(
            Checks("""{ "name": "a", "kind": "gopher", "url": "http://127.0.0.1/" }"""),
            "checks[0] \"a\"", "kind", "\"gopher\"", "unknown check kind; allowed: backup-freshness, command, heartbeat, http, mongodb-replicaset, rocketchat-apps, rocketchat-instances, tcp");
    }

    [Fact]
    public void Central_database_settings_are_read_with_central_retention_defaulting_to_30_days()
    {
        string pw = Path.GetTempFileName();
        try
        {
            var config = Parse($$"""{ "externalDatabaseUri": "postgresql://tocsin@db/tocsin", "externalDatabasePasswordFile": "{{pw}}", "centralRetention": "90d" }""");
            Assert.Equal("postgresql://tocsin@db/tocsin", config.ExternalDatabaseUri);
            Assert.Equal(pw, config.ExternalDatabasePasswordFile);
            Assert.Equal(TimeSpan.FromDays(90), config.CentralRetention);
            Assert.Equal(TimeSpan.FromDays(30), Parse("{}").CentralRetention);
        }
        finally
        {
            File.Delete(pw);
        }
    }

    [Fact]
    public void Invalid_external_database_uri_is_refused_with_the_password_hidden()
    {
        var error = OnlyError(
            """{ "externalDatabaseUri": "postgresql://u:hunter2@db:70000/tocsin" }""",
            "(top level)", "externalDatabaseUri", "\"postgresql://u:***@db:70000/tocsin\"", "port must be a whole number from 1 to 65535");
        Assert.DoesNotContain("hunter2", error.ToString());
    }

    [Fact]
    public void Max_outbox_size_is_read_with_its_unit_and_defaults_to_1_GiB()
    {
        Assert.Equal(512L << 20, Parse("""{ "maxOutboxSize": "512MiB" }""").MaxOutboxSize);
        Assert.Equal(2_000_000_000L, Parse("""{ "maxOutboxSize": "2GB" }""").MaxOutboxSize);
        Assert.Equal(1L << 30, Parse("{}").MaxOutboxSize);
    }

    [Theory]
    [InlineData("\"1024\"", "is not a size; use a number with a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)")]
    [InlineData("\"100KiB\"", "must be from 1MiB to 16TiB")]
    [InlineData("\"1 gigabyte\"", "is not a size")]
    public void Invalid_max_outbox_size_is_refused_saying_what_is_allowed(string value, string problem)
    {
        OnlyError($$"""{ "maxOutboxSize": {{value}} }""", "(top level)", "maxOutboxSize", value, problem);
    }

    [Fact]
    public void Missing_external_database_password_file_is_refused()
    {
        OnlyError(
            """{ "externalDatabasePasswordFile": "/nonexistent/pgpass" }""",
            "(top level)", "externalDatabasePasswordFile", "\"/nonexistent/pgpass\"", "file not found");
    }

    [Fact]
    public void Unknown_top_level_field_is_refused_naming_the_allowed_fields()
    {
        OnlyError(
            """{ "chekcs": [] }""",
            "(top level)", "chekcs", "[]", "unknown field; allowed: $schema, alerting, centralRetention, checks, defaults, externalDatabasePasswordFile, externalDatabaseUri, fleet, ingestion, localDatabasePath, localRetention, maintenance, maxOutboxSize, notifications, promiseDirectories, scheduler, slapos, timeZone, web");
    }

    [Fact]
    public void Unknown_check_field_is_refused_naming_the_check_and_the_allowed_fields()
    {
        var error = OnlyError(
            Checks("""{ "name": "a", "kind": "http", "url": "http://127.0.0.1/", "colour": "red" }"""),
            "checks[0] \"a\"", "colour", "\"red\"", "unknown field; allowed: ");
        foreach (string allowed in new[] { "url", "method", "expect", "tls", "interval", "timeout", "followRedirects" })
        {
            Assert.Contains(allowed, error.Problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Unknown_expect_field_is_refused_with_its_dotted_name()
    {
        OnlyError(
            Checks("""{ "name": "a", "kind": "http", "url": "http://127.0.0.1/", "expect": { "statusCode": 200 } }"""),
            "checks[0] \"a\"", "expect.statusCode", "200", "unknown field; allowed: bodyRegex, maxDuration, status");
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("health")]
    [InlineData("ftp://example.org/file")]
    [InlineData("http://")]
    public void Url_that_is_not_absolute_http_is_refused(string url)
    {
        OnlyError(
            Checks($$"""{ "name": "a", "kind": "http", "url": "{{url}}" }"""),
            "checks[0] \"a\"", "url", $"\"{url}\"", "must be an absolute http:// or https:// URL with a host");
    }

    [Fact]
    public void Duplicate_check_name_is_refused_naming_the_first_use()
    {
        OnlyError(
            Checks(
                """{ "name": "a", "kind": "http", "url": "http://127.0.0.1/one" }""",
                """{ "name": "a", "kind": "http", "url": "http://127.0.0.1/two" }"""),
            "checks[1] \"a\"", "name", "\"a\"", "duplicate name: checks[0] already uses it");
    }

    [Theory]
    [InlineData("500ms")]
    [InlineData("999ms")]
    [InlineData("25h")]
    [InlineData("1d1s")]
    public void Interval_outside_1s_to_24h_is_refused(string interval)
    {
        OnlyError(
            Checks($$"""{ "name": "a", "kind": "http", "url": "http://127.0.0.1/", "interval": "{{interval}}" }"""),
            "checks[0] \"a\"", "interval", $"\"{interval}\"", "must be from 1s to 1d");
    }

    [Theory]
    [InlineData("1s")]
    [InlineData("24h")]
    public void Interval_of_1s_and_24h_is_accepted(string interval)
    {
        var check = Assert.Single(Parse(Checks($$"""{ "name": "a", "kind": "http", "url": "http://127.0.0.1/", "interval": "{{interval}}" }""")).Checks);

        Assert.Equal(Duration.Parse(interval), check.Interval);
    }

    [Theory]
    [InlineData("10s", "10s")]
    [InlineData("10s", "11s")]
    [InlineData("30s", "45000ms")] // named as written, not reformatted as 45s
    public void Timeout_not_shorter_than_the_interval_is_refused(string interval, string timeout)
    {
        OnlyError(
            Checks($$"""{ "name": "a", "kind": "http", "url": "http://127.0.0.1/", "interval": "{{interval}}", "timeout": "{{timeout}}" }"""),
            "checks[0] \"a\"", "timeout", $"\"{timeout}\"", $"must be shorter than the interval ({interval})");
    }

    [Fact]
    public void Invalid_body_regex_is_refused()
    {
        OnlyError(
            Checks("""{ "name": "a", "kind": "http", "url": "http://127.0.0.1/", "expect": { "bodyRegex": "Example (" } }"""),
            "checks[0] \"a\"", "expect.bodyRegex", "\"Example (\"", "is not a valid .NET regular expression");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(70000)]
    public void Tcp_port_outside_1_to_65535_is_refused(int port)
    {
        OnlyError(
            Checks($$"""{ "name": "db", "kind": "tcp", "host": "127.0.0.1", "port": {{port}} }"""),
            "checks[0] \"db\"", "port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be from 1 to 65535");
    }

    [Theory]
    [InlineData("30")]
    [InlineData("30 s")]
    [InlineData("30sec")]
    public void Duration_without_a_known_unit_is_refused(string interval)
    {
        OnlyError(
            Checks($$"""{ "name": "a", "kind": "http", "url": "http://127.0.0.1/", "interval": "{{interval}}" }"""),
            "checks[0] \"a\"", "interval", $"\"{interval}\"", "is not a duration; use " + Duration.Allowed);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var ex = Refused(Checks(
            """{ "name": "a", "kind": "http", "url": "ftp://example.org/", "colour": "red" }""",
            """{ "name": "b", "kind": "http", "url": "http://127.0.0.1/", "interval": "30" }"""));

        Assert.Equal(3, ex.Errors.Count);
        Assert.Equal(
            [("checks[0] \"a\"", "url"), ("checks[0] \"a\"", "colour"), ("checks[1] \"b\"", "interval")],
            ex.Errors.Select(e => (e.Location, e.Field)));
        Assert.StartsWith("3 configuration error(s):", ex.Message, StringComparison.Ordinal);
        Assert.All(ex.Errors, e => Assert.Equal(ConfigPath, e.File));
    }

    [Fact]
    public void Check_without_a_name_is_refused_by_index()
    {
        OnlyError(Checks("""{ "kind": "http", "url": "http://127.0.0.1/" }"""), "checks[0]", "name", null, "is required");
    }

    [Fact]
    public void Text_that_is_not_json_is_refused_naming_the_file()
    {
        var ex = Refused("""{ "checks": [ """);

        var error = Assert.Single(ex.Errors);
        Assert.Equal(ConfigPath, error.File);
        Assert.Contains("is not valid JSON", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_is_refused_naming_it_and_how_to_create_one()
    {
        using var folder = new TempFolder();
        string path = folder.File("missing.json");

        var ex = Assert.Throws<ConfigException>(() => Loader.Load(path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("tocsin config create", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "5s", 4_000)] // 80 % of 5 s: the 10 s default would not fit
    [InlineData(null, "10s", 8_000)] // the default equals the interval
    [InlineData(null, "1m", 10_000)] // the default fits
    [InlineData("2s", "2s", 1_600)] // defaults.timeout is cut too
    [InlineData("2s", "1m", 2_000)]
    public void Implicit_timeout_is_the_default_but_at_most_80_percent_of_the_interval(string? defaultTimeout, string interval, int expectedMs)
    {
        string defaults = defaultTimeout is null ? "" : $$""" "defaults": { "timeout": "{{defaultTimeout}}" }, """;
        var config = Parse($$"""{ {{defaults}} "checks": [ { "name": "a", "kind": "http", "url": "http://127.0.0.1/", "interval": "{{interval}}" } ] }""");

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), Assert.Single(config.Checks).Timeout);
    }

    [Fact]
    public void Implicit_timeout_helper_keeps_a_fitting_default_and_cuts_one_that_does_not_fit()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), ConfigLoader.ImplicitTimeout(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)));
        Assert.Equal(TimeSpan.FromSeconds(4), ConfigLoader.ImplicitTimeout(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Seed004_file_is_read_as_is()
    {
        var config = Parse("""
            {
              "local_database_path": "~/.monitoring/local-database.sqlite3",
              "external_database_uri": "postgresql://monitor:s3cret@db.example.org:5432/monitoring",
              "services": [
                { "url": "https://example.org/", "method": "GET", "check_regex": false, "regex": null, "interval_sec": 5, "timeout": 15 },
                { "url": "https://example.org/api", "method": "OPTION", "check_regex": true, "regex": "ok", "interval_sec": 60, "timeout": 2.5 },
                { "url": "https://example.org/", "method": "head", "interval_sec": 300 }
              ]
            }
            """);

        Assert.Equal(ConfigFormat.Seed004, config.Format);
        Assert.Equal(Path.GetFullPath(Path.Combine(Home, ".monitoring", "local-database.sqlite3")), config.LocalDatabasePath);
        Assert.Equal("postgresql://monitor:s3cret@db.example.org:5432/monitoring", config.ExternalDatabaseUri);
        Assert.Equal(["GET https://example.org/", "OPTIONS https://example.org/api", "HEAD https://example.org/"], config.Checks.Select(c => c.Name));
        Assert.All(config.Checks, c => Assert.Equal(HttpCheckKind.KindName, c.Kind));
        Assert.Equal([0, 1, 2], config.Checks.Select(c => c.Index));

        var get = config.Checks[0];
        Assert.Equal(TimeSpan.FromSeconds(5), get.Interval);
        Assert.Equal(TimeSpan.FromSeconds(4), get.Timeout); // 15 s does not fit a 5 s interval: cut to 80 %
        Assert.Null(HttpOptions(get).BodyRegex);
        Assert.Equal("GET", HttpOptions(get).Method);

        var options = config.Checks[1];
        Assert.Equal("OPTIONS", HttpOptions(options).Method);
        Assert.Equal("ok", HttpOptions(options).BodyRegex?.ToString());
        Assert.Equal(new Uri("https://example.org/api"), HttpOptions(options).Url);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Interval);
        Assert.Equal(TimeSpan.FromSeconds(2.5), options.Timeout);

        var head = config.Checks[2];
        Assert.Equal("HEAD", HttpOptions(head).Method);
        Assert.Equal(TimeSpan.FromMinutes(5), head.Interval);
        Assert.Equal(TimeSpan.FromSeconds(10), head.Timeout);
    }

    [Fact]
    public void Seed004_regex_is_ignored_when_check_regex_is_false()
    {
        var config = Parse("""{ "services": [ { "url": "https://example.org/", "check_regex": false, "regex": "ok" } ] }""");

        Assert.Null(HttpOptions(Assert.Single(config.Checks)).BodyRegex);
    }

    [Theory]
    [InlineData("GET", "GET", "GET https://example.org/")]
    [InlineData("OPTION", "OPTIONS", "OPTIONS https://example.org/")]
    public void Seed004_duplicate_url_and_method_is_refused(string firstMethod, string secondMethod, string name)
    {
        OnlyError(
            $$"""
            { "services": [
                { "url": "https://example.org/", "method": "{{firstMethod}}" },
                { "url": "https://example.org/", "method": "{{secondMethod}}" } ] }
            """,
            "services[1]", "url", "\"https://example.org/\"", $"duplicate service: services[0] already checks {name}; url + method must be unique");
    }

    [Fact]
    public void Seed004_same_url_with_another_method_is_accepted()
    {
        var config = Parse("""{ "services": [ { "url": "https://example.org/" }, { "url": "https://example.org/", "method": "POST" } ] }""");

        Assert.Equal(["GET https://example.org/", "POST https://example.org/"], config.Checks.Select(c => c.Name));
    }

    [Theory]
    [InlineData("""{ "url": "https://example.org/", "check_regex": true }""")]
    [InlineData("""{ "url": "https://example.org/", "check_regex": true, "regex": null }""")]
    public void Seed004_check_regex_without_regex_is_refused(string service)
    {
        OnlyError($$"""{ "services": [ {{service}} ] }""", "services[0]", "regex", null, "is required when check_regex is true");
    }

    [Fact]
    public void Seed004_unknown_method_is_refused_naming_the_allowed_ones()
    {
        OnlyError(
            """{ "services": [ { "url": "https://example.org/", "method": "FETCH" } ] }""",
            "services[0]", "method", "\"FETCH\"", "allowed: GET, POST, HEAD, OPTION");
    }

    [Theory]
    [InlineData(5, 5, 4_000)]
    [InlineData(5, 15, 4_000)]
    [InlineData(10, 9.5, 9_500)]
    public void Seed004_timeout_not_shorter_than_the_interval_is_cut_to_80_percent(int intervalSec, double timeoutSec, int expectedMs)
    {
        var config = Parse($$"""{ "services": [ { "url": "https://example.org/", "interval_sec": {{intervalSec}}, "timeout": {{timeoutSec.ToString(System.Globalization.CultureInfo.InvariantCulture)}} } ] }""");

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), Assert.Single(config.Checks).Timeout);
    }

    [Theory]
    [InlineData("""{ "localDatabasePath": "~/tocsin/local.db" }""")]
    [InlineData("""{ "local_database_path": "~/tocsin/local.db" }""")]
    public void Home_is_expanded_in_the_local_database_path(string json)
    {
        Assert.Equal(Path.GetFullPath(Path.Combine(Home, "tocsin", "local.db")), Parse(json).LocalDatabasePath);
    }

    [Theory]
    [InlineData("""{ "localDatabasePath": "data/local.db" }""")]
    [InlineData("""{ "local_database_path": "data/local.db" }""")]
    [InlineData("""{ "localDatabasePath": "./data/../data/local.db" }""")]
    public void Relative_local_database_path_is_resolved_against_the_config_files_folder(string json)
    {
        string expected = Path.Combine(Path.GetDirectoryName(ConfigPath)!, "data", "local.db");

        Assert.Equal(expected, Parse(json).LocalDatabasePath);
    }

    [Fact]
    public void Local_database_path_defaults_to_the_home_folder()
    {
        Assert.Equal(Path.GetFullPath(Path.Combine(Home, ".tocsin", "local.db")), Parse("{}").LocalDatabasePath);
    }

    [Fact]
    public void Home_expansion_only_touches_a_leading_tilde()
    {
        Assert.Equal(Home, ConfigLoader.ExpandHome("~"));
        Assert.Equal("a/~/b", ConfigLoader.ExpandHome("a/~/b"));
        Assert.Equal("~other/x", ConfigLoader.ExpandHome("~other/x"));
    }
}

public sealed class PlacementConfigTests
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    [Fact]
    public void Placement_defaults_to_shard_and_accepts_all()
    {
        var config = Loader.Parse("""
            { "checks": [
              { "name": "a", "kind": "tcp", "host": "127.0.0.1", "port": 1 },
              { "name": "b", "kind": "tcp", "host": "127.0.0.1", "port": 1, "placement": "all" } ] }
            """, "/tmp/p.json");
        Assert.Equal(CheckPlacement.Shard, config.Checks[0].Placement);
        Assert.Equal(CheckPlacement.All, config.Checks[1].Placement);
    }

    [Fact]
    public void Unknown_placement_is_refused_naming_the_allowed_values()
    {
        var ex = Assert.Throws<ConfigException>(() => Loader.Parse("""
            { "checks": [ { "name": "a", "kind": "tcp", "host": "127.0.0.1", "port": 1, "placement": "everywhere" } ] }
            """, "/tmp/p.json"));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("placement", error.Field);
        Assert.Equal("\"everywhere\"", error.Value);
        Assert.Contains("\"shard\"", error.Problem, StringComparison.Ordinal);
        Assert.Contains("\"all\"", error.Problem, StringComparison.Ordinal);
    }
}
