using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Spectre.Console;
using Tocsin.Access;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Ingestion;
using Tocsin.Storage.Postgres;

namespace Tocsin.Cli.Commands;

/// <summary>
/// <c>tocsin tokens create IDENTITY [--role agent|user]</c>, <c>tokens list [--json]</c>, <c>tokens revoke ID</c>: the tokens of
/// the log and notification backend (seed 002's watchdogs and their users), kept as SHA-256 hashes in the ingestion store.
/// </summary>
internal static class TokensCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Build()
    {
        var tokens = new Command("tokens", "Manage the tokens agents and users present on /ws and /api/v1/logs|notifications.");

        var identity = new Argument<string>("IDENTITY") { Description = $"Whose rows the token reaches (seed 002's wdcode): {IngestionIdentity.Rule}." };
        var role = new Option<string>("--role")
        {
            Description = "agent: uploads logs and notifications and reads its own; user: reads them and receives live notifications.",
            DefaultValueFactory = _ => "agent",
        };
        role.AcceptOnlyFromAmong("agent", "user");
        var create = new Command("create", "Make a token for IDENTITY and print it once (alone on the last line); only its hash is stored.") { identity, role };
        create.SetAction((parse, ct) => WithStoreAsync(parse, async store =>
        {
            string who = parse.GetValue(identity)!;
            if (!IngestionIdentity.IsValid(who))
            {
                await Console.Error.WriteLineAsync($"tocsin: identity {JsonSerializer.Serialize(who)} is not allowed: {IngestionIdentity.Rule}.").ConfigureAwait(false);
                return 64;
            }

            var r = parse.GetValue(role) == "user" ? IngestionRole.User : IngestionRole.Agent;
            string token = AccessTokens.Create();
            var stored = await store.AddTokenAsync(who, r, AccessTokens.Sha256(token), ct).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"Token {stored.Id} for {who} ({IngestionRoles.Name(r)}), stored in {store.Description}. It is shown once:").ConfigureAwait(false);
            Console.Out.WriteLine(token);
            return 0;
        }));

        var json = new Option<bool>("--json") { Description = "Print a JSON array of {id, identity, role, createdAt, revokedAt}." };
        var list = new Command("list", "List the tokens (ids, identities, roles; never the tokens).") { json };
        list.SetAction((parse, ct) => WithStoreAsync(parse, async store =>
        {
            var all = await store.ListTokensAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(all.Select(t => new { t.Id, t.Identity, Role = IngestionRoles.Name(t.Role), t.CreatedAt, t.RevokedAt }), Json));
                return 0;
            }

            var table = new Table().AddColumns("Id", "Identity", "Role", "Created (UTC)", "Revoked (UTC)");
            foreach (var t in all)
            {
                table.AddRow(t.Id, Markup.Escape(t.Identity), IngestionRoles.Name(t.Role), Time(t.CreatedAt), t.RevokedAt is { } at ? Time(at) : "");
            }

            AnsiConsole.Write(table);
            return 0;
        }));

        var id = new Argument<string>("ID") { Description = "The token's id, as tokens list shows it." };
        var revoke = new Command("revoke", "Revoke a token: it is refused from now on (connections already open stay until they close).") { id };
        revoke.SetAction((parse, ct) => WithStoreAsync(parse, async store =>
        {
            string which = parse.GetValue(id)!;
            if (await store.RevokeTokenAsync(which, ct).ConfigureAwait(false))
            {
                Console.Out.WriteLine($"Revoked token {which}.");
                return 0;
            }

            await Console.Error.WriteLineAsync($"tocsin: no valid token with id {JsonSerializer.Serialize(which)} (see tocsin tokens list).").ConfigureAwait(false);
            return 1;
        }));

        tokens.Subcommands.Add(create);
        tokens.Subcommands.Add(list);
        tokens.Subcommands.Add(revoke);
        return tokens;
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static async Task<int> WithStoreAsync(ParseResult parse, Func<IIngestionStore, Task<int>> action)
    {
        string path = TocsinCommand.ResolveConfigPath(parse);
        var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(path);
        await using var central = config.ExternalDatabaseUri is { } external
            ? NpgsqlDataSource.Create(PostgresConnectionString.Resolve(external, config.ExternalDatabasePasswordFile))
            : null;
        await using var store = IngestionStores.Create(config, TimeProvider.System, central);
        try
        {
            await store.InitializeAsync(CancellationToken.None).ConfigureAwait(false);
            return await action(store).ConfigureAwait(false);
        }
        catch (IngestionStoreException ex)
        {
            await Console.Error.WriteLineAsync($"tocsin: {ex.Message}").ConfigureAwait(false);
            return 69;
        }
    }
}
