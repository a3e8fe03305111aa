using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Export;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Cli.Commands;

/// <summary><c>tocsin export status [--json]</c>: the export backlog and the exporter's last outcome, from the local outbox.</summary>
internal static class ExportCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Build()
    {
        var export = new Command("export", "The export of results from the local outbox to the central PostgreSQL.");
        export.Subcommands.Add(BuildStatus());
        return export;
    }

    private static Command BuildStatus()
    {
        var json = new Option<bool>("--json")
        {
            Description = "Print a JSON object {configured, target, pendingRows, oldestPendingAt, oldestPendingAgeSeconds, lastSuccessAt, lastError, lastErrorAt, consecutiveFailures, nextAttemptAt, rowsExported, rowsPerSecond, batchSize, droppedRows, lastDropAt}.",
        };
        var cmd = new Command("status", "Show how many results wait for export, how old the oldest is, and the last success and error (read from the local database).") { json };
        cmd.SetAction(parse =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(path);
            var now = TimeProvider.System.GetUtcNow();
            ExportStatus status;
            if (File.Exists(config.LocalDatabasePath))
            {
                using var outbox = StartCommand.OpenOutbox(config.LocalDatabasePath);
                if (outbox is null)
                {
                    return 74;
                }

                status = Exporter.ReadStatus(outbox, now);
            }
            else
            {
                status = new ExportStatus(0, null, null, null, null, 0, null, 0, 0, 0);
            }

            var view = ExportStatusView.From(status, config.ExternalDatabaseUri, now);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(view, Json));
                return 0;
            }

            var table = new Table().AddColumns("Export", "Value");
            table.AddRow("Central database", view.Configured ? Markup.Escape(view.Target!) : "[grey]not configured (externalDatabaseUri)[/]");
            table.AddRow("Pending rows", view.PendingRows.ToString("N0", CultureInfo.InvariantCulture));
            table.AddRow("Oldest pending", view.OldestPendingAt is { } at ? $"{Time(at)} ({Age(status.OldestPendingAge!.Value)} ago)" : "-");
            table.AddRow("Last success", view.LastSuccessAt is { } s ? Time(s) : "-");
            table.AddRow("Last error", view.LastError is { } e ? $"[red]{Markup.Escape(e)}[/] at {Time(view.LastErrorAt!.Value)}" : "-");
            table.AddRow("Failures in a row", view.ConsecutiveFailures.ToString(CultureInfo.InvariantCulture));
            table.AddRow("Next attempt", view.NextAttemptAt is { } n ? Time(n) : "-");
            table.AddRow("Rows exported", view.RowsExported.ToString("N0", CultureInfo.InvariantCulture));
            table.AddRow("Rows/s (last batch)", view.RowsPerSecond.ToString("N0", CultureInfo.InvariantCulture));
            table.AddRow(
                "Lost (maxOutboxSize)",
                view.DroppedRows > 0
                    ? $"[red]{view.DroppedRows.ToString("N0", CultureInfo.InvariantCulture)} result(s) dropped unexported, last at {Time(view.LastDropAt ?? now)}[/]"
                    : "0");
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";

    private static string Age(TimeSpan age) => Duration.Format(TimeSpan.FromSeconds(Math.Floor(age.TotalSeconds)));
}
