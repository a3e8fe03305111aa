using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tocsin.Configuration;

/// <summary>What <c>tocsin config checks add|update</c> sets on an http check; <see langword="null"/> leaves a field as it is.</summary>
public sealed record HttpCheckEdit
{
    /// <summary>URL to check.</summary>
    public string? Url { get; init; }

    /// <summary>HTTP method (seed 004's <c>OPTION</c> is accepted and written as given in seed files).</summary>
    public string? Method { get; init; }

    /// <summary>Check name (Tocsin format only; seed 004 names are <c>METHOD url</c>).</summary>
    public string? Name { get; init; }

    /// <summary>Body pattern.</summary>
    public string? Regex { get; init; }

    /// <summary>Whether the pattern is checked (seed 004's <c>check_regex</c>).</summary>
    public bool? CheckRegex { get; init; }

    /// <summary>Interval.</summary>
    public TimeSpan? Interval { get; init; }

    /// <summary>Timeout.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Accepted status codes.</summary>
    public IReadOnlyList<int>? ExpectStatus { get; init; }
}

/// <summary>
/// A configuration file opened for editing by the command line. Edits keep every other field as
/// written; <see cref="Save"/> validates the result exactly as <c>tocsin start</c> would load it and
/// replaces the file atomically only when it is valid. Works on both Tocsin's format (<c>checks</c>)
/// and seed 004's (<c>services</c>).
/// </summary>
public sealed class ConfigFile
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private ConfigFile(string path, JsonObject root)
    {
        Path = path;
        Root = root;
        Format = root.ContainsKey("services") || root.ContainsKey("local_database_path") ? ConfigFormat.Seed004 : ConfigFormat.Tocsin;
    }

    /// <summary>Absolute path of the file.</summary>
    public string Path { get; }

    /// <summary>The document being edited.</summary>
    public JsonObject Root { get; }

    /// <summary>The file's format.</summary>
    public ConfigFormat Format { get; }

    /// <summary>The array of checks (<c>checks</c>, or <c>services</c> in seed 004 files), created when missing.</summary>
    public JsonArray Checks
    {
        get
        {
            string key = Format == ConfigFormat.Seed004 ? "services" : "checks";
            if (Root[key] is not JsonArray a)
            {
                a = [];
                Root[key] = a;
            }

            return a;
        }
    }

    /// <summary>A new Tocsin-format document.</summary>
    /// <param name="path">Where it will be saved.</param>
    /// <param name="externalDatabaseUri">Central PostgreSQL, or <see langword="null"/>.</param>
    /// <param name="localDatabasePath">Local outbox path, or <see langword="null"/> for <c>~/.tocsin/local.db</c>.</param>
    public static ConfigFile Create(string path, string? externalDatabaseUri, string? localDatabasePath)
    {
        var root = new JsonObject
        {
            ["localDatabasePath"] = localDatabasePath ?? "~/.tocsin/local.db",
        };
        if (externalDatabaseUri is not null)
        {
            root["externalDatabaseUri"] = externalDatabaseUri;
        }

        root["web"] = new JsonObject { ["urls"] = "http://127.0.0.1:8080" };
        root["defaults"] = new JsonObject { ["interval"] = "30s", ["timeout"] = "10s" };
        root["checks"] = new JsonArray();
        return new ConfigFile(path, root);
    }

    /// <summary>Opens an existing file.</summary>
    /// <exception cref="ConfigException">When it is missing, unreadable or not a JSON object.</exception>
    public static ConfigFile Open(string path)
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return node is JsonObject o ? new ConfigFile(path, o) : throw new ConfigException(path, "must hold a JSON object at the top level");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, $"cannot be read: {ex.Message}. Create one with `tocsin config create`.");
        }
        catch (JsonException ex)
        {
            throw new ConfigException(path, $"is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>Appends an http check built from <paramref name="edit"/> (which must give a URL).</summary>
    public void AddHttpCheck(HttpCheckEdit edit)
    {
        var check = new JsonObject();
        if (Format == ConfigFormat.Tocsin)
        {
            check["name"] = edit.Name ?? $"{(edit.Method ?? "GET").ToUpperInvariant()} {edit.Url}";
            check["kind"] = "http";
        }

        Apply(check, edit);
        Checks.Add(check);
    }

    /// <summary>Changes check number <paramref name="number"/> (1-based, as <c>checks show --numbered</c> prints).</summary>
    /// <exception cref="ArgumentOutOfRangeException">When there is no such check.</exception>
    public void UpdateHttpCheck(int number, HttpCheckEdit edit)
    {
        var check = At(number);
        if (Format == ConfigFormat.Tocsin && edit.Name is not null)
        {
            check["name"] = edit.Name;
        }

        Apply(check, edit);
    }

    /// <summary>Removes check number <paramref name="number"/> (1-based) and returns it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When there is no such check.</exception>
    public JsonObject RemoveCheck(int number)
    {
        var check = At(number);
        Checks.RemoveAt(number - 1);
        return check;
    }

    /// <summary>The field holding the local database path in this file's format (<c>localDatabasePath</c> or seed 004's <c>local_database_path</c>).</summary>
    public string LocalDatabaseField => Format == ConfigFormat.Seed004 ? "local_database_path" : "localDatabasePath";

    /// <summary>The field holding the central database in this file's format (<c>externalDatabaseUri</c> or seed 004's <c>external_database_uri</c>).</summary>
    public string ExternalDatabaseField => Format == ConfigFormat.Seed004 ? "external_database_uri" : "externalDatabaseUri";

    /// <summary>
    /// Sets the databases, as <c>tocsin config databases update</c> does: <paramref name="localDatabasePath"/>
    /// (written as given; <c>~</c> and paths relative to the file are resolved at load) when not null, and
    /// <paramref name="externalDatabaseUri"/> when not null, an empty string removing it (export off; an
    /// <c>externalDatabasePasswordFile</c> is kept for when it is set again). Other fields are kept as written.
    /// Validation happens in <see cref="Save"/>.
    /// </summary>
    public void SetDatabases(string? localDatabasePath, string? externalDatabaseUri)
    {
        if (localDatabasePath is not null)
        {
            Root[LocalDatabaseField] = localDatabasePath;
        }

        if (externalDatabaseUri is null)
        {
            return;
        }

        if (externalDatabaseUri.Length == 0)
        {
            Root.Remove(ExternalDatabaseField);
        }
        else if (Root.ContainsKey(ExternalDatabaseField))
        {
            Root[ExternalDatabaseField] = externalDatabaseUri;
        }
        else
        {
            // Beside the local database, where `config create` puts it.
            int local = Root.IndexOf(LocalDatabaseField);
            Root.Insert(local < 0 ? 0 : local + 1, ExternalDatabaseField, externalDatabaseUri);
        }
    }

    /// <summary>The document as indented JSON.</summary>
    public string ToJson() => Root.ToJsonString(Indented) + Environment.NewLine;

    /// <summary>
    /// Validates the edited document with <paramref name="loader"/> and, when valid, writes it
    /// atomically (temporary file, then rename). Returns the loaded configuration.
    /// </summary>
    /// <exception cref="ConfigException">When the edited document is invalid; the file is left unchanged.</exception>
    public TocsinConfig Save(ConfigLoader loader)
    {
        string json = ToJson();
        var config = loader.Parse(json, Path);
        string? dir = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        string tmp = Path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(tmp, json);
        File.Move(tmp, Path, overwrite: true);
        return config;
    }

    private JsonObject At(int number)
    {
        var checks = Checks;
        if (number < 1 || number > checks.Count || checks[number - 1] is not JsonObject o)
        {
            throw new ArgumentOutOfRangeException(nameof(number), number, $"there is no check number {number}; numbers run from 1 to {checks.Count} (see `tocsin config checks show --numbered`)");
        }

        return o;
    }

    private void Apply(JsonObject check, HttpCheckEdit edit)
    {
        bool seed = Format == ConfigFormat.Seed004;
        if (edit.Url is not null)
        {
            check["url"] = edit.Url;
        }

        if (edit.Method is not null)
        {
            check["method"] = edit.Method.ToUpperInvariant();
        }
        else if (seed && !check.ContainsKey("method"))
        {
            check["method"] = "GET";
        }

        if (seed)
        {
            if (edit.CheckRegex is { } cr)
            {
                check["check_regex"] = cr;
            }
            else if (edit.Regex is not null && !check.ContainsKey("check_regex"))
            {
                check["check_regex"] = true;
            }

            if (edit.Regex is not null)
            {
                check["regex"] = edit.Regex;
            }

            if (edit.Interval is { } i)
            {
                check["interval_sec"] = (long)Math.Round(i.TotalSeconds);
            }

            if (edit.Timeout is { } t)
            {
                check["timeout"] = t.TotalSeconds;
            }

            return;
        }

        if (edit.Interval is { } interval)
        {
            check["interval"] = Duration.Format(interval);
        }

        if (edit.Timeout is { } timeout)
        {
            check["timeout"] = Duration.Format(timeout);
        }

        if (edit.Regex is not null || edit.ExpectStatus is not null || edit.CheckRegex == false)
        {
            if (check["expect"] is not JsonObject expect)
            {
                expect = [];
                check["expect"] = expect;
            }

            if (edit.CheckRegex == false)
            {
                expect.Remove("bodyRegex");
            }
            else if (edit.Regex is not null)
            {
                expect["bodyRegex"] = edit.Regex;
            }

            if (edit.ExpectStatus is not null)
            {
                expect["status"] = new JsonArray([.. edit.ExpectStatus.Select(s => (JsonNode)s)]);
            }
        }
    }
}
