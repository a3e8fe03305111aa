using System.Text.Json.Nodes;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Storage.Postgres;

namespace Tocsin.Core.Tests.Configuration;

/// <summary>The local and central database settings as <c>tocsin config databases show|update</c> read and write them.</summary>
public sealed class DatabaseSettingsTests : IDisposable
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string? Env(string name) => name == PostgresConnectionString.PasswordVariable ? "from-env" : null;

    [Fact]
    public void Password_source_follows_the_order_resolve_uses_without_giving_the_password()
    {
        string file = _folder.File("pw");
        File.WriteAllText(file, "from-file\n");
        string empty = _folder.File("empty");
        File.WriteAllText(empty, "");

        Assert.Equal(PasswordSource.Uri, PostgresConnectionString.FindPasswordSource("postgresql://u:in-uri@h/d", file, Env));
        Assert.Equal(PasswordSource.Uri, PostgresConnectionString.FindPasswordSource("Host=h;Username=u;Password=p", file, Env));
        Assert.Equal(PasswordSource.File, PostgresConnectionString.FindPasswordSource("postgresql://u@h/d", file, Env));
        Assert.Equal(PasswordSource.Environment, PostgresConnectionString.FindPasswordSource("postgresql://u@h/d", null, Env));
        // An empty file has no first line: Resolve goes on to the environment, and so does the source.
        Assert.Equal(PasswordSource.Environment, PostgresConnectionString.FindPasswordSource("postgresql://u@h/d", empty, Env));
        Assert.Equal(PasswordSource.None, PostgresConnectionString.FindPasswordSource("postgresql://u@h/d", null, _ => null));
        Assert.Throws<FileNotFoundException>(() => PostgresConnectionString.FindPasswordSource("postgresql://u@h/d", _folder.File("missing"), Env));
    }

    [Fact]
    public void Set_databases_writes_the_fields_of_the_files_format_and_an_empty_uri_removes_the_export()
    {
        string path = _folder.File("config.json");
        var file = ConfigFile.Create(path, null, "./local.db");
        file.SetDatabases("./other.db", "postgresql://u:s3cret@db/tocsin");
        var saved = file.Save(Loader);
        Assert.Equal(_folder.File("other.db"), saved.LocalDatabasePath);
        Assert.Equal("postgresql://u:s3cret@db/tocsin", saved.ExternalDatabaseUri);
        // Written beside the local database, as `config create` does.
        Assert.Equal(["localDatabasePath", "externalDatabaseUri", "web", "defaults", "checks"], file.Root.Select(p => p.Key));

        var reopened = ConfigFile.Open(path);
        reopened.SetDatabases(null, "");
        Assert.Null(reopened.Save(Loader).ExternalDatabaseUri);
        Assert.Equal(_folder.File("other.db"), Loader.Load(path).LocalDatabasePath);
    }

    [Fact]
    public void Set_databases_on_a_seed_004_file_writes_its_snake_case_fields()
    {
        string path = _folder.File("config.json");
        File.WriteAllText(path, """{ "local_database_path": "./a.sqlite3", "services": [] }""");
        var file = ConfigFile.Open(path);

        file.SetDatabases("./b.sqlite3", "postgresql://u@db/tocsin");
        var saved = file.Save(Loader);

        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal("./b.sqlite3", (string)root["local_database_path"]!);
        Assert.Equal("postgresql://u@db/tocsin", (string)root["external_database_uri"]!);
        Assert.False(root.ContainsKey("externalDatabaseUri"));
        Assert.Equal(ConfigFormat.Seed004, saved.Format);
    }

    [Theory]
    [InlineData("", "must be the path of the SQLite file")]
    [InlineData("   ", "must be the path of the SQLite file")]
    [InlineData(".", "is a folder")]
    public void Local_database_path_that_is_empty_or_a_folder_is_refused_at_load(string value, string problem)
    {
        string path = _folder.File("config.json");
        File.WriteAllText(path, new JsonObject { ["localDatabasePath"] = value, ["checks"] = new JsonArray() }.ToJsonString());

        var ex = Assert.Throws<ConfigException>(() => Loader.Load(path));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("localDatabasePath", error.Field);
        Assert.Contains(problem, error.Problem, StringComparison.Ordinal);
    }
}
