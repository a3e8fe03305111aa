using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Status;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Cli.Commands;

/// <summary><c>tocsin status [--json]</c>: the latest state of each configured check, from the local database.</summary>
internal static class StatusCommand
{
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static Command Build()
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {name, kind, state, lastRun, durationMs, message, consecutiveFailures}." };
        var cmd = new Command("status", "Show the latest state of each check from the local database.") { json };
        cmd.SetAction(parse =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(path);
            IReadOnlyList<CheckStatusView> report;
            if (File.Exists(config.LocalDatabasePath))
            {
                using var outbox = new SqliteOutbox(config.LocalDatabasePath);
                report = StatusReport.Build(config.Checks, outbox);
            }
            else
            {
                report = StatusReport.Build(config.Checks, new Dictionary<string, CheckStatus>());
            }

            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(report, Json));
                return 0;
            }

            var table = new Table().AddColumns("Check", "Kind", "State", "Last run (UTC)", "ms", "Fails", "Message");
            foreach (var s in report)
            {
                table.AddRow(
                    Markup.Escape(s.Name), s.Kind, Colour(s.State),
                    s.LastRun?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-",
                    s.DurationMs?.ToString("0.#", CultureInfo.InvariantCulture) ?? "-",
                    s.ConsecutiveFailures.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(s.Message ?? ""));
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
