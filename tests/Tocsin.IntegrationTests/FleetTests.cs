using System.Text.Json.Nodes;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>Two <c>tocsin start</c> processes on one PostgreSQL share the sharded checks.</summary>
public sealed class FleetTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Two_agents_run_each_sharded_check_once_per_interval_and_placement_all_on_both()
    {
        await using var target = await TargetServer.StartAsync();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        var env = new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = server.Password };
        using var folderA = new TempFolder();
        using var folderB = new TempFolder();
        var agents = new List<TocsinProcess>();
        var configs = new List<string>();
        try
        {
            foreach (var folder in new[] { folderA, folderB })
            {
                var checks = Enumerable.Range(0, 8).Select(i => AgentConfig.Tcp($"shard {i}", target.Port)).ToList();
                var everywhere = AgentConfig.Tcp("everywhere", target.Port);
                everywhere["placement"] = "all";
                checks.Add(everywhere);
                string config = AgentConfig.Write(folder, [.. checks]);
                AgentConfig.Edit(config, root =>
                {
                    root["externalDatabaseUri"] = $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}";
                    root["fleet"] = new JsonObject { ["heartbeatInterval"] = "1s" };
                });
                configs.Add(config);
                agents.Add(TocsinProcess.Start(folder.Path, ["start", "--config-path", config], env));
                await Poll.UntilAsync(() => CentralTables.LiveAgents(cs, TimeSpan.FromSeconds(3)), n => n >= agents.Count, TimeSpan.FromSeconds(60), $"{agents.Count} live agent(s)", () => agents[^1].Output);
            }

            // Both agents have seen each other after two heartbeats; measure the slots due after that.
            var settled = DateTime.UtcNow.AddSeconds(3);
            await Task.Delay(TimeSpan.FromSeconds(9), TestContext.Current.CancellationToken);

            // `tocsin agents --json` sees both, live, and exactly one leader.
            var listed = await TocsinProcess.RunAsync(folderA.Path, env, "agents", "--json", "--config-path", configs[0]);
            Assert.True(listed.ExitCode == 0, listed.ToString());
            var rows = JsonNode.Parse(listed.Stdout)!.AsArray();
            Assert.Equal(2, rows.Count);
            Assert.All(rows, r => Assert.True(r!["live"]!.GetValue<bool>()));
            Assert.Single(rows, r => r!["leader"]!.GetValue<bool>());
            var owned = rows.ToDictionary(r => Guid.Parse(r!["id"]!.GetValue<string>()), r => r!["checksOwned"]!.GetValue<int>());
            Assert.Equal(8 + 2, owned.Values.Sum()); // each sharded check once, "everywhere" on both
            var until = DateTime.UtcNow.AddSeconds(-2);
            foreach (var agent in agents)
            {
                agent.Signal("TERM");
            }

            foreach (var agent in agents)
            {
                int code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(45));
                Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{agent.Output}");
            }

            var runs = CentralTables.Runs(cs).Where(r => r.ScheduledAt >= settled && r.ScheduledAt <= until).ToList();
            var sharded = runs.Where(r => r.Check.StartsWith("shard", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(sharded);
            // Exactly once per check and due time, across both agents.
            Assert.All(sharded.GroupBy(r => (r.Check, r.ScheduledAt)), g => Assert.Single(g));
            // No gaps: every sharded check ran at every second of the window.
            Assert.All(sharded.GroupBy(r => r.Check), g =>
            {
                var times = g.Select(r => r.ScheduledAt).Order().ToList();
                Assert.True(times.Count >= 3, $"{g.Key}: {times.Count} run(s) in the window");
                Assert.All(times.Zip(times.Skip(1)), p => Assert.Equal(TimeSpan.FromSeconds(1), p.Second - p.First));
            });
            Assert.Equal(2, sharded.Select(r => r.Agent).Distinct().Count());
            // `tocsin agents` counts what each agent actually ran: its sharded checks plus "everywhere".
            Assert.All(owned, o => Assert.Equal(o.Value - 1, sharded.Where(r => r.Agent == o.Key).Select(r => r.Check).Distinct().Count()));
            // "placement": "all" runs on both agents.
            Assert.Equal(2, runs.Where(r => r.Check == "everywhere").Select(r => r.Agent).Distinct().Count());
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
        }
    }
}
