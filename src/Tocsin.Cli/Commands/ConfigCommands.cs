using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tocsin.Checks;
using Tocsin.Checks.MongoDbReplicaSet;
using Tocsin.Configuration;
using Tocsin.Storage.Postgres;

namespace Tocsin.Cli.Commands;

/// <summary>
/// <c>tocsin config create|show</c>, <c>tocsin config checks add|show|update|remove</c>
/// (<c>services</c> is an alias of <c>checks</c>, as in seed 004) and <c>tocsin config databases show|update</c>.
/// Every edit is validated like a load before the file is replaced.
/// </summary>
internal static class ConfigCommands
{
    private static readonly string[] SecretKeys = ["externalDatabaseUri", "external_database_uri"];

    public static Command Build()
    {
        var config = new Command("config", "Create, show and edit the configuration file.");
        config.Subcommands.Add(BuildCreate());
        config.Subcommands.Add(BuildShow());
        config.Subcommands.Add(BuildChecks());
        config.Subcommands.Add(BuildDatabases());
        return config;
    }

    private static ConfigLoader Loader() => new(CheckKinds.CreateDefault(TimeProvider.System));

    private static Command BuildCreate()
    {
        var uri = new Argument<string?>("EXTERNAL_DATABASE_URI") { Description = "Central PostgreSQL to export results to (optional).", Arity = ArgumentArity.ZeroOrOne };
        var local = new Option<string?>("--local-database") { Description = "Local SQLite outbox path (default ~/.tocsin/local.db)." };
        var force = new Option<bool>("--force") { Description = "Replace an existing file." };
        var cmd = new Command("create", "Write a new configuration file with no checks.") { uri, local, force };
        cmd.SetAction(parse =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            if (File.Exists(path) && !parse.GetValue(force))
            {
                Console.Error.WriteLine($"tocsin: {path} already exists; pass --force to replace it.");
                return 73;
            }

            ConfigFile.Create(path, parse.GetValue(uri), parse.GetValue(local)).Save(Loader());
            Console.Out.WriteLine($"Created {path}");
            return 0;
        });
        return cmd;
    }

    private static readonly string[] CheckSecretKeys = ["token", "pat"];

    private static readonly string[] ChannelSecretKeys = ["pat", "password", "secret", "token", "webhookUrl"];

    private static Command BuildShow()
    {
        var cmd = new Command("show", "Print the configuration file (the external database password, heartbeat tokens and notification channels' secrets are hidden).");
        cmd.SetAction(parse =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var file = ConfigFile.Open(path);
            Loader().Parse(file.ToJson(), path);
            foreach (string key in SecretKeys)
            {
                if (file.Root[key] is JsonValue v && v.TryGetValue(out string? s))
                {
                    file.Root[key] = Secrets.RedactConnectionString(s);
                }
            }

            foreach (var check in (file.Root["checks"] as JsonArray ?? []).OfType<JsonObject>())
            {
                // A heartbeat check's inline token is the credential of its ping URL; a rocketchat-apps check's PAT is an admin's.
                foreach (string key in CheckSecretKeys)
                {
                    if (check[key] is JsonValue)
                    {
                        check[key] = Secrets.Mask;
                    }
                }

                // A mongodb-replicaset check's URI keeps its hosts, its password hidden.
                if (check["connectionString"] is JsonValue c && c.TryGetValue(out string? connection))
                {
                    check["connectionString"] = MongoConnectionString.TryParse(connection, out var parsed, out _) ? parsed!.Redacted : Secrets.Mask;
                }
            }

            foreach (var channel in (file.Root["notifications"] as JsonArray ?? []).OfType<JsonObject>())
            {
                RedactChannel(channel);
            }

            Console.Out.Write(file.ToJson());
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// Hides a notification channel's inline secrets: PAT, password, HMAC secret, token, incoming-webhook URLs, a Slack URL,
    /// every header value, and the query and user info of a webhook URL (file and variable names stay: they are not secrets).
    /// </summary>
    internal static void RedactChannel(JsonObject channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        string? type = channel["type"] is JsonValue t && t.TryGetValue(out string? typeName) ? typeName : null;
        foreach (string key in ChannelSecretKeys)
        {
            if (channel[key] is JsonValue)
            {
                channel[key] = Secrets.Mask;
            }
        }

        if (channel["url"] is JsonValue u && u.TryGetValue(out string? url))
        {
            channel["url"] = type == "slack" ? Secrets.Mask
                : Uri.TryCreate(url, UriKind.Absolute, out var parsed) && (parsed.Query.Length > 0 || parsed.UserInfo.Length > 0)
                    ? $"{parsed.Scheme}://{parsed.Authority}{parsed.AbsolutePath}{(parsed.Query.Length > 0 ? "?" + Secrets.Mask : "")}"
                    : url;
        }

        if (channel["headers"] is JsonObject headers)
        {
            foreach (string name in headers.Select(h => h.Key).ToList())
            {
                headers[name] = Secrets.Mask;
            }
        }
    }

    private static Command BuildChecks()
    {
        var checks = new Command("checks", "List and edit checks.");
        checks.Aliases.Add("services");

        var url = new Argument<string>("URL") { Description = "The URL to check." };
        var method = new Argument<string?>("METHOD") { Description = "GET (default), POST, PUT, PATCH, DELETE, HEAD, OPTIONS.", Arity = ArgumentArity.ZeroOrOne };
        var add = new Command("add", "Add an http check.") { url, method };
        var addOptions = EditOptions.AddTo(add);
        add.SetAction(parse =>
        {
            var file = ConfigFile.Open(TocsinCommand.ResolveConfigPath(parse));
            file.AddHttpCheck(addOptions.Read(parse) with { Url = parse.GetValue(url), Method = parse.GetValue(method) });
            var saved = file.Save(Loader());
            Console.Out.WriteLine($"Added check {saved.Checks.Count}: {saved.Checks[^1].Name}");
            return 0;
        });

        var numbered = new Option<bool>("--numbered", "-n") { Description = "Show the numbers used by update and remove." };
        var show = new Command("show", "List the checks.") { numbered };
        show.SetAction(parse =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var kinds = CheckKinds.CreateDefault(TimeProvider.System);
            var config = new ConfigLoader(kinds).Load(path);
            var table = new Table();
            if (parse.GetValue(numbered))
            {
                table.AddColumn("#");
            }

            table.AddColumns("Name", "Kind", "Target", "Interval", "Timeout");
            int i = 1;
            foreach (var c in config.Checks)
            {
                var cells = new List<string>();
                if (parse.GetValue(numbered))
                {
                    cells.Add((i++).ToString(CultureInfo.InvariantCulture));
                }

                cells.AddRange([Markup.Escape(c.Name), c.Kind, Markup.Escape(kinds.Get(c.Kind).Describe(c.Options)), Duration.Format(c.Interval), Duration.Format(c.Timeout)]);
                table.AddRow([.. cells]);
            }

            AnsiConsole.Write(table);
            return 0;
        });

        var number = new Argument<int>("N") { Description = "Check number, as `checks show --numbered` prints." };
        var newUrl = new Option<string?>("--url") { Description = "New URL." };
        var newMethod = new Option<string?>("--method") { Description = "New method." };
        var update = new Command("update", "Change check number N.") { number, newUrl, newMethod };
        var updateOptions = EditOptions.AddTo(update);
        update.SetAction(parse =>
        {
            var file = ConfigFile.Open(TocsinCommand.ResolveConfigPath(parse));
            file.UpdateHttpCheck(parse.GetValue(number), updateOptions.Read(parse) with { Url = parse.GetValue(newUrl), Method = parse.GetValue(newMethod) });
            file.Save(Loader());
            Console.Out.WriteLine($"Updated check {parse.GetValue(number)}");
            return 0;
        });

        var removeNumber = new Argument<int>("N") { Description = "Check number, as `checks show --numbered` prints." };
        var remove = new Command("remove", "Remove check number N.") { removeNumber };
        remove.SetAction(parse =>
        {
            var file = ConfigFile.Open(TocsinCommand.ResolveConfigPath(parse));
            var removed = file.RemoveCheck(parse.GetValue(removeNumber));
            file.Save(Loader());
            Console.Out.WriteLine($"Removed check {parse.GetValue(removeNumber)}: {removed["name"] ?? removed["url"]}");
            return 0;
        });

        checks.Subcommands.Add(add);
        checks.Subcommands.Add(show);
        checks.Subcommands.Add(update);
        checks.Subcommands.Add(remove);
        foreach (var c in new[] { add, update, remove })
        {
            var inner = c.Action;
            c.SetAction(parse =>
            {
                try
                {
                    return ((System.CommandLine.Invocation.SynchronousCommandLineAction)inner!).Invoke(parse);
                }
                catch (ArgumentOutOfRangeException ex)
                {
                    Console.Error.WriteLine($"tocsin: {ex.Message.Split(Environment.NewLine)[0]}");
                    return 64;
                }
                catch (FormatException ex)
                {
                    Console.Error.WriteLine($"tocsin: {ex.Message}");
                    return 64;
                }
            });
        }

        return checks;
    }

    private static readonly JsonSerializerOptions DatabasesJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static Command BuildDatabases()
    {
        var databases = new Command("databases", "Show and change the local database (outbox) and the central PostgreSQL.");

        var json = new Option<bool>("--json") { Description = "Print a JSON object {localDatabasePath, externalDatabaseUri, exportEnabled, passwordSource, passwordFile}." };
        var show = new Command("show", "Print the local database path, the central database (password hidden) and where its password comes from.") { json };
        show.SetAction(parse =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var config = Loader().Load(path);
            var view = DatabasesView.From(config);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(view, DatabasesJson));
                return 0;
            }

            string localField = config.Format == ConfigFormat.Seed004 ? "local_database_path" : "localDatabasePath";
            string externalField = config.Format == ConfigFormat.Seed004 ? "external_database_uri" : "externalDatabaseUri";
            var table = new Table().AddColumns("Database", "Value");
            table.AddRow("Local (outbox)", $"{Markup.Escape(view.LocalDatabasePath)} [grey]({localField})[/]");
            table.AddRow("Central (export)", view.ExternalDatabaseUri is { } uri
                ? $"{Markup.Escape(uri)} [grey]({externalField})[/]"
                : $"[grey]none: export is off ({externalField} is not set)[/]");
            if (view.ExportEnabled)
            {
                table.AddRow("Password", view.PasswordSource switch
                {
                    "uri" => "from the URI",
                    "file" => $"from the first line of {Markup.Escape(view.PasswordFile!)} (externalDatabasePasswordFile){(view.PasswordFileError is { } e ? $" [red]which cannot be read here: {Markup.Escape(e)}[/]" : "")}",
                    "environment" => $"from {PostgresConnectionString.PasswordVariable} (set in this environment)",
                    _ => $"[yellow]none[/]: the URI has none, no externalDatabasePasswordFile, and {PostgresConnectionString.PasswordVariable} is not set here (the agent's service environment may set it)",
                });
            }

            AnsiConsole.Write(table);
            return 0;
        });

        var local = new Option<string?>("--local") { Description = "Local SQLite outbox path (~ expanded; relative to the configuration file)." };
        var external = new Option<string?>("--external")
        {
            Description = "Central PostgreSQL: postgresql://user[:password]@host[:port]/database[?sslmode=…] or Host=…;Username=…;Database=…; \"\" turns export off.",
        };
        var noExternal = new Option<bool>("--no-external") { Description = "Turn export off (removes externalDatabaseUri); the same as --external \"\"." };
        var update = new Command("update", "Change the local database path and/or the central database; validated like a load, then the file is replaced atomically.")
        {
            local, external, noExternal,
        };
        update.SetAction(parse =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            string? newLocal = parse.GetValue(local);
            string? newExternal = parse.GetValue(external);
            bool off = parse.GetValue(noExternal);
            if (newLocal is null && newExternal is null && !off)
            {
                Console.Error.WriteLine("tocsin: config databases update: nothing to change; give --local PATH, --external URI, or --no-external (or --external \"\") to turn export off.");
                return 64;
            }

            if (off && !string.IsNullOrEmpty(newExternal))
            {
                Console.Error.WriteLine("tocsin: config databases update: --no-external and --external URI contradict each other; give one of them.");
                return 64;
            }

            var file = ConfigFile.Open(path);
            TocsinConfig? before = null;
            try
            {
                before = Loader().Load(path);
            }
            catch (ConfigException)
            {
                // The file is invalid as it is; this update may be what repairs it.
            }

            file.SetDatabases(newLocal, off ? "" : newExternal);
            var saved = file.Save(Loader());

            Console.Out.WriteLine($"Updated {path}");
            Console.Out.WriteLine($"  {file.LocalDatabaseField}: {saved.LocalDatabasePath}");
            Console.Out.WriteLine(saved.ExternalDatabaseUri is { } uri
                ? $"  {file.ExternalDatabaseField}: {Secrets.RedactConnectionString(uri)}"
                : $"  {file.ExternalDatabaseField}: none (export is off)");
            if (before is not null && saved.LocalDatabasePath != before.LocalDatabasePath && File.Exists(before.LocalDatabasePath))
            {
                Console.Error.WriteLine(
                    $"tocsin: the results in {before.LocalDatabasePath} are not moved, including any not exported yet; to keep them, stop the agent and move the file (with its -wal file) to {saved.LocalDatabasePath}.");
            }

            Console.Out.WriteLine("Restart the agent (tocsin start) for the change to take effect.");
            return 0;
        });

        databases.Subcommands.Add(show);
        databases.Subcommands.Add(update);
        return databases;
    }

    /// <summary>What <c>config databases show --json</c> prints; no secret in it.</summary>
    /// <param name="LocalDatabasePath">Absolute path of the local outbox.</param>
    /// <param name="ExternalDatabaseUri">The central database with the password replaced by <c>***</c>, or null.</param>
    /// <param name="ExportEnabled">Whether results are exported (a central database is set).</param>
    /// <param name="PasswordSource"><c>uri</c>, <c>file</c>, <c>environment</c> (<c>TOCSIN_PG_PASSWORD</c>) or <c>none</c>; null without a central database.</param>
    /// <param name="PasswordFile">Absolute path of <c>externalDatabasePasswordFile</c>, or null.</param>
    /// <param name="PasswordFileError">Why the password file cannot be read by this user, or null.</param>
    private sealed record DatabasesView(
        string LocalDatabasePath, string? ExternalDatabaseUri, bool ExportEnabled, string? PasswordSource, string? PasswordFile, string? PasswordFileError)
    {
        public static DatabasesView From(TocsinConfig config)
        {
            if (config.ExternalDatabaseUri is not { } uri)
            {
                return new DatabasesView(config.LocalDatabasePath, null, false, null, config.ExternalDatabasePasswordFile, null);
            }

            string source;
            string? fileError = null;
            try
            {
                source = PostgresConnectionString.FindPasswordSource(uri, config.ExternalDatabasePasswordFile).ToString().ToLowerInvariant();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The agent would read it (and fail) before the environment: the file is the source.
                source = "file";
                fileError = ex.Message;
            }

            return new DatabasesView(config.LocalDatabasePath, Secrets.RedactConnectionString(uri), true, source, config.ExternalDatabasePasswordFile, fileError);
        }
    }

    /// <summary>The options shared by <c>checks add</c> and <c>checks update</c>.</summary>
    private sealed class EditOptions
    {
        private readonly Option<string?> _name = new("--name") { Description = "Check name (default: METHOD URL)." };
        private readonly Option<string?> _regex = new("--regex") { Description = "Pattern the body must contain." };
        private readonly Option<bool?> _checkRegex = new("--check-regex") { Description = "Check the pattern (seed 004's check_regex); --check-regex false turns it off." };
        private readonly Option<string?> _interval = new("--interval") { Description = "Time between runs, e.g. 30s, 5m." };
        private readonly Option<string?> _timeout = new("--timeout") { Description = "Longest a run may take, e.g. 10s." };
        private readonly Option<string?> _status = new("--expect-status") { Description = "Accepted status codes, e.g. 200,204." };

        public static EditOptions AddTo(Command cmd)
        {
            var o = new EditOptions();
            cmd.Options.Add(o._name);
            cmd.Options.Add(o._regex);
            cmd.Options.Add(o._checkRegex);
            cmd.Options.Add(o._interval);
            cmd.Options.Add(o._timeout);
            cmd.Options.Add(o._status);
            return o;
        }

        /// <exception cref="FormatException">When a duration or status list is malformed.</exception>
        public HttpCheckEdit Read(ParseResult parse) => new()
        {
            Name = parse.GetValue(_name),
            Regex = parse.GetValue(_regex),
            CheckRegex = parse.GetValue(_checkRegex),
            Interval = parse.GetValue(_interval) is { } i ? ParseDuration("--interval", i) : null,
            Timeout = parse.GetValue(_timeout) is { } t ? ParseDuration("--timeout", t) : null,
            ExpectStatus = parse.GetValue(_status) is { } s ? ParseStatus(s) : null,
        };

        private static TimeSpan ParseDuration(string option, string text) =>
            Duration.TryParse(text, out var d) ? d : throw new FormatException($"{option} \"{text}\" is not a duration; use {Duration.Allowed}.");

        private static int[] ParseStatus(string text) =>
            [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p =>
                int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int code) && code is >= 100 and <= 599
                    ? code
                    : throw new FormatException($"--expect-status \"{text}\": \"{p}\" is not a status code from 100 to 599; write codes separated by commas, e.g. 200,204."))];
    }
}
