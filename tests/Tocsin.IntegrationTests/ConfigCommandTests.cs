using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary><c>tocsin config …</c> editing real files, as child processes with a temp HOME.</summary>
public sealed class ConfigCommandTests : IDisposable
{
    private const string Url = "http://127.0.0.1:8081/ok";

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string ConfigPath => _folder.File("config.json");

    [Fact]
    public async Task Create_then_checks_add_show_update_and_services_remove_edit_the_file()
    {
        await Ok("config", "create", "--local-database", "./local.db", "--config-path", ConfigPath);
        Assert.True(File.Exists(ConfigPath));

        var added = await Ok("config", "checks", "add", Url, "--interval", "5s", "--expect-status", "200", "--config-path", ConfigPath);
        Assert.Contains($"Added check 1: GET {Url}", added.Stdout, StringComparison.Ordinal);

        var shown = await Ok("config", "checks", "show", "--numbered", "--config-path", ConfigPath);
        string row = Assert.Single(shown.Stdout.Split('\n'), l => l.Contains(Url, StringComparison.Ordinal) && l.Contains("5s", StringComparison.Ordinal));
        Assert.Matches(@"^\W*1\W", row);
        Assert.Contains($"GET {Url}", row, StringComparison.Ordinal);

        await Ok("config", "checks", "update", "1", "--timeout", "2s", "--config-path", ConfigPath);
        var check = Assert.Single(ReadChecks("checks"))!;
        Assert.Equal("2s", (string)check["timeout"]!);
        Assert.Equal("5s", (string)check["interval"]!);
        Assert.Equal(200, (int)check["expect"]!["status"]![0]!);

        var removed = await Ok("config", "services", "remove", "1", "--config-path", ConfigPath);
        Assert.Contains("Removed check 1", removed.Stdout, StringComparison.Ordinal);
        Assert.Empty(ReadChecks("checks"));
    }

    [Theory]
    [InlineData("url", "notaurl", new[] { "notaurl" })]
    [InlineData("interval", "0s", new[] { Url + "/other", "--interval", "0s" })]
    public async Task Invalid_checks_add_exits_78_naming_the_field_and_value_and_leaves_the_file_unchanged(string field, string value, string[] addArgs)
    {
        await Ok("config", "create", "--local-database", "./local.db", "--config-path", ConfigPath);
        await Ok("config", "checks", "add", Url, "--config-path", ConfigPath);
        byte[] before = await File.ReadAllBytesAsync(ConfigPath, TestContext.Current.CancellationToken);

        var run = await TocsinProcess.RunAsync(_folder.Path, ["config", "checks", "add", .. addArgs, "--config-path", ConfigPath]);

        Assert.True(run.ExitCode == 78, run.ToString());
        Assert.Contains($"field \"{field}\" = \"{value}\"", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(ConfigPath, TestContext.Current.CancellationToken));
        Assert.Single(Directory.GetFiles(_folder.Path, "config.json*"));
    }

