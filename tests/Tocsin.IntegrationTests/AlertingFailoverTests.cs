using System.Text.Json.Nodes;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// Several <c>tocsin start</c> processes on one PostgreSQL with a webhook channel: only the leader notifies, and when it is
/// killed (SIGKILL) in the middle of a delivery another takes over without losing or doubling a state change's alert; what
/// the killed leader had in flight (received but not marked delivered) may arrive once more, with the same idempotency key.
/// </summary>
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
                    root["alerting"] = new JsonObject { ["deliveryTimeout"] = "2s" };
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
            int leader = agents.FindIndex(a => a.LogLines().Any(l => l.TryGetProperty("Message", out var m) && m.GetString()!.Contains("is now the leader", StringComparison.Ordinal)));
            Assert.True(leader >= 0, Diagnostics());

            // Recoveries: the receiver holds the first delivery, and the leader is killed while it waits for the answer.
            hook.Hold = true;
            for (int i = 0; i < Checks; i++)
            {
                target.SetSwitch($"svc{i}", 200);
            }

            await hook.HeldRequestArrived.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            await agents[leader].KillHardAsync();
            var inFlight = hook.Received.Where(r => r.Type == "recovery").Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
            hook.Release();

            await Poll.UntilAsync(
                () => hook.Received.Where(r => r.Type == "recovery").Select(r => r.Check).Distinct().Count(), n => n == Checks, TimeSpan.FromSeconds(120),
                "a recovery per check after the failover", Diagnostics);
            // What the killed leader had in flight was received already (on arrival); the new leader may send it again once its lease
            // ends (2 × deliveryTimeout + 5 s after it was taken) and leadership has moved: wait past that before counting.
            await Task.Delay(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
            var received = hook.Received;

            foreach (string type in new[] { "problem", "recovery" })
            {
                var ofType = received.Where(r => r.Type == type).ToList();
                // Exactly one notification (one idempotency key) per check and state change ...
                Assert.All(ofType.GroupBy(r => r.Check), g => Assert.Single(g.Select(r => r.Key).Distinct()));
                Assert.Equal(Checks, ofType.Select(r => r.Check).Distinct().Count());
                // ... delivered once, except what the killed leader had in flight: at most once more.
                Assert.All(ofType.GroupBy(r => r.Key), g => Assert.True(
                    g.Count() == 1 || (g.Count() == 2 && inFlight.Contains(g.Key)), $"{g.Key} received {g.Count()} times"));
            }

            Assert.DoesNotContain(received, r => r.Type is not ("problem" or "recovery"));
            Assert.NotEmpty(inFlight);
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
}
