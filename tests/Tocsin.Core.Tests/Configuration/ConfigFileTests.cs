using System.Text.Json.Nodes;
using Tocsin.Checks;
using Tocsin.Checks.Http;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Configuration;

public sealed class ConfigFileTests : IDisposable
{
    private static readonly ConfigLoader Loader = new(CheckKinds.CreateDefault(TimeProvider.System));

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static HttpCheckOptions HttpOptions(CheckDefinition check) => Assert.IsType<HttpCheckOptions>(check.Options);

    private void AssertNoTemporaryFilesLeft() =>
        Assert.Equal(["config.json"], Directory.GetFiles(_folder.Path).Select(Path.GetFileName));

    [Fact]
    public void Tocsin_file_checks_are_added_updated_and_removed_then_saved_and_loaded()
    {
        string path = _folder.File("config.json");
        var file = ConfigFile.Create(path, "postgresql://tocsin:s3cret@db/tocsin", null);
        Assert.Equal(ConfigFormat.Tocsin, file.Format);
        file.AddHttpCheck(new HttpCheckEdit
        {
            Url = "http://127.0.0.1:8080/ok", Regex = "Example", ExpectStatus = [200, 204],
            Interval = TimeSpan.FromMinutes(1), Timeout = TimeSpan.FromSeconds(5),
        });
        file.AddHttpCheck(new HttpCheckEdit { Url = "http://127.0.0.1:8080/health", Method = "head", Name = "health" });

        var saved = file.Save(Loader);

        Assert.Equal(["GET http://127.0.0.1:8080/ok", "health"], saved.Checks.Select(c => c.Name));
        var loaded = Loader.Load(path);
        Assert.Equal("postgresql://tocsin:s3cret@db/tocsin", loaded.ExternalDatabaseUri);
        var ok = loaded.Checks[0];
        Assert.Equal(TimeSpan.FromMinutes(1), ok.Interval);
        Assert.Equal(TimeSpan.FromSeconds(5), ok.Timeout);
        Assert.Equal("Example", HttpOptions(ok).BodyRegex?.ToString());
        Assert.Equal([200, 204], HttpOptions(ok).ExpectStatus);
        Assert.Equal("HEAD", HttpOptions(loaded.Checks[1]).Method);
        Assert.Equal(TimeSpan.FromSeconds(30), loaded.Checks[1].Interval); // from the created defaults

        file = ConfigFile.Open(path);
        file.UpdateHttpCheck(2, new HttpCheckEdit { Interval = TimeSpan.FromSeconds(10), Name = "health-check" });
        file.UpdateHttpCheck(1, new HttpCheckEdit { CheckRegex = false });
        file.Save(Loader);

        loaded = Loader.Load(path);
        Assert.Equal(["GET http://127.0.0.1:8080/ok", "health-check"], loaded.Checks.Select(c => c.Name));
        Assert.Null(HttpOptions(loaded.Checks[0]).BodyRegex);
        Assert.Equal([200, 204], HttpOptions(loaded.Checks[0]).ExpectStatus);
        Assert.Equal(TimeSpan.FromSeconds(10), loaded.Checks[1].Interval);
        Assert.Equal(TimeSpan.FromSeconds(8), loaded.Checks[1].Timeout); // default 10 s cut to 80 % of 10 s

        file = ConfigFile.Open(path);
        var removed = file.RemoveCheck(1);
        Assert.Equal("GET http://127.0.0.1:8080/ok", removed["name"]!.GetValue<string>());
        file.Save(Loader);

        Assert.Equal(["health-check"], Loader.Load(path).Checks.Select(c => c.Name));
        AssertNoTemporaryFilesLeft();
    }

    [Fact]
    public void Tocsin_file_with_an_invalid_edit_is_refused_and_left_unchanged()
    {
        string path = _folder.File("config.json");
        var file = ConfigFile.Create(path, null, "data/local.db");
        file.AddHttpCheck(new HttpCheckEdit { Url = "http://127.0.0.1:8080/ok", Name = "site" });
        file.Save(Loader);
        byte[] before = File.ReadAllBytes(path);

        file = ConfigFile.Open(path);
        file.UpdateHttpCheck(1, new HttpCheckEdit { Url = "ftp://example.org/" });
        file.AddHttpCheck(new HttpCheckEdit { Url = "http://127.0.0.1:8080/other", Name = "site" });
        var ex = Assert.Throws<ConfigException>(() => file.Save(Loader));

        Assert.Equal([("checks[0] \"site\"", "url"), ("checks[1] \"site\"", "name")], ex.Errors.Select(e => (e.Location, e.Field)));
        Assert.All(ex.Errors, e => Assert.Equal(path, e.File));
        Assert.Equal(before, File.ReadAllBytes(path));
        AssertNoTemporaryFilesLeft();
    }

