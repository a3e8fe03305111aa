using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Spectre.Console;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Configuration;
using Tocsin.Status;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Cli.Commands;

/// <summary>
/// <c>tocsin ack CHECK [--comment TEXT]</c>, <c>tocsin silence CHECK --for 30m [--comment TEXT]</c>, <c>tocsin silence list</c>,
/// <c>tocsin silence end ID</c> and <c>tocsin notifications [--check X] [--channel Y] [--status S] [--limit N]</c>. They read and
/// write the alert store directly (the local outbox, or the central PostgreSQL when <c>externalDatabaseUri</c> is set), so they
/// work whether or not an agent runs; acknowledgements and silences are applied by the leader's notifier on its next pass
/// (about a second when it runs). The author recorded is <c>$USER</c>, else <c>cli</c>.
/// Exit codes: 0 done; 1 refused (nothing to acknowledge, no such active silence); 64 a bad argument (unknown check, bad
/// length or status); 69 the central database cannot be reached; 74 the local database cannot be opened; 78 a bad configuration.
/// </summary>
internal static class AlertingCommands
{
    /// <summary>Exit code when the store refuses what was asked (nothing to acknowledge, no such silence).</summary>
    public const int RefusedExitCode = 1;

    /// <summary>Exit code of a bad argument (EX_USAGE).</summary>
    public const int UsageExitCode = 64;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary><c>tocsin ack</c>.</summary>
    public static Command BuildAck()
    {
        var check = new Argument<string>("CHECK") { Description = "The check whose current problem to acknowledge (its name in the configuration)." };
        var comment = new Option<string?>("--comment", "-m") { Description = $"Why, or who is on it (at most {AlertCommands.MaxCommentLength} characters)." };
        var cmd = new Command("ack", "Acknowledge a check's current problem: its reminders and escalation stop until it recovers; its channels are told.") { check, comment };
        cmd.SetAction(async (parse, ct) =>
        {
            var (config, checks) = Load(parse);
            string name = parse.GetValue(check)!;
            if (!KnownCheck(checks, name))
            {
                return UsageExitCode;
            }

            string? text = parse.GetValue(comment);
            if (AlertCommands.CheckComment(text) is { } bad)
            {
                return await FailAsync(UsageExitCode, $"--comment {bad}").ConfigureAwait(false);
            }

            return await WithStoreAsync(config, create: true, async (maybeStore, outbox) =>
            {
                var store = maybeStore!; // create: true always passes a store
                var record = (await store.ReadRecordsAsync(ct).ConfigureAwait(false)).FirstOrDefault(r => r.CheckName == name);
                CheckState? tracked = outbox?.ReadTrackedStates().GetValueOrDefault(name)?.HardState;
                if (AlertCommands.AcknowledgeRefusal(name, record, tracked) is { } refusal)
                {
                    return await FailAsync(RefusedExitCode, refusal + ".").ConfigureAwait(false);
                }

                var command = AlertCommands.Acknowledge(name, record is { Hard: not CheckState.OK } ? record.IncidentId : null, Author(), text, TimeProvider.System.GetUtcNow());
                await store.AddCommandAsync(command, ct).ConfigureAwait(false);
                Console.Out.WriteLine($"Acknowledgement of \"{name}\" stored (id {command.Id:D}, by {command.Author}); the notifier applies it on its next pass.");
                return 0;
            }).ConfigureAwait(false);
        });
        return cmd;
    }

    /// <summary><c>tocsin silence</c> with its <c>list</c> and <c>end</c> subcommands.</summary>
    public static Command BuildSilence()
    {
        var check = new Argument<string?>("CHECK") { Description = "The check to silence (its name in the configuration).", Arity = ArgumentArity.ZeroOrOne };
        var length = new Option<string?>("--for") { Description = $"How long: {AlertCommands.SilenceAllowed}." };
        var comment = new Option<string?>("--comment", "-m") { Description = $"Why (at most {AlertCommands.MaxCommentLength} characters)." };
        var cmd = new Command("silence", "Hold a check's problems, reminders and escalations for a while (state is still tracked; what is still wrong when it ends is sent then). `silence list` shows the active silences, `silence end ID` ends one.")
        {
            check, length, comment,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var (config, checks) = Load(parse);
            string? name = parse.GetValue(check);
            if (string.IsNullOrEmpty(name))
            {
                return await FailAsync(UsageExitCode, "give the CHECK to silence and --for, e.g. tocsin silence \"web home\" --for 30m; or `tocsin silence list`, `tocsin silence end ID`.").ConfigureAwait(false);
            }

            if (!KnownCheck(checks, name))
            {
                return UsageExitCode;
            }

            if (AlertCommands.CheckSilenceLength(parse.GetValue(length), out var duration) is { } badLength)
            {
                return await FailAsync(UsageExitCode, $"--for: {badLength}.").ConfigureAwait(false);
            }

            string? text = parse.GetValue(comment);
            if (AlertCommands.CheckComment(text) is { } badComment)
            {
                return await FailAsync(UsageExitCode, $"--comment {badComment}").ConfigureAwait(false);
            }

            return await WithStoreAsync(config, create: true, async (store, _) =>
            {
                var command = AlertCommands.Silence(name, duration, Author(), text, TimeProvider.System.GetUtcNow());
                await store!.AddCommandAsync(command, ct).ConfigureAwait(false);
                Console.Out.WriteLine($"Silenced \"{name}\" until {Time(command.EndsAt!.Value)} (id {command.Id:D}); end it early with: tocsin silence end {command.Id:D}");
                return 0;
            }).ConfigureAwait(false);
        });

