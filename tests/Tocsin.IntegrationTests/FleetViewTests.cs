using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// The fleet view: two <c>tocsin start</c> processes on one PostgreSQL share sharded checks, and each one's
/// API and <c>tocsin status</c> show every check with the agent that ran it; with PostgreSQL stopped they
/// fall back to their own outbox, marked <c>"source": "local"</c>.
/// </summary>
public sealed class FleetViewTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Guid LocalAgentId(string outbox)
    {
        using var c = new SqliteConnection($"Data Source={outbox};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT value FROM agent WHERE key = 'agent_id'";
        return Guid.Parse((string)cmd.ExecuteScalar()!);
    }

    private static (long Checks, long Agents) CentralStates(string cs)
    {
        try
        {
            using var c = new NpgsqlConnection(cs);
            c.Open();
            using var cmd = new NpgsqlCommand("SELECT count(*), count(DISTINCT agent_id) FROM tocsin.check_states", c);
            using var r = cmd.ExecuteReader();
            r.Read();
            return (r.GetInt64(0), r.GetInt64(1));
        }
        catch (PostgresException ex) when (ex.SqlState == "42P01")
        {
            return (0, 0);
        }
    }

    [Fact]
    public async Task Each_agent_shows_the_checks_the_other_ran_with_its_agent_id_and_falls_back_to_local_when_postgres_stops()
    {
        await using var target = await TargetServer.StartAsync();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        var env = new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = server.Password };
        using var folderA = new TempFolder();
        using var folderB = new TempFolder();
        var names = Enumerable.Range(0, 10).Select(i => $"shard {i}").ToList();
        var agents = new List<TocsinProcess>();
        var configs = new List<string>();
        try
        {
            foreach (var folder in new[] { folderA, folderB })
            {
                string config = AgentConfig.Write(folder, [.. names.Select(n => AgentConfig.Tcp(n, target.Port))]);
                AgentConfig.Edit(config, root =>
                {
                    root["externalDatabaseUri"] = $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}";
                    root["fleet"] = new JsonObject { ["heartbeatInterval"] = "1s" };
                });
                configs.Add(config);
                agents.Add(TocsinProcess.Start(folder.Path, ["start", "--config-path", config], env));
            }

            using var http = new HttpClient { BaseAddress = await agents[0].ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };
            var idA = LocalAgentId(AgentConfig.OutboxPath(folderA));
            var idB = LocalAgentId(AgentConfig.OutboxPath(folderB));
            // Both agents have exported the newest results of checks they own.
            await Poll.UntilAsync(() => CentralStates(cs), s => s.Checks == names.Count && s.Agents == 2, TimeSpan.FromSeconds(60),
                "central states of every check from both agents", () => agents[0].Output + agents[1].Output);

            // GET /api/v1/checks on A: every check from the central database, some run by B.
            using (var response = await http.GetAsync(new Uri("/api/v1/checks", UriKind.Relative), Ct))
            {
                string body = await response.Content.ReadAsStringAsync(Ct);
                Assert.True(response.StatusCode == HttpStatusCode.OK, body);
                Assert.Equal("central", Assert.Single(response.Headers.GetValues("X-Tocsin-Source")));
                var checks = JsonNode.Parse(body)!.AsArray();
                Assert.Equal(names, checks.Select(c => (string)c!["name"]!));
                Assert.All(checks, c => Assert.Equal("central", (string)c!["source"]!));
                Assert.All(checks, c => Assert.Equal("OK", (string)c!["state"]!));
                Assert.All(checks, c => Assert.NotNull(c!["lastChange"]));
                var ids = checks.Select(c => Guid.Parse((string)c!["agentId"]!)).ToHashSet();
                Assert.Contains(idB, ids);
                Assert.Subset(new HashSet<Guid> { idA, idB }, ids);

                // One check B ran: its page and its results name B too.
                string byB = (string)checks.First(c => Guid.Parse((string)c!["agentId"]!) == idB)!["name"]!;
                var one = JsonNode.Parse(await http.GetStringAsync(new Uri($"/api/v1/checks/{Uri.EscapeDataString(byB)}", UriKind.Relative), Ct))!;
                Assert.Equal(byB, (string)one["name"]!);
                Assert.Equal("central", (string)one["source"]!);
                var results = JsonNode.Parse(await http.GetStringAsync(new Uri($"/api/v1/checks/{Uri.EscapeDataString(byB)}/results?limit=5", UriKind.Relative), Ct))!.AsArray();
                Assert.NotEmpty(results);
                Assert.Contains(results, r => (string)r!["source"]! == "central" && Guid.Parse((string)r["agentId"]!) == idB);
            }

            // tocsin status --json with A's configuration: the same fleet.
            var status = await TocsinProcess.RunAsync(folderA.Path, env, "status", "--json", "--config-path", configs[0]);
            Assert.True(status.ExitCode == 0, status.ToString());
            Assert.False(status.Stderr.Contains("cannot read the central database", StringComparison.Ordinal), status.ToString());
            var rows = JsonNode.Parse(status.Stdout)!.AsArray();
            Assert.Equal(names, rows.Select(c => (string)c!["name"]!));
            Assert.All(rows, r => Assert.Equal("central", (string)r!["source"]!));
            Assert.Contains(rows, r => Guid.Parse((string)r!["agentId"]!) == idB);
            Assert.Contains(rows, r => Guid.Parse((string)r!["agentId"]!) == idA);

            // PostgreSQL stops: A answers from its own outbox, marked local, and keeps running. The list is a snapshot of
            // at most a second (served up to 5 s while the next is read), so the central one may answer a moment longer.
            await server.StopAsync();
            await Poll.UntilAsync(
                async () =>
                {
                    using var probe = await http.GetAsync(new Uri("/api/v1/checks", UriKind.Relative), Ct);
                    return probe.Headers.GetValues("X-Tocsin-Source").Single();
                },
                source => source == "local", TimeSpan.FromSeconds(20), "the list read from the local outbox");
            using (var response = await http.GetAsync(new Uri("/api/v1/checks", UriKind.Relative), Ct))
            {
                string body = await response.Content.ReadAsStringAsync(Ct);
                Assert.True(response.StatusCode == HttpStatusCode.OK, body);
                Assert.Equal("local", Assert.Single(response.Headers.GetValues("X-Tocsin-Source")));
                var checks = JsonNode.Parse(body)!.AsArray();
                Assert.Equal(names, checks.Select(c => (string)c!["name"]!));
                Assert.All(checks, c => Assert.Equal("local", (string)c!["source"]!));
                Assert.All(checks, c => Assert.True(c!["agentId"] is null || Guid.Parse((string)c["agentId"]!) == idA, c!.ToJsonString()));
            }

            using (var response = await http.GetAsync(new Uri($"/api/v1/checks/{Uri.EscapeDataString(names[0])}/results?limit=3", UriKind.Relative), Ct))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("local", Assert.Single(response.Headers.GetValues("X-Tocsin-Source")));
            }

            var fallback = await TocsinProcess.RunAsync(folderA.Path, env, "status", "--json", "--config-path", configs[0]);
            Assert.True(fallback.ExitCode == 0, fallback.ToString());
            Assert.Contains("cannot read the central database", fallback.Stderr, StringComparison.Ordinal);
            Assert.Contains("source: local", fallback.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain(server.Password, fallback.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", fallback.Stderr, StringComparison.Ordinal);
            Assert.All(JsonNode.Parse(fallback.Stdout)!.AsArray(), r => Assert.Equal("local", (string)r!["source"]!));

            Assert.False(agents[0].HasExited, agents[0].Output);
            var warning = agents[0].FindLog("Cannot read the fleet's status from the central database");
            Assert.True(warning is not null, agents[0].Output);
            Assert.Equal("Warning", warning!.Value.GetProperty("LogLevel").GetString());
            Assert.DoesNotContain(server.Password, agents[0].Stderr, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }

            if (!server.IsRunning)
            {
                await server.StartAsync();
            }
        }
    }
}
