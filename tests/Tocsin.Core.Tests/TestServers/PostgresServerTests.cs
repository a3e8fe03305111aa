using Npgsql;

namespace Tocsin.Core.Tests.TestServers;

public sealed class PostgresServerTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Fixture_server_accepts_password_connections_and_gives_each_test_its_own_database()
    {
        string a = await server.CreateDatabaseAsync();
        string b = await server.CreateDatabaseAsync();
        Assert.NotEqual(new NpgsqlConnectionStringBuilder(a).Database, new NpgsqlConnectionStringBuilder(b).Database);
        await using var c = new NpgsqlConnection(a);
        await c.OpenAsync(TestContext.Current.CancellationToken);
        await using var cmd = new NpgsqlCommand("SELECT current_database()", c);
        Assert.Equal(new NpgsqlConnectionStringBuilder(a).Database, (string?)await cmd.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Fixture_server_refuses_a_wrong_password()
    {
        var cs = new NpgsqlConnectionStringBuilder(server.ConnectionString()) { Password = "wrong" };
        await using var c = new NpgsqlConnection(cs.ConnectionString);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => c.OpenAsync(TestContext.Current.CancellationToken));
        Assert.Equal("28P01", ex.SqlState);
    }

    [Fact]
    public async Task Fixture_server_comes_back_after_being_stopped_and_after_being_killed()
    {
        string cs = await server.CreateDatabaseAsync();
        await server.StopAsync();
        await Assert.ThrowsAsync<NpgsqlException>(() => OpenAsync(cs));
        await server.StartAsync();
        await OpenAsync(cs);

        server.Kill();
        await Assert.ThrowsAsync<NpgsqlException>(() => OpenAsync(cs));
        await server.StartAsync();
        await OpenAsync(cs);
    }

    private static async Task OpenAsync(string cs)
    {
        await using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { Pooling = false }.ConnectionString);
        await c.OpenAsync(TestContext.Current.CancellationToken);
    }
}