    [Fact]
    public void Seed004_file_checks_are_added_updated_and_removed_keeping_its_format()
    {
        string path = _folder.File("config.json");
        File.WriteAllText(path, """
            {
              "local_database_path": "local-database.sqlite3",
              "external_database_uri": "postgresql://monitor:s3cret@db/monitoring",
              "services": [
                { "url": "https://example.org/", "method": "GET", "check_regex": false, "regex": null, "interval_sec": 5, "timeout": 15 }
              ]
            }
            """);
        var file = ConfigFile.Open(path);
        Assert.Equal(ConfigFormat.Seed004, file.Format);

        file.AddHttpCheck(new HttpCheckEdit
        {
            Url = "https://example.org/api", Method = "option", Regex = "ok",
            Interval = TimeSpan.FromSeconds(30), Timeout = TimeSpan.FromSeconds(2.5),
        });
        file.Save(Loader);

        var added = Assert.IsType<JsonObject>(ConfigFile.Open(path).Checks[1]);
        Assert.Equal(
            """{"url":"https://example.org/api","method":"OPTION","check_regex":true,"regex":"ok","interval_sec":30,"timeout":2.5}""",
            added.ToJsonString());
        var loaded = Loader.Load(path);
        Assert.Equal(ConfigFormat.Seed004, loaded.Format);
        Assert.Equal(_folder.File("local-database.sqlite3"), loaded.LocalDatabasePath);
        Assert.Equal(["GET https://example.org/", "OPTIONS https://example.org/api"], loaded.Checks.Select(c => c.Name));
        Assert.Equal("ok", HttpOptions(loaded.Checks[1]).BodyRegex?.ToString());
        Assert.Equal(TimeSpan.FromSeconds(2.5), loaded.Checks[1].Timeout);

        file = ConfigFile.Open(path);
        file.UpdateHttpCheck(2, new HttpCheckEdit { CheckRegex = false, Interval = TimeSpan.FromMinutes(2) });
        file.RemoveCheck(1);
        file.Save(Loader);

        var only = Assert.Single(Loader.Load(path).Checks);
        Assert.Equal("OPTIONS https://example.org/api", only.Name);
        Assert.Null(HttpOptions(only).BodyRegex);
        Assert.Equal(TimeSpan.FromMinutes(2), only.Interval);
        Assert.Equal("postgresql://monitor:s3cret@db/monitoring", ConfigFile.Open(path).Root["external_database_uri"]!.GetValue<string>());
        AssertNoTemporaryFilesLeft();
    }

    [Fact]
    public void Seed004_file_with_an_invalid_edit_is_refused_and_left_unchanged()
    {
        string path = _folder.File("config.json");
        File.WriteAllText(path, """{ "services": [ { "url": "https://example.org/", "method": "OPTION" } ] }""");
        byte[] before = File.ReadAllBytes(path);

        var file = ConfigFile.Open(path);
        file.AddHttpCheck(new HttpCheckEdit { Url = "https://example.org/", Method = "options" });
        var ex = Assert.Throws<ConfigException>(() => file.Save(Loader));

        var error = Assert.Single(ex.Errors);
        Assert.Equal(("services[1]", "url"), (error.Location, error.Field));
        Assert.Contains("duplicate service", error.Problem, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
        AssertNoTemporaryFilesLeft();
    }

    [Fact]
    public void Editing_a_check_number_that_does_not_exist_is_refused_naming_the_range()
    {
        var file = ConfigFile.Create(_folder.File("config.json"), null, null);
        file.AddHttpCheck(new HttpCheckEdit { Url = "http://127.0.0.1/" });

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => file.RemoveCheck(2));
        Assert.Contains("numbers run from 1 to 1", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => file.UpdateHttpCheck(0, new HttpCheckEdit { Url = "http://127.0.0.1/x" }));
    }

    [Fact]
    public void Opening_a_file_that_is_not_a_json_object_is_refused_naming_it()
    {
        string path = _folder.File("config.json");
        File.WriteAllText(path, "[1, 2]");

        var ex = Assert.Throws<ConfigException>(() => ConfigFile.Open(path));

        Assert.Equal(path, Assert.Single(ex.Errors).File);
        Assert.Contains("JSON object", ex.Message, StringComparison.Ordinal);
    }
}
