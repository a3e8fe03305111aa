using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Fleet;
using Tocsin.Storage.Postgres;

namespace Tocsin.Core.Tests.Fleet;

public sealed class AgentFleetTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CheckDefinition Check(string name, CheckPlacement placement = CheckPlacement.Shard) =>
        new(name, "http", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), new object()) { Placement = placement };

    private static AgentFleet NewFleet(NpgsqlDataSource source, string host) =>
        new(source, Guid.CreateVersion7(), host, "test", new FleetOptions { HeartbeatInterval = TimeSpan.FromSeconds(30) }, TimeProvider.System, NullLogger<AgentFleet>.Instance);

    private async Task<(NpgsqlDataSource Source, List<AgentFleet> Fleets)> ThreeAgentsAsync()
    {
        string cs = await server.CreateDatabaseAsync();
        var source = NpgsqlDataSource.Create(cs);
        await new CentralDatabase(source).MigrateAsync(Ct);
        var fleets = new List<AgentFleet> { NewFleet(source, "a"), NewFleet(source, "b"), NewFleet(source, "c") };
        for (int round = 0; round < 2; round++)
        {
            foreach (var f in fleets)
            {
                await f.BeatAsync(Ct);
            }
        }

        return (source, fleets);
    }

    [Fact]
    public async Task Three_agents_register_see_each_other_and_exactly_one_is_leader()
    {
        var (source, fleets) = await ThreeAgentsAsync();
        await using var _ = source;
        try
        {
            Assert.Single(fleets, f => f.IsLeader);
            Assert.All(fleets, f => Assert.Equal(3, f.LiveAgents.Count));
            await using var cmd = source.CreateCommand("SELECT count(*) FROM tocsin.agents WHERE last_heartbeat > now() - interval '1 minute'");
            Assert.Equal(3L, await cmd.ExecuteScalarAsync(Ct));

            var listed = await AgentFleet.ListAsync(source, new FleetOptions { HeartbeatInterval = TimeSpan.FromSeconds(30) }, Ct);
            Assert.Equal(fleets.Select(f => f.AgentId).Order(), listed.Select(a => a.Id).Order());
            Assert.All(listed, a => Assert.True(a.Live));
            Assert.Equal(fleets.Single(f => f.IsLeader).AgentId, Assert.Single(listed, a => a.Leader).Id);
            Assert.Equal(["a", "b", "c"], listed.Select(a => a.Hostname).Order());
        }
        finally
        {
            foreach (var f in fleets)
            {
                await f.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Each_sharded_check_is_owned_by_exactly_one_live_agent_and_placement_all_by_every_agent()
    {
        var (source, fleets) = await ThreeAgentsAsync();
        await using var _ = source;
        try
        {
            var checks = Enumerable.Range(0, 300).Select(i => Check($"check-{i}")).ToList();
            var perAgent = fleets.Select(f => checks.Count(c => f.Owns(c))).ToList();
            Assert.All(checks, c => Assert.Single(fleets, f => f.Owns(c)));
            Assert.All(perAgent, n => Assert.InRange(n, 60, 140)); // 100 each if perfectly even
            Assert.All(fleets, f => Assert.True(f.Owns(Check("everywhere", CheckPlacement.All))));
        }
        finally
        {
            foreach (var f in fleets)
            {
                await f.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task When_the_leader_leaves_another_agent_takes_the_lead_and_its_checks_at_the_next_heartbeat()
    {
        var (source, fleets) = await ThreeAgentsAsync();
        await using var _ = source;
        try
        {
            var leader = fleets.Single(f => f.IsLeader);
            var checks = Enumerable.Range(0, 100).Select(i => Check($"c{i}")).ToList();
            var leadersChecks = checks.Where(leader.Owns).ToList();
            var othersBefore = fleets.Where(f => f != leader).ToDictionary(f => f, f => checks.Where(f.Owns).ToHashSet());

            await leader.LeaveAsync();
            var rest = fleets.Where(f => f != leader).ToList();
            foreach (var f in rest)
            {
                await f.BeatAsync(Ct);
            }

            Assert.Single(rest, f => f.IsLeader);
            Assert.All(rest, f => Assert.Equal(2, f.LiveAgents.Count));
            Assert.All(checks, c => Assert.Single(rest, f => f.Owns(c)));
            // Rendezvous hashing: only the departed agent's checks move.
            Assert.All(rest, f => Assert.Superset(othersBefore[f], checks.Where(f.Owns).ToHashSet()));
            Assert.All(leadersChecks, c => Assert.Contains(rest, f => f.Owns(c)));
        }
        finally
        {
            foreach (var f in fleets)
            {
                await f.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_agent_that_cannot_reach_the_database_drops_the_lead_and_keeps_running()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(cs);
        await new CentralDatabase(source).MigrateAsync(Ct);
        await using var fleet = NewFleet(source, "solo");
        await fleet.BeatAsync(Ct);
        Assert.True(fleet.IsLeader);

        await using var broken = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(cs) { Port = 1 }.ConnectionString);
        await using var cut = NewFleet(broken, "cut");
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => cut.BeatAsync(Ct));
        Assert.False(cut.IsLeader);
        Assert.True(cut.Owns(Check("x")), "alone in its own view, it owns every check");
    }

    [Fact]
    public void Rendezvous_owner_is_stable_and_independent_of_agent_order()
    {
        var agents = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToList();
        var reversed = agents.AsEnumerable().Reverse().ToList();
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(AgentFleet.Owner($"n{i}", agents), AgentFleet.Owner($"n{i}", reversed));
        }
    }
}
