using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Export;
using Tocsin.Storage.Postgres;
using static Tocsin.Core.Tests.Alerting.AlertingHarness;

namespace Tocsin.Core.Tests.Alerting;

/// <summary>Alerting through a real PostgreSQL: events exported by agents, the leader's notifier on the central store.</summary>
public sealed class CentralAlertingTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<NpgsqlDataSource> CentralAsync()
    {
        var source = NpgsqlDataSource.Create(await server.CreateDatabaseAsync());
        await new CentralDatabase(source).MigrateAsync(Ct);
        return source;
    }

    private static async Task ExportAsync(AlertingHarness agent, NpgsqlDataSource central)
    {
        using var exporter = new Exporter(agent.Outbox, central, new ExporterOptions(), TimeProvider.System, NullLogger<Exporter>.Instance);
        await exporter.ExportBatchAsync(Ct);
    }

    [Fact]
    public async Task Events_of_two_agents_reach_the_leader_once_and_are_notified_once()
    {
        await using var central = await CentralAsync();
        var store = new PostgresAlertStore(central);
        CheckDefinition[] checks = [Check("a"), Check("b")];
        await using var agent1 = new AlertingHarness(checks, null, store, "ops");
        await using var agent2 = new AlertingHarness(checks, null, store, "ops") { Leader = false };
        agent1.Result("a", CheckState.CRITICAL);
        agent2.Result("b", CheckState.CRITICAL);
        await ExportAsync(agent1, central);
        await ExportAsync(agent2, central);
        await ExportAsync(agent2, central); // nothing twice
        Assert.Empty(agent1.Outbox.ReadUnexportedAlertEvents(10));

        await agent1.Step();
        await agent2.Step();
        Assert.Equal(["problem a CRITICAL", "problem b CRITICAL"], agent1.Received().Order(StringComparer.Ordinal));
        Assert.Empty(agent2.Received());

        // Leadership moves to agent 2: it carries on from the central records (a recovery, not a second problem).
        agent1.Leader = false;
        agent2.Leader = true;
        agent1.Result("a", CheckState.OK);
        await ExportAsync(agent1, central);
        await agent1.Step();
        await agent2.Step();
        Assert.Equal(["recovery a OK"], agent2.Received());
        Assert.Equal(2, agent1.Received().Count);
    }

    [Fact]
    public async Task Two_agents_both_believing_they_lead_make_and_send_each_notification_once()
    {
        await using var central = await CentralAsync();
        var store = new PostgresAlertStore(central);
        var checks = Enumerable.Range(0, 50).Select(i => Check($"c{i}")).ToArray();
        await using var agent1 = new AlertingHarness(checks, null, store, "ops");
        await using var agent2 = new AlertingHarness(checks, null, store, "ops");
        foreach (var c in checks)
        {
            agent1.Result(c.Name, CheckState.CRITICAL, advance: TimeSpan.Zero);
        }

        await ExportAsync(agent1, central);
        await Task.WhenAll(agent1.Step(), agent2.Step());
        await Task.WhenAll(agent1.Step(), agent2.Step());
        var all = agent1.Channel().Sent.Concat(agent2.Channel().Sent).ToList();
        Assert.Equal(50, all.Count);
        Assert.Equal(50, all.Select(n => n.IdempotencyKey).Distinct().Count());
        var stored = await store.ReadNotificationsAsync(new NotificationQuery(Limit: 1000), Ct);
        Assert.Equal(50, stored.Count);
        Assert.All(stored, s => Assert.Equal(DeliveryStatus.Delivered, s.Status));
    }

    [Fact]
    public async Task An_agent_taking_over_a_failing_check_that_is_ok_again_brings_the_recovery()
    {
        await using var central = await CentralAsync();
        var store = new PostgresAlertStore(central);
        CheckDefinition[] checks = [Check("a", failureThreshold: 3)];
        await using var agent1 = new AlertingHarness(checks, null, store, "ops");
        await using var agent2 = new AlertingHarness(checks, null, store, "ops") { Leader = false };
        for (int i = 0; i < 3; i++)
        {
            agent1.Result("a", CheckState.CRITICAL);
        }

        await ExportAsync(agent1, central);
        await agent1.Step();
        Assert.Equal(["problem a CRITICAL"], agent1.Received());

        // Agent 1 stops; agent 2 runs the check from now on and knows nothing of it. A failure below the threshold says
        // nothing (agent 2 cannot know yet); its first OK result tells the leader, which sends the recovery.
        agent2.Time.SetUtcNow(agent1.Time.GetUtcNow());
        agent2.Result("a", CheckState.CRITICAL);
        await ExportAsync(agent2, central);
        await agent1.Step();
        Assert.Single(agent1.Received());
        agent2.Result("a", CheckState.OK);
        agent2.Result("a", CheckState.OK);
        await ExportAsync(agent2, central);
        await agent1.Step();
        Assert.Equal(["problem a CRITICAL", "recovery a OK"], agent1.Received());
    }

    [Fact]
    public async Task An_older_problem_exported_after_another_agents_recovery_does_not_reopen_it()
    {
        await using var central = await CentralAsync();
        var store = new PostgresAlertStore(central);
        CheckDefinition[] checks = [Check("a")];
        await using var agent1 = new AlertingHarness(checks, null, store, "ops");
        await using var agent2 = new AlertingHarness(checks, null, store, "ops") { Leader = false };

        // While check ownership settles both agents run the check. Both see it fail; agent 1 sees it recover and exports first.
        agent2.Time.Advance(TimeSpan.FromMilliseconds(300));
        agent1.Result("a", CheckState.CRITICAL);
        agent2.Result("a", CheckState.CRITICAL);
        agent1.Result("a", CheckState.OK);
        await ExportAsync(agent1, central);
        await agent1.Step();
        Assert.Equal(["problem a CRITICAL", "recovery a OK"], agent1.Received());

        // Agent 2's problem, older than the recovery, reaches the leader now, then agent 2's own recovery.
        await ExportAsync(agent2, central);
        await agent1.Step();
        agent2.Result("a", CheckState.OK);
        await ExportAsync(agent2, central);
        await agent1.Step();
        Assert.Equal(["problem a CRITICAL", "recovery a OK"], agent1.Received());
        Assert.Equal(CheckState.OK, Assert.Single(agent1.Notifier.Records).Hard);
    }

    [Fact]
    public async Task The_same_change_reported_by_two_agents_is_notified_once_in_either_order()
    {
        await using var central = await CentralAsync();
        var store = new PostgresAlertStore(central);
        CheckDefinition[] checks = [Check("a")];
        await using var agent1 = new AlertingHarness(checks, null, store, "ops");
        await using var agent2 = new AlertingHarness(checks, null, store, "ops") { Leader = false };

        // Both see the failure at the same instant (the clocks start together): read in one pass.
        agent1.Result("a", CheckState.CRITICAL);
        agent2.Result("a", CheckState.CRITICAL);
        await ExportAsync(agent1, central);
        await ExportAsync(agent2, central);
        await agent1.Step();
        Assert.Equal(["problem a CRITICAL"], agent1.Received());

        // Both see the recovery, agent 2 a little later; the later report reaches the leader first, the earlier one next pass.
        agent2.Time.Advance(TimeSpan.FromMilliseconds(300));
        agent1.Result("a", CheckState.OK);
        agent2.Result("a", CheckState.OK);
        await ExportAsync(agent2, central);
        await agent1.Step();
        await ExportAsync(agent1, central);
        await agent1.Step();
        Assert.Equal(["problem a CRITICAL", "recovery a OK"], agent1.Received());
    }
}