    [Fact]
    public async Task Show_hides_the_external_database_password()
    {
        await Ok("config", "create", "postgresql://u:secret@h/db", "--config-path", ConfigPath);

        var shown = await Ok("config", "show", "--config-path", ConfigPath);

        Assert.Contains("postgresql://u:***@h/db", shown.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", shown.Stdout + shown.Stderr, StringComparison.Ordinal);
        Assert.Contains("secret", await File.ReadAllTextAsync(ConfigPath, TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_hides_the_password_of_a_mongodb_replicaset_checks_connection_string()
    {
        await File.WriteAllTextAsync(ConfigPath, """
            {
              "localDatabasePath": "./local.db",
              "checks": [
                { "name": "rs", "kind": "mongodb-replicaset", "connectionString": "mongodb://monitor:mongo-secret-5@db1:27017,db2:27017/?replicaSet=rs0" }
              ]
            }
            """, TestContext.Current.CancellationToken);

        var shown = await Ok("config", "show", "--config-path", ConfigPath);

        Assert.DoesNotContain("mongo-secret-5", shown.Stdout + shown.Stderr, StringComparison.Ordinal);
        Assert.Contains("mongodb://monitor:***@db1:27017,db2:27017/?replicaSet=rs0", shown.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_hides_the_secrets_of_notification_channels()
    {
        await File.WriteAllTextAsync(ConfigPath, """
            {
              "localDatabasePath": "./local.db",
              "notifications": [
                { "name": "hook", "type": "webhook", "url": "https://hooks.example.org/t?key=hook-query-secret", "secret": "hmac-secret-1",
                  "headers": { "Authorization": "Bearer header-secret-2" } },
                { "name": "slack", "type": "slack", "url": "https://hooks.slack.com/services/T0/B0/slack-url-secret" },
                { "name": "room", "type": "rocketchat", "serverUrl": "https://chat.example.org", "userId": "u1", "pat": "pat-secret-3", "room": "GENERAL" },
                { "name": "rc-hook", "type": "rocketchat", "webhookUrl": "https://chat.example.org/hooks/a/rc-hook-secret" },
                { "name": "mail", "type": "email", "host": "smtp.example.org", "from": "t@example.org", "to": ["o@example.org"],
                  "username": "tocsin", "password": "smtp-secret-4" }
              ]
            }
            """, TestContext.Current.CancellationToken);

        var shown = await Ok("config", "show", "--config-path", ConfigPath);

        foreach (string secret in new[] { "hook-query-secret", "hmac-secret-1", "header-secret-2", "slack-url-secret", "pat-secret-3", "rc-hook-secret", "smtp-secret-4" })
        {
            Assert.DoesNotContain(secret, shown.Stdout + shown.Stderr, StringComparison.Ordinal);
        }

        Assert.Contains("https://hooks.example.org/t?***", shown.Stdout, StringComparison.Ordinal);
        Assert.Contains("https://chat.example.org", shown.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"userId\": \"u1\"", shown.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TOCSIN_CONFIG_is_used_when_config_path_is_absent()
    {
        string envPath = _folder.File("from-env.json");
        var env = new Dictionary<string, string?> { ["TOCSIN_CONFIG"] = envPath };

        await Ok(env, "config", "create", "--local-database", "./local.db");
        await Ok(env, "config", "checks", "add", Url);
        var shown = await Ok(env, "config", "checks", "show");

        Assert.True(File.Exists(envPath));
        Assert.False(File.Exists(_folder.File(".tocsin/config.json")));
        Assert.Contains(Url, shown.Stdout, StringComparison.Ordinal);
        Assert.Equal(Url, (string)JsonNode.Parse(await File.ReadAllTextAsync(envPath, TestContext.Current.CancellationToken))!["checks"]![0]!["url"]!);
    }

    [Fact]
    public async Task Checks_add_on_a_seed_004_file_writes_seed_fields()
    {
        _folder.Write("config.json", """
            {
              "local_database_path": "./local-database.sqlite3",
              "external_database_uri": "postgresql://test:1234567890@127.0.0.1:5432/test",
              "services": [
                { "url": "http://127.0.0.1:8081/", "method": "GET", "check_regex": false, "regex": null, "interval_sec": 5, "timeout": 15 }
              ]
            }
            """);

        await Ok("config", "services", "add", Url, "--interval", "10s", "--timeout", "3s", "--regex", "Example", "--config-path", ConfigPath);

        var root = JsonNode.Parse(await File.ReadAllTextAsync(ConfigPath, TestContext.Current.CancellationToken))!;
        Assert.Equal("./local-database.sqlite3", (string)root["local_database_path"]!);
        var services = root["services"]!.AsArray();
        Assert.Equal(2, services.Count);
        var added = services[1]!.AsObject();
        Assert.Equal(Url, (string)added["url"]!);
        Assert.Equal("GET", (string)added["method"]!);
        Assert.Equal(10, (long)added["interval_sec"]!);
        Assert.Equal(3.0, (double)added["timeout"]!);
        Assert.True((bool)added["check_regex"]!);
        Assert.Equal("Example", (string)added["regex"]!);
        Assert.False(added.ContainsKey("interval"));
        Assert.False(added.ContainsKey("kind"));
        Assert.False(added.ContainsKey("name"));
    }

    private JsonArray ReadChecks(string key) => JsonNode.Parse(File.ReadAllText(ConfigPath))![key]!.AsArray();

    private Task<CliRun> Ok(params string[] args) => Ok(null, args);

    private async Task<CliRun> Ok(IReadOnlyDictionary<string, string?>? env, params string[] args)
    {
        var run = await TocsinProcess.RunAsync(_folder.Path, env, args);
        Assert.True(run.ExitCode == 0, $"tocsin {string.Join(' ', args)}: {run}");
        return run;
    }
}
