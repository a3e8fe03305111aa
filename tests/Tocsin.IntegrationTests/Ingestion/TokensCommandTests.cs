using System.Text.Json;
using Tocsin.Access;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Sqlite;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary><c>tocsin tokens create|list|revoke</c> in a real process, against the SQLite ingestion store.</summary>
public sealed class TokensCommandTests : IDisposable
{
    private readonly TempFolder _folder = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private string Config()
    {
        _folder.Write("tocsin.json", """{ "localDatabasePath": "data/local.db", "checks": [] }""");
        return Path.Join(_folder.Path, "tocsin.json");
    }

    [Fact]
    public async Task A_token_is_printed_once_stored_as_a_hash_listed_by_id_and_revoked()
    {
        string config = Config();
        var created = await TocsinProcess.RunAsync(_folder.Path, "tokens", "create", "wd-0042", "--role", "user", "--config-path", config);
        Assert.True(created.ExitCode == 0, created.ToString());
        string token = created.Stdout.TrimEnd().Split('\n')[^1];
        Assert.Equal(43, token.Length);
        Assert.Contains("It is shown once", created.Stderr, StringComparison.Ordinal);

        string db = Path.Join(_folder.Path, "data", "local.ingestion.db");
        await using (var store = new SqliteIngestionStore(db, TimeProvider.System))
        {
            await store.InitializeAsync(Ct);
            var found = await store.FindTokenAsync(AccessTokens.Sha256(token), Ct);
            Assert.Equal(("wd-0042", IngestionRole.User), (found!.Identity, found.Role));
        }

        var listed = await TocsinProcess.RunAsync(_folder.Path, "tokens", "list", "--json", "--config-path", config);
        using var doc = JsonDocument.Parse(listed.Stdout);
        var row = Assert.Single(doc.RootElement.EnumerateArray());
        string id = row.GetProperty("id").GetString()!;
        Assert.Equal(AccessTokens.Sha256Hex(token)[..12], id);
        Assert.Equal("user", row.GetProperty("role").GetString());
        Assert.DoesNotContain(token, listed.Stdout + listed.Stderr, StringComparison.Ordinal);

        var revoked = await TocsinProcess.RunAsync(_folder.Path, "tokens", "revoke", id, "--config-path", config);
        Assert.True(revoked.ExitCode == 0, revoked.ToString());
        var again = await TocsinProcess.RunAsync(_folder.Path, "tokens", "revoke", id, "--config-path", config);
        Assert.Equal(1, again.ExitCode);
        await using (var store = new SqliteIngestionStore(db, TimeProvider.System))
        {
            await store.InitializeAsync(Ct);
            Assert.Null(await store.FindTokenAsync(AccessTokens.Sha256(token), Ct));
        }
    }

    [Fact]
    public async Task A_bad_identity_or_role_is_refused_naming_what_is_allowed()
    {
        string config = Config();
        var bad = await TocsinProcess.RunAsync(_folder.Path, "tokens", "create", "wd 1/../x", "--config-path", config);
        Assert.Equal(64, bad.ExitCode);
        Assert.Contains(IngestionIdentity.Rule, bad.Stderr, StringComparison.Ordinal);
        var role = await TocsinProcess.RunAsync(_folder.Path, "tokens", "create", "wd-1", "--role", "admin", "--config-path", config);
        Assert.NotEqual(0, role.ExitCode);
        Assert.Contains("agent", role.Stderr + role.Stdout, StringComparison.Ordinal);
    }
}
