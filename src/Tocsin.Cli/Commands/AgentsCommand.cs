using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Spectre.Console;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Fleet;
using Tocsin.Storage.Postgres;

namespace Tocsin.Cli.Commands;

/// <summary><c>tocsin agents [--json]</c>: the agents sharing the central PostgreSQL, live or not, the leader, and how many of the configured checks each runs.</summary>
internal static class AgentsCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Build()
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {id, hostname, version, startedAt, lastHeartbeat, live, leader, checksOwned}." };
        var cmd = new Command("agents", "List the agents sharing the central database (externalDatabaseUri), which are live, and which leads.") { json };
        cmd.SetAction(async (parse, ct) =>
        {
            string path = TocsinCommand.ResolveConfigPath(parse);
            var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(path);
            if (config.ExternalDatabaseUri is not { } external)
            {
                await Console.Error.WriteLineAsync($"tocsin: {path} sets no externalDatabaseUri; a single agent with SQLite alone is its own leader.").ConfigureAwait(false);
                return 64;
            }

            IReadOnlyList<AgentInfo> agents;
            try
            {
                await using var source = NpgsqlDataSource.Create(PostgresConnectionString.Resolve(external, config.ExternalDatabasePasswordFile));
                agents = await AgentFleet.ListAsync(source, new FleetOptions { HeartbeatInterval = config.HeartbeatInterval }, ct).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState == "42P01")
            {
                agents = [];
            }
            catch (NpgsqlException ex)
            {
                await Console.Error.WriteLineAsync($"tocsin: cannot read the central database: {Secrets.RedactConnectionString(ex.Message)}").ConfigureAwait(false);
                return 69;
            }

            var owned = CheckOwnership.CountOwned(config.Checks, agents);
            var views = agents.Select(a => new AgentView(a.Id, a.Hostname, a.Version, a.StartedAt, a.LastHeartbeat, a.Live, a.Leader, owned[a.Id])).ToList();
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(views, Json));
                return 0;
            }

            var table = new Table().AddColumns("Agent", "Host", "Version", "Started (UTC)", "Last heartbeat (UTC)", "Live", "Leader", "Checks");
            foreach (var a in views)
            {
                table.AddRow(
                    a.Id.ToString("D"), Markup.Escape(a.Hostname), Markup.Escape(a.Version),
                    a.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    a.LastHeartbeat.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    a.Live ? "[green]yes[/]" : "[grey]no[/]", a.Leader ? "[bold]leader[/]" : "",
                    a.ChecksOwned.ToString(CultureInfo.InvariantCulture));
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }
}

/// <summary>One agent as <c>tocsin agents</c> prints it: <see cref="AgentInfo"/> and how many of this configuration's checks it runs now.</summary>
internal sealed record AgentView(Guid Id, string Hostname, string Version, DateTimeOffset StartedAt, DateTimeOffset LastHeartbeat, bool Live, bool Leader, int ChecksOwned);
