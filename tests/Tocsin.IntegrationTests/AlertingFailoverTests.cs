using System.Text.Json.Nodes;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Fleet;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// Several <c>tocsin start</c> processes on one PostgreSQL with a webhook channel: only the leader notifies, and when it is
/// killed (SIGKILL) in the middle of a delivery another takes over without losing or doubling a state change's alert; what
/// the killed leader had in flight (leased, sent, its outcome not recorded) arrives once more, with the same idempotency key.
/// </summary>
/// <remarks>
/// "In flight" is read from the database at the kill (rows still pending under the killed leader's lease), not from what the
/// receiver saw: a delivery the leader gave up waiting for (no answer within <c>deliveryTimeout</c>) is a recorded failed
/// attempt that the same leader retries, so on a slow machine a notification can reach the receiver twice before the kill.
/// </remarks>
[Collection(RunAlone.Name)]
public sealed class AlertingFailoverTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private const int Checks = 6;

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task The_leader_killed_mid_delivery_loses_and_doubles_nothing(int agentCount)
    {
        await using var target = await TargetServer.StartAsync();
        await using var hook = await WebhookReceiver.StartAsync();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        var env = new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = server.Password };
        var folders = Enumerable.Range(0, agentCount).Select(_ => new TempFolder()).ToList();
        var agents = new List<TocsinProcess>();
        try
        {
            foreach (var folder in folders)
            {
                var checks = Enumerable.Range(0, Checks).Select(i =>
                {
                    var c = AgentConfig.Http($"svc{i}", target.Url($"/switch/svc{i}"));
                    c["notify"] = new JsonArray("hook");
                    return c;
                }).ToArray();
                string config = AgentConfig.Write(folder, checks);
                AgentConfig.Edit(config, root =>
                {
                    root["externalDatabaseUri"] = $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}";
                    root["fleet"] = new JsonObject { ["heartbeatInterval"] = "1s" };
                    // Longer than the kill can take on a loaded machine, so the killed leader is still waiting for the held answers.
                    root["alerting"] = new JsonObject { ["deliveryTimeout"] = "5s" };
                    root["notifications"] = new JsonArray(new JsonObject { ["name"] = "hook", ["type"] = "webhook", ["url"] = hook.Url });
                });
                agents.Add(TocsinProcess.Start(folder.Path, ["start", "--config-path", config], env));
            }

            string Diagnostics() => string.Join(Environment.NewLine, agents.Select((a, i) => $"agent {i}:{Environment.NewLine}{a.Output}"));
            await Poll.UntilAsync(() => CentralTables.LiveAgents(cs, TimeSpan.FromSeconds(3)), n => n >= agentCount, TimeSpan.FromSeconds(60), "live agents", Diagnostics);

            // Every check fails: one problem each, from the leader only.
            for (int i = 0; i < Checks; i++)
            {
                target.SetSwitch($"svc{i}", 500);
            }

            await Poll.UntilAsync(() => hook.Received.Count(r => r.Type == "problem"), n => n >= Checks, TimeSpan.FromSeconds(60), "a problem per check", Diagnostics);
            var ids = folders.Select(f => OutboxFile.AgentId(AgentConfig.OutboxPath(f))).ToList();
            await using var dataSource = NpgsqlDataSource.Create(cs);

            // Recoveries: the receiver holds every delivery, and the leader is killed while it waits for the answers.
            hook.Hold = true;
            for (int i = 0; i < Checks; i++)
            {
                target.SetSwitch($"svc{i}", 200);
            }

            await hook.HeldRequestArrived.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            // The agent holding the leader lock now (the one sending), not the first that ever logged it became leader.
            var fleet = await AgentFleet.ListAsync(dataSource, new FleetOptions(), TestContext.Current.CancellationToken);
            int leader = ids.IndexOf(Assert.Single(fleet, a => a.Leader).Id);
            Assert.True(leader >= 0, Diagnostics());
            await agents[leader].KillHardAsync();
            var before = hook.Received.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            var inFlight = await LeasedAsync(dataSource);
            hook.Release();

            // Everything made is delivered (recorded after the receiver answered, so all of it has been received).
            await Poll.UntilAsync(
                () => UndeliveredAsync(dataSource), n => n.Undelivered == 0 && n.Recoveries >= Checks, TimeSpan.FromSeconds(120),
                "(undelivered, recoveries) notifications after the failover", Diagnostics);
            var received = hook.Received;

            foreach (string type in new[] { "problem", "recovery" })
            {
                var ofType = received.Where(r => r.Type == type).ToList();
                // Exactly one notification (one idempotency key) per check and state change.
                Assert.All(ofType.GroupBy(r => r.Check), g => Assert.Single(g.Select(r => r.Key).Distinct()));
                Assert.Equal(Checks, ofType.Select(r => r.Check).Distinct().Count());
            }

            Assert.DoesNotContain(received, r => r.Type is not ("problem" or "recovery"));
            // Problems were answered before the hold: received once, never again.
            Assert.All(received.Where(r => r.Type == "problem").GroupBy(r => r.Key), g => Assert.Single(g));
            // After the kill the new leader sends each notification not recorded as delivered once, and what the killed leader had
            // leased (sent or about to be, outcome unrecorded) is among them: at worst once more than the killed leader sent it.
            Assert.NotEmpty(inFlight);
            Assert.All(received.GroupBy(r => r.Key), g =>
            {
                int after = g.Count() - before.GetValueOrDefault(g.Key);
                Assert.True(after <= 1, $"{g.Key} received {after} times after the kill ({g.Count()} in all)");
                Assert.True(after == 1 || !inFlight.Contains(g.Key), $"{g.Key} was leased by the killed leader but not sent again");
            });
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }

            foreach (var folder in folders)
            {
                folder.Dispose();
            }
        }
    }

    /// <summary>Keys of the notifications pending under a lease that has not ended (taken by the leader, outcome not recorded).</summary>
    private static async Task<HashSet<string>> LeasedAsync(NpgsqlDataSource dataSource)
    {
        await using var cmd = dataSource.CreateCommand("SELECT idempotency_key FROM tocsin.notifications WHERE status = 'pending' AND lease_until > now();");
        await using var r = await cmd.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (await r.ReadAsync(TestContext.Current.CancellationToken))
        {
            keys.Add(r.GetString(0));
        }

        return keys;
    }

    /// <summary>(notifications not delivered yet, recovery notifications made).</summary>
    private static async Task<(long Undelivered, long Recoveries)> UndeliveredAsync(NpgsqlDataSource dataSource)
    {
        await using var cmd = dataSource.CreateCommand("SELECT count(*) FILTER (WHERE status <> 'delivered'), count(*) FILTER (WHERE type = 'recovery') FROM tocsin.notifications;");
        await using var r = await cmd.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        await r.ReadAsync(TestContext.Current.CancellationToken);
        return (r.GetInt64(0), r.GetInt64(1));
    }
}
