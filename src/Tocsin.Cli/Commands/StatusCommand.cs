using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Spectre.Console;
using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Configuration;
using Tocsin.Status;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Cli.Commands;

/// <summary>
/// <c>tocsin status [--json]</c>: the latest state of each configured check; from the central PostgreSQL when
/// <c>externalDatabaseUri</c> is set (the whole fleet), else, or when it cannot be read, from the local database
/// (then a line on stderr says so and why, and every entry is marked <c>"source": "local"</c>; the exit code stays 0).
/// </summary>
internal static class StatusCommand
{
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Longest the command waits for the central database before showing the local one.</summary>
    internal static readonly TimeSpan CentralTimeout = TimeSpan.FromSeconds(10);

    public static Command Build()
    {
        var json = new Option<bool>("--json")
        {
            Description = "Print a JSON array of {name, kind, state, lastRun, durationMs, message, consecutiveFailures, lastChange, agentId, source}.",
        };
        var cmd = new Command("status", "Show the latest state of each check: from the central database when one is configured (every agent's results), else from the local database.") { json };
        cmd.SetAction(async (parse, ct) =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(path);
            var checks = PromiseWatcher.LoadCatalog(config, TimeProvider.System).Checks;
            using var outbox = File.Exists(config.LocalDatabasePath) ? new SqliteOutbox(config.LocalDatabasePath) : null;
            StatusReading reading;
            if (config.ExternalDatabaseUri is { } external)
            {
                NpgsqlDataSource? source = null;
                string? reason = null;
                try
                {
                    var builder = new NpgsqlDataSourceBuilder(PostgresConnectionString.Resolve(external, config.ExternalDatabasePasswordFile));
                    builder.ConnectionStringBuilder.ApplicationName ??= "tocsin status";
                    source = builder.Build();
                }
                catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    reason = Secrets.RedactConnectionString(ex.Message);
                }

                await using (source)
                {
                    // Asked for once by a person or a script: worth waiting longer than an API request would.
                    var reader = new CheckStatusReader(outbox, source is null ? null : new CentralStatusReader(source), NullLogger<CheckStatusReader>.Instance)
                    {
                        CentralTimeout = CentralTimeout,
                    };
                    reading = await reader.ReadChecksAsync(checks, ct).ConfigureAwait(false);
                    reading = reading with { FallbackReason = reading.FallbackReason ?? reason };
                }

                if (reading.FallbackReason is { } why)
                {
                    await Console.Error.WriteLineAsync(
                        $"tocsin: cannot read the central database ({why}); showing this agent's local results only (source: local).").ConfigureAwait(false);
                }
            }
            else
            {
                reading = await new CheckStatusReader(outbox, null, NullLogger<CheckStatusReader>.Instance).ReadChecksAsync(checks, ct).ConfigureAwait(false);
            }

            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(reading.Checks, Json));
                return 0;
            }

            var table = new Table().AddColumns("Check", "Kind", "State", "Last run (UTC)", "ms", "Fails", "Agent", "Message");
            table.Caption(reading.Source == StatusReport.SourceCentral ? "from the central database (every agent)" : "from the local database (this agent)");
            foreach (var s in reading.Checks)
            {
                table.AddRow(
                    Markup.Escape(s.Name), s.Kind, Colour(s.State),
                    s.LastRun?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-",
                    s.DurationMs?.ToString("0.#", CultureInfo.InvariantCulture) ?? "-",
                    s.ConsecutiveFailures.ToString(CultureInfo.InvariantCulture),
                    s.AgentId?.ToString("D") ?? "-",
                    Markup.Escape(s.Problem is { } problem && s.State != StatusReport.Pending ? $"disabled: {problem} (last: {s.Message})" : s.Message ?? ""));
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    internal static string Colour(string state) => state switch
    {
        nameof(CheckState.OK) => "[green]OK[/]",
        nameof(CheckState.WARNING) => "[yellow]WARNING[/]",
        nameof(CheckState.CRITICAL) => "[red]CRITICAL[/]",
        nameof(CheckState.UNKNOWN) => "[purple]UNKNOWN[/]",
        _ => "[grey]" + state + "[/]",
    };
}
