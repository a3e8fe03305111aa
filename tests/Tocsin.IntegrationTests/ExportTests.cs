using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary><c>tocsin start</c> with <c>externalDatabaseUri</c> set: results go to a real PostgreSQL.</summary>
public sealed class ExportTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Agent_exports_every_result_to_postgres_once_and_sends_the_last_ones_when_stopping()
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        string config = AgentConfig.Write(folder, [.. Enumerable.Range(0, 5).Select(i => AgentConfig.Tcp($"tcp {i}", target.Port))]);
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}");

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config], new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = server.Password });
        await Poll.UntilAsync(() => CentralTables.CountResults(cs), n => n >= 15, TimeSpan.FromSeconds(60), "results in PostgreSQL", () => agent.Output);
        agent.Signal("TERM");
        int code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(45));
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{agent.Output}");

        var (local, unexported) = OutboxFile.Ids(AgentConfig.OutboxPath(folder));
        Assert.Empty(unexported);
        Assert.Equal(local, CentralTables.ResultIds(cs));
        Assert.DoesNotContain(server.Password, agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_with_a_wrong_postgres_password_keeps_checking_and_logs_why_without_the_password()
    {
        await using var target = await TargetServer.StartAsync();
        using var folder = new TempFolder();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        const string wrong = "wrong-pw-5b1c9e";
        string config = AgentConfig.Write(folder, AgentConfig.Tcp("tcp", target.Port));
        AgentConfig.Edit(config, root => root["externalDatabaseUri"] = $"postgresql://{b.Username}:{wrong}@{b.Host}:{b.Port}/{b.Database}");

        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]);
        string outbox = AgentConfig.OutboxPath(folder);
        await Poll.UntilAsync(() => agent.FindLog("Export to PostgreSQL failed") is not null, ok => ok, TimeSpan.FromSeconds(60), "an export failure log line", () => agent.Output);
        await Poll.UntilAsync(() => OutboxFile.CountResults(outbox), n => n >= 3, TimeSpan.FromSeconds(60), "results kept locally", () => agent.Output);
        Assert.False(agent.HasExited, agent.Output);

        using var http = new HttpClient { BaseAddress = await agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)) };
        string body = await http.GetStringAsync(new Uri("/api/v1/export", UriKind.Relative), TestContext.Current.CancellationToken);
        using (var doc = System.Text.Json.JsonDocument.Parse(body))
        {
            var root = doc.RootElement;
            Assert.True(root.GetProperty("configured").GetBoolean(), body);
            Assert.Contains("password authentication failed", root.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            Assert.Contains(":***@", root.GetProperty("target").GetString(), StringComparison.Ordinal);
            Assert.True(root.GetProperty("pendingRows").GetInt64() >= 3, body);
            Assert.True(root.GetProperty("consecutiveFailures").GetInt32() >= 1, body);
        }

        Assert.DoesNotContain(wrong, body, StringComparison.Ordinal);
        agent.Signal("TERM");
        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(45)));

        Assert.Contains("password authentication failed", agent.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, agent.Output, StringComparison.Ordinal);
        var ids = OutboxFile.Ids(outbox);
        Assert.Equal(ids.All, ids.Unexported);
    }
}
