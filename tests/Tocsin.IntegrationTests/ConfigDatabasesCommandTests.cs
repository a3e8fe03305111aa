using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary><c>tocsin config databases show|update</c> on real files, as child processes with a temp HOME.</summary>
public sealed class ConfigDatabasesCommandTests : IDisposable
{
    private const string Secret = "s3cret-Pw";

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string ConfigPath => _folder.File("config.json");

    private static readonly Dictionary<string, string?> NoPasswordVariable = new() { ["TOCSIN_PG_PASSWORD"] = null };

    [Fact]
    public async Task Show_prints_the_local_path_and_the_external_uri_with_the_password_hidden()
    {
        await Ok(null, "config", "create", $"postgresql://tocsin:{Secret}@db.example.org:5432/tocsin?sslmode=require", "--local-database", "./local.db", "--config-path", ConfigPath);

        var text = await Ok(NoPasswordVariable, "config", "databases", "show", "--config-path", ConfigPath);
        var json = await Ok(NoPasswordVariable, "config", "databases", "show", "--json", "--config-path", ConfigPath);

        Assert.Contains(_folder.File("local.db"), text.Stdout, StringComparison.Ordinal);
        Assert.Contains("postgresql://tocsin:***@db.example.org:5432/tocsin?sslmode=require", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("from the URI", text.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, text.Stdout + text.Stderr + json.Stdout + json.Stderr, StringComparison.Ordinal);
        var view = JsonNode.Parse(json.Stdout)!;
        Assert.Equal(_folder.File("local.db"), (string)view["localDatabasePath"]!);
        Assert.Equal("postgresql://tocsin:***@db.example.org:5432/tocsin?sslmode=require", (string)view["externalDatabaseUri"]!);
        Assert.True((bool)view["exportEnabled"]!);
        Assert.Equal("uri", (string)view["passwordSource"]!);
    }

    [Fact]
    public async Task Show_says_whether_the_password_comes_from_the_password_file_the_environment_or_nowhere()
    {
        await Ok(null, "config", "create", "postgresql://tocsin@db.example.org/tocsin", "--local-database", "./local.db", "--config-path", ConfigPath);

        var none = await Ok(NoPasswordVariable, "config", "databases", "show", "--json", "--config-path", ConfigPath);
        Assert.Equal("none", (string)JsonNode.Parse(none.Stdout)!["passwordSource"]!);
        var noneText = await Ok(NoPasswordVariable, "config", "databases", "show", "--config-path", ConfigPath);
        Assert.Contains("TOCSIN_PG_PASSWORD is not set here", noneText.Stdout, StringComparison.Ordinal);

        var fromEnv = await Ok(new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = Secret }, "config", "databases", "show", "--config-path", ConfigPath);
        Assert.Contains("from TOCSIN_PG_PASSWORD", fromEnv.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, fromEnv.Stdout + fromEnv.Stderr, StringComparison.Ordinal);

        string pwFile = _folder.Write("pg-password", Secret + "\n");
        AgentConfig.Edit(ConfigPath, root => root["externalDatabasePasswordFile"] = pwFile);
        var fromFile = await Ok(new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = "other" }, "config", "databases", "show", "--json", "--config-path", ConfigPath);
        var view = JsonNode.Parse(fromFile.Stdout)!;
        Assert.Equal("file", (string)view["passwordSource"]!);
        Assert.Equal(pwFile, (string)view["passwordFile"]!);
        Assert.DoesNotContain(Secret, fromFile.Stdout + fromFile.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_sets_the_local_path_and_the_external_uri_then_no_external_and_an_empty_uri_turn_export_off()
    {
        await Ok(null, "config", "create", "--local-database", "./local.db", "--config-path", ConfigPath);
        await Ok(null, "config", "checks", "add", "http://127.0.0.1:8081/ok", "--config-path", ConfigPath);

        var updated = await Ok(null, "config", "databases", "update", "--local", "./elsewhere.db", "--external", $"postgresql://u:{Secret}@db/tocsin", "--config-path", ConfigPath);
        Assert.Contains("postgresql://u:***@db/tocsin", updated.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, updated.Stdout + updated.Stderr, StringComparison.Ordinal);
        var root = ReadRoot();
        Assert.Equal("./elsewhere.db", (string)root["localDatabasePath"]!);
        Assert.Equal($"postgresql://u:{Secret}@db/tocsin", (string)root["externalDatabaseUri"]!);
        Assert.Single(root["checks"]!.AsArray());

        var off = await Ok(null, "config", "databases", "update", "--no-external", "--config-path", ConfigPath);
        Assert.Contains("export is off", off.Stdout, StringComparison.Ordinal);
        Assert.False(ReadRoot().ContainsKey("externalDatabaseUri"));

        await Ok(null, "config", "databases", "update", "--external", "Host=db;Username=u;Database=tocsin", "--config-path", ConfigPath);
        Assert.Equal("Host=db;Username=u;Database=tocsin", (string)ReadRoot()["externalDatabaseUri"]!);
        await Ok(null, "config", "databases", "update", "--external", "", "--config-path", ConfigPath);
        Assert.False(ReadRoot().ContainsKey("externalDatabaseUri"));
        Assert.Equal("./elsewhere.db", (string)ReadRoot()["localDatabasePath"]!);

        var shown = await Ok(null, "config", "databases", "show", "--json", "--config-path", ConfigPath);
        Assert.False((bool)JsonNode.Parse(shown.Stdout)!["exportEnabled"]!);
    }

    [Fact]
    public async Task Update_on_a_seed_004_file_writes_its_own_fields()
    {
        _folder.Write("config.json", """
            { "local_database_path": "./local-database.sqlite3", "services": [] }
            """);

        await Ok(null, "config", "databases", "update", "--external", "postgresql://test@127.0.0.1:5432/test", "--local", "./new.sqlite3", "--config-path", ConfigPath);

        var root = ReadRoot();
        Assert.Equal("postgresql://test@127.0.0.1:5432/test", (string)root["external_database_uri"]!);
        Assert.Equal("./new.sqlite3", (string)root["local_database_path"]!);
        Assert.False(root.ContainsKey("externalDatabaseUri"));
    }

    [Theory]
    [InlineData("--external", "postgresql://u:" + Secret + "@db:99999/tocsin", "externalDatabaseUri", "port must be a whole number from 1 to 65535")]
    [InlineData("--external", "mysql://u:" + Secret + "@db/tocsin", "externalDatabaseUri", "the URI scheme must be postgresql:// or postgres://")]
    [InlineData("--external", "postgresql://u:" + Secret + "@db/tocsin?sslmode=maybe", "externalDatabaseUri", "sslmode \"maybe\" is not one of disable, allow, prefer, require")]
    [InlineData("--local", "", "localDatabasePath", "must be the path of the SQLite file")]
    [InlineData("--local", ".", "localDatabasePath", "is a folder")]
    public async Task Update_with_a_bad_value_exits_78_naming_the_field_hiding_the_password_and_leaves_the_file_unchanged(
        string option, string value, string field, string problem)
    {
        await Ok(null, "config", "create", "--local-database", "./local.db", "--config-path", ConfigPath);
        byte[] before = await File.ReadAllBytesAsync(ConfigPath, Ct);

        var run = await TocsinProcess.RunAsync(_folder.Path, ["config", "databases", "update", option, value, "--config-path", ConfigPath]);

        Assert.True(run.ExitCode == 78, run.ToString());
        Assert.Contains($"field \"{field}\"", run.Stderr, StringComparison.Ordinal);
        Assert.Contains(problem, run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, run.Stdout + run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(ConfigPath, Ct));
        Assert.Single(Directory.GetFiles(_folder.Path, "config.json*"));
    }

    [Fact]
    public async Task Update_without_a_change_or_with_contradicting_options_exits_64_saying_what_is_allowed()
    {
        await Ok(null, "config", "create", "--local-database", "./local.db", "--config-path", ConfigPath);

        var nothing = await TocsinProcess.RunAsync(_folder.Path, ["config", "databases", "update", "--config-path", ConfigPath]);
        var both = await TocsinProcess.RunAsync(_folder.Path, ["config", "databases", "update", "--no-external", "--external", "postgresql://u@db/x", "--config-path", ConfigPath]);

        Assert.True(nothing.ExitCode == 64, nothing.ToString());
        Assert.Contains("--local PATH, --external URI, or --no-external", nothing.Stderr, StringComparison.Ordinal);
        Assert.True(both.ExitCode == 64, both.ToString());
        Assert.Contains("contradict", both.Stderr, StringComparison.Ordinal);
    }

    private JsonObject ReadRoot() => JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();

    private async Task<CliRun> Ok(IReadOnlyDictionary<string, string?>? env, params string[] args)
    {
        var run = await TocsinProcess.RunAsync(_folder.Path, env, args);
        Assert.True(run.ExitCode == 0, $"tocsin {string.Join(' ', args)}: {run}");
        return run;
    }
}
