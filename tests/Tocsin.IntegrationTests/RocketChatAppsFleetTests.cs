using System.Text.Json.Nodes;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.RocketChatEmulator;
using Emulator = Tocsin.RocketChatEmulator.RocketChatEmulator;

namespace Tocsin.IntegrationTests;

/// <summary>
/// Two <c>tocsin start</c> processes on one PostgreSQL with the same <c>rocketchat-apps</c> check: only the leader reads and
/// changes apps (each agent calls Rocket.Chat as a user of its own, so the emulator tells them apart), and when the leader is
/// killed the other takes over. Runs alone: it measures leadership against heartbeats.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class RocketChatAppsFleetTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static readonly RocketChatApp ClamAv = new("clamav-id", "ClamAV");

    [Fact]
    public async Task Only_the_leader_remediates_and_the_other_agent_takes_over_when_it_dies()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var chat = await Emulator.StartAsync(new RocketChatEmulatorOptions { Instances = 3 }, ct);
        chat.InstallApp(ClamAv, "manually_enabled");
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        var env = new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = server.Password };
        var folders = new[] { new TempFolder(), new TempFolder() };
        var users = new[] { chat.State.AddUser("agent-a"), chat.State.AddUser("agent-b") };
        var agents = new List<TocsinProcess>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                string config = AgentConfig.Write(folders[i], new JsonObject
                {
                    ["name"] = "apps", ["kind"] = "rocketchat-apps", ["interval"] = "1s", ["timeout"] = "950ms", ["serverUrl"] = chat.BaseAddress.ToString(),
                    ["userId"] = users[i].Id, ["pat"] = users[i].Pat,
                });
                AgentConfig.Edit(config, root =>
                {
                    root["externalDatabaseUri"] = $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}";
                    root["fleet"] = new JsonObject { ["heartbeatInterval"] = "1s" };
                });
                agents.Add(TocsinProcess.Start(folders[i].Path, ["start", "--config-path", config], env));
            }

            string Output() => string.Join(Environment.NewLine, agents.Select(a => a.Output));
            await Poll.UntilAsync(() => CentralTables.LiveAgents(cs, TimeSpan.FromSeconds(3)), n => n >= 2, TimeSpan.FromSeconds(60), "two live agents", Output);

            // Drift on instance 1: fixed by exactly one agent — the leader.
            chat.Instances[1].SetAppStatus(ClamAv.Id, "manually_disabled");
            await Poll.UntilAsync(() => chat.AppStatuses(ClamAv.Id), s => s.All(x => x == "manually_enabled"), TimeSpan.FromSeconds(60), "the drift fixed", Output);
            var posts = chat.Instances.SelectMany(i => i.Calls).Where(c => c.Endpoint == RocketChatEndpoints.AppStatusChange).ToList();
            string? fixer = Assert.Single(posts.Select(p => p.UserId).Distinct());
            int leader = Array.FindIndex(users, u => u.Id == fixer);
            int follower = 1 - leader;
            Assert.Single(posts);

            // The leader dies; the other agent becomes leader and fixes the next drift.
            await agents[leader].KillHardAsync();
            DateTimeOffset killed = DateTimeOffset.UtcNow;
            chat.Instances[2].SetAppStatus(ClamAv.Id, "manually_disabled");
            await Poll.UntilAsync(() => chat.AppStatuses(ClamAv.Id), s => s.All(x => x == "manually_enabled"), TimeSpan.FromSeconds(60), "the second drift fixed by the survivor", Output);
            var later = chat.Instances.SelectMany(i => i.Calls).Where(c => c.Endpoint == RocketChatEndpoints.AppStatusChange && c.Time >= killed).ToList();
            Assert.NotEmpty(later);
            Assert.All(later, c => Assert.Equal(users[follower].Id, c.UserId));
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