        var json = new Option<bool>("--json") { Description = "Print a JSON array of {id, check, createdAt, endsAt, author, comment}." };
        var list = new Command("list", "List the active silences, ending first first.") { json };
        list.SetAction(async (parse, ct) =>
        {
            var (config, _) = Load(parse);
            return await WithStoreAsync(config, create: false, async (store, _) =>
            {
                IReadOnlyList<Silence> silences = store is null ? [] : await store.ReadSilencesAsync(TimeProvider.System.GetUtcNow(), ct).ConfigureAwait(false);
                var views = silences.OrderBy(s => s.EndsAt).Select(SilenceView.Of).ToList();
                if (parse.GetValue(json))
                {
                    Console.Out.WriteLine(JsonSerializer.Serialize(views, Json));
                    return 0;
                }

                var table = new Table().AddColumns("Id", "Check", "Ends (UTC)", "By", "Comment");
                foreach (var s in views)
                {
                    table.AddRow(s.Id.ToString("D"), Markup.Escape(s.Check), Time(s.EndsAt), Markup.Escape(s.Author ?? "-"), Markup.Escape(s.Comment ?? ""));
                }

                table.Caption(views.Count == 0 ? "no active silence" : $"{views.Count} active silence(s)");
                AnsiConsole.Write(table);
                return 0;
            }).ConfigureAwait(false);
        });
        cmd.Subcommands.Add(list);

