using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>The alerting API and commands of an agent on a central PostgreSQL: they read and write the central store.</summary>
public sealed class CentralAlertingSurfaceTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Acknowledge_silence_and_notifications_go_through_the_central_database()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var target = await TargetServer.StartAsync();
        await using var hook = await WebhookReceiver.StartAsync();
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        var env = new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = server.Password, ["USER"] = "carol" };
        using var folder = new TempFolder();
        var check = AgentConfig.Http("site", target.Url("/switch/site"));
        check["notify"] = new JsonArray("hook");
        string config = AgentConfig.Write(folder, check);
        AgentConfig.Edit(config, root =>
        {
            root["externalDatabaseUri"] = $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}";
            root["fleet"] = new JsonObject { ["heartbeatInterval"] = "1s" };
            root["notifications"] = new JsonArray(new JsonObject { ["name"] = "hook", ["type"] = "webhook", ["url"] = hook.Url });
        });
        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config], env);
        using var http = new HttpClient { BaseAddress = await agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };

        target.SetSwitch("site", 500);
        await Poll.UntilAsync(() => hook.Received.Count, n => n >= 1, TimeSpan.FromSeconds(60), "the problem at the webhook", () => agent.Output);

        using (var ack = await http.PostAsJsonAsync("/api/v1/checks/site/acknowledge", new { comment = "on it" }, ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, ack.StatusCode);
        }

        var alerts = await Poll.UntilAsync(
            async () => JsonNode.Parse(await http.GetStringAsync("/api/v1/alerts", ct))!, a => a["alerts"]!.AsArray().Any(x => x!["acknowledgedAt"] is not null),
            TimeSpan.FromSeconds(30), "the acknowledgement applied by the leader", () => agent.Output);
        Assert.True((bool)alerts["leader"]!);
        Assert.Equal("on it", (string)alerts["alerts"]!.AsArray().Single()!["acknowledgeComment"]!);
        await Poll.UntilAsync(() => hook.Received.Count, n => n >= 2, TimeSpan.FromSeconds(30), "the acknowledged notification", () => agent.Output);
        Assert.Equal(["problem", "acknowledged"], hook.Received.Select(r => r.Type));

        // The commands read and write PostgreSQL: what the API shows is what they see.
        var listed = await TocsinProcess.RunAsync(folder.Path, env, "notifications", "--json", "--config-path", config);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Equal(["acknowledged", "problem"], JsonNode.Parse(listed.Stdout)!.AsArray().Select(n => (string)n!["type"]!));
        var silence = await TocsinProcess.RunAsync(folder.Path, env, "silence", "site", "--for", "1h", "--config-path", config);
        Assert.True(silence.ExitCode == 0, silence.ToString());
        var silences = JsonNode.Parse(await http.GetStringAsync("/api/v1/silences", ct))!.AsArray();
        Assert.Equal("carol", (string)Assert.Single(silences)!["author"]!);
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(ct);
        await using var count = new NpgsqlCommand("SELECT count(*) FROM tocsin.alert_commands", c);
        Assert.Equal(2L, (long)(await count.ExecuteScalarAsync(ct))!);
    }
}
