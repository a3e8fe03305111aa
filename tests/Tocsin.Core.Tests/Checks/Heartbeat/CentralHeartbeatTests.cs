using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Checks.Heartbeat;
using Tocsin.Configuration;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Storage.Postgres;

namespace Tocsin.Core.Tests.Checks.Heartbeat;

/// <summary>Two agents on a real PostgreSQL: a ping that reaches the one that does not run the check is seen by the one that does.</summary>
public sealed class CentralHeartbeatTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_ping_received_by_another_agent_reaches_the_owners_next_run()
    {
        await using var central = NpgsqlDataSource.Create(await server.CreateDatabaseAsync());
        await new CentralDatabase(central).MigrateAsync(Ct);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 10, 0, 0, 0, TimeSpan.Zero));
        var share = new CentralHeartbeats(central);
        var owner = new HeartbeatPings(time) { Share = share };
        var other = new HeartbeatPings(time) { Share = share };
        var kind = new HeartbeatCheckKind(time, owner);
        var check = Assert.Single(new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Parse(
            """{ "checks": [{ "name": "backup", "kind": "heartbeat", "period": "1h", "grace": "10m", "token": "0123456789abcdef0123456789abcdef" }] }""",
            "/tocsin-tests/config.json").Checks);

        Assert.Equal(CheckState.OK, (await kind.RunAsync(check, Ct)).State); // waiting for the first ping
        time.Advance(TimeSpan.FromMinutes(65));
        await other.ReceiveAsync(check, HeartbeatPing.Success, null, false, null, Ct);
        await share.MergeAsync(other.Find("backup")!, Ct); // what the endpoint does after recording
        time.Advance(TimeSpan.FromMinutes(10));
        var run = await kind.RunAsync(check, Ct);
        Assert.Equal(CheckState.OK, run.State);
        Assert.Equal(time.GetUtcNow().AddMinutes(-10), owner.Find("backup")!.LastSuccessAt);

        // A failure reported to the other agent turns the owner's next run CRITICAL.
        await other.ReceiveAsync(check, HeartbeatPing.Fail, "disk full", false, null, Ct);
        await share.MergeAsync(other.Find("backup")!, Ct);
        run = await kind.RunAsync(check, Ct);
        Assert.Equal(CheckState.CRITICAL, run.State);
        Assert.Contains("disk full", run.Message, StringComparison.Ordinal);

        // Much later with no ping at all: late, whichever agent last heard of it.
        time.Advance(TimeSpan.FromHours(2));
        await other.ReceiveAsync(check, HeartbeatPing.Success, null, false, null, Ct);
        await share.MergeAsync(other.Find("backup")!, Ct);
        Assert.Equal(CheckState.OK, (await kind.RunAsync(check, Ct)).State);
        time.Advance(TimeSpan.FromMinutes(71));
        Assert.Equal(CheckState.CRITICAL, (await kind.RunAsync(check, Ct)).State);
    }
}
