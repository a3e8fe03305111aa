using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Storage.Postgres;

namespace Tocsin.Core.Tests.Storage;

public sealed class CentralDatabaseTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migrations_run_concurrently_from_three_agents_apply_each_version_once()
    {
        string cs = await server.CreateDatabaseAsync();
        var sources = Enumerable.Range(0, 3).Select(_ => NpgsqlDataSource.Create(cs)).ToList();
        try
        {
            var versions = await Task.WhenAll(sources.Select(s => Task.Run(() => new CentralDatabase(s).MigrateAsync(Ct))));
            Assert.All(versions, v => Assert.Equal(CentralDatabase.SchemaVersion, v));
            Assert.Equal(CentralDatabase.SchemaVersion, await ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.schema_migrations"));
            Assert.Equal(0L, await ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.results"));
            Assert.Equal(0L, await ScalarAsync<long>(cs, "SELECT count(*) FROM tocsin.agents"));
        }
        finally
        {
            foreach (var s in sources)
            {
                await s.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Migrate_refuses_a_database_whose_schema_is_newer_than_the_build()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        var db = new CentralDatabase(source);
        await db.MigrateAsync(Ct);
        await ExecuteAsync(cs, $"INSERT INTO tocsin.schema_migrations (version, description) VALUES ({CentralDatabase.SchemaVersion + 1}, 'from the future')");

        var ex = await Assert.ThrowsAsync<CentralSchemaTooNewException>(() => db.MigrateAsync(Ct));
        Assert.Equal(CentralDatabase.SchemaVersion + 1, ex.DatabaseVersion);
        Assert.Contains("upgrade Tocsin", ex.Message);
    }

    [Fact]
    public async Task Partitions_are_created_a_week_ahead_and_dropped_after_central_retention()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        var db = new CentralDatabase(source);
        await db.MigrateAsync(Ct);
        var now = new DateTimeOffset(2026, 6, 15, 10, 0, 0, TimeSpan.Zero);
        await db.EnsurePartitionsAsync([new DateOnly(2026, 5, 1), new DateOnly(2026, 5, 16), new DateOnly(2026, 5, 17)], Ct);

        var dropped = await db.MaintainPartitionsAsync(now, TimeSpan.FromDays(30), Ct);

        // Cutoff 2026-05-16 10:00: the days of 05-01 and 05-15 ended before it; 05-16 ends after it.
        Assert.Equal(["results_p20260501"], dropped.Order());
        var names = await PartitionsAsync(cs);
        Assert.Equal(
            ["results_p20260516", "results_p20260517", .. Enumerable.Range(-1, 9).Select(d => CentralDatabase.PartitionName(new DateOnly(2026, 6, 15).AddDays(d)))],
            names);
    }

    internal static async Task<T> ScalarAsync<T>(string cs, string sql)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand(sql, c);
        return (T)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    internal static async Task ExecuteAsync(string cs, string sql)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<List<string>> PartitionsAsync(string cs)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(Ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tocsin.results'::regclass ORDER BY 1", c);
        await using var r = await cmd.ExecuteReaderAsync(Ct);
        var list = new List<string>();
        while (await r.ReadAsync(Ct))
        {
            list.Add(r.GetString(0));
        }

        return list;
    }
}