        var id = new Argument<string>("ID") { Description = "The silence's id, as `tocsin silence` or `tocsin silence list` prints it." };
        var end = new Command("end", "End an active silence now.") { id };
        end.SetAction(async (parse, ct) =>
        {
            var (config, _) = Load(parse);
            string text = parse.GetValue(id)!;
            if (!Guid.TryParse(text, out var silenceId))
            {
                return await FailAsync(UsageExitCode, $"ID \"{text}\" is not a silence id (a UUID, as `tocsin silence list` prints it).").ConfigureAwait(false);
            }

            return await WithStoreAsync(config, create: false, async (store, _) =>
            {
                if (store is null || !await store.EndSilenceAsync(silenceId, TimeProvider.System.GetUtcNow(), ct).ConfigureAwait(false))
                {
                    return await FailAsync(RefusedExitCode, $"no active silence has the id {silenceId:D} (it may have ended); `tocsin silence list` shows the active ones.").ConfigureAwait(false);
                }

                Console.Out.WriteLine($"Silence {silenceId:D} ended.");
                return 0;
            }).ConfigureAwait(false);
        });
        cmd.Subcommands.Add(end);
        return cmd;
    }

    /// <summary><c>tocsin notifications</c>.</summary>
    public static Command BuildNotifications()
    {
        var check = new Option<string?>("--check") { Description = "Only this check's." };
        var channel = new Option<string?>("--channel") { Description = "Only this channel's." };
        var status = new Option<string?>("--status") { Description = "Only pending, delivered or failed ones." };
        var limit = new Option<int>("--limit", "-n") { Description = "Most to show, 1 to 1000 (default 50).", DefaultValueFactory = _ => 50 };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {id, key, type, channel, check, state, createdAt, status, attempts, nextAttemptAt, lastError, deliveredAt}." };
        var cmd = new Command("notifications", "List stored notifications, newest first: what was sent (or is waiting, or was given up) to which channel.")
        {
            check, channel, status, limit, json,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var (config, _) = Load(parse);
            string? statusText = parse.GetValue(status);
            DeliveryStatus? statusFilter = statusText switch
            {
                null or "" => null,
                "pending" => DeliveryStatus.Pending,
                "delivered" => DeliveryStatus.Delivered,
                "failed" => DeliveryStatus.Failed,
                _ => null,
            };
            if (statusText is { Length: > 0 } && statusFilter is null)
            {
                return await FailAsync(UsageExitCode, $"--status \"{statusText}\": must be pending, delivered or failed.").ConfigureAwait(false);
            }

            int n = parse.GetValue(limit);
            if (n is < 1 or > 1000)
            {
                return await FailAsync(UsageExitCode, $"--limit {n.ToString(CultureInfo.InvariantCulture)}: must be from 1 to 1000.").ConfigureAwait(false);
            }

            return await WithStoreAsync(config, create: false, async (store, _) =>
            {
                IReadOnlyList<StoredNotification> rows = store is null
                    ? []
                    : await store.ReadNotificationsAsync(new NotificationQuery(parse.GetValue(check), parse.GetValue(channel), statusFilter, null, n), ct).ConfigureAwait(false);
                var views = rows.Select(NotificationView.Of).ToList();
                if (parse.GetValue(json))
                {
                    Console.Out.WriteLine(JsonSerializer.Serialize(views, Json));
                    return 0;
                }

                var table = new Table().AddColumns("Created (UTC)", "Check", "Type", "Channel", "State", "Status", "Attempts", "Last error");
                foreach (var v in views)
                {
                    table.AddRow(
                        Time(v.CreatedAt), Markup.Escape(v.Check), v.Type, Markup.Escape(v.Channel), StatusCommand.Colour(v.State),
                        v.Status switch { "delivered" => "[green]delivered[/]", "failed" => "[red]failed[/]", _ => "[yellow]pending[/]" },
                        v.Attempts.ToString(CultureInfo.InvariantCulture), Markup.Escape(v.LastError ?? ""));
                }

                table.Caption(views.Count == 0 ? "no notifications" : $"{views.Count} notification(s), newest first");
                AnsiConsole.Write(table);
                return 0;
            }).ConfigureAwait(false);
        });
        return cmd;
    }

    private static (TocsinConfig Config, IReadOnlyList<CheckDefinition> Checks) Load(ParseResult parse)
    {
        string path = TocsinCommand.ResolveConfigPath(parse);
        var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(path);
        return (config, PromiseWatcher.LoadCatalog(config, TimeProvider.System).Checks);
    }

    private static bool KnownCheck(IReadOnlyList<CheckDefinition> checks, string name)
    {
        if (checks.Any(c => c.Name == name))
        {
            return true;
        }

        var near = checks.Where(c => c.Name.Contains(name, StringComparison.OrdinalIgnoreCase)).Take(5).Select(c => "\"" + c.Name + "\"").ToList();
        Console.Error.WriteLine($"tocsin: no check is named \"{name}\" in the configuration{(near.Count > 0 ? "; did you mean " + string.Join(", ", near) + "?" : "")} (`tocsin status` lists the checks).");
        return false;
    }

    private static string Author() => Environment.GetEnvironmentVariable("USER") is { Length: > 0 } user ? user : "cli";

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static async Task<int> FailAsync(int code, string message)
    {
        await Console.Error.WriteLineAsync("tocsin: " + message).ConfigureAwait(false);
        return code;
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the alert store: the central database's when <c>externalDatabaseUri</c> is set (with the
    /// local outbox too when its file exists, for this agent's tracked states), else the local outbox's. With
    /// <paramref name="create"/> false a missing local outbox is not created: the store passed is then null (nothing stored yet).
    /// </summary>
    private static async Task<int> WithStoreAsync(TocsinConfig config, bool create, Func<IAlertStore?, SqliteOutbox?, Task<int>> action)
    {
        bool local = File.Exists(config.LocalDatabasePath);
        if (config.ExternalDatabaseUri is { } external)
        {
            NpgsqlDataSource source;
            try
            {
                var builder = new NpgsqlDataSourceBuilder(PostgresConnectionString.Resolve(external, config.ExternalDatabasePasswordFile));
                builder.ConnectionStringBuilder.ApplicationName ??= "tocsin cli";
                source = builder.Build();
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                return await FailAsync(69, "cannot use the central database: " + Secrets.RedactConnectionString(ex.Message)).ConfigureAwait(false);
            }

            await using (source)
            {
                using var outbox = local ? StartCommand.OpenOutbox(config.LocalDatabasePath) : null;
                try
                {
                    return await action(new PostgresAlertStore(source), outbox).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.SqlState == "42P01")
                {
                    return await FailAsync(69, "the central database has no alerting tables yet: start an agent (tocsin start) against it once to create them.").ConfigureAwait(false);
                }
                catch (NpgsqlException ex)
                {
                    return await FailAsync(69, "cannot reach the central database: " + Secrets.RedactConnectionString(ex.Message)).ConfigureAwait(false);
                }
            }
        }

        if (!local && !create)
        {
            return await action(null, null).ConfigureAwait(false);
        }

        using var opened = StartCommand.OpenOutbox(config.LocalDatabasePath);
        if (opened is null)
        {
            return 74;
        }

        return await action(new SqliteAlertStore(opened), opened).ConfigureAwait(false);
    }
}
