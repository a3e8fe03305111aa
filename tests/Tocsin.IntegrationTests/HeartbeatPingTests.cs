using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// One <c>tocsin start -vv</c> child with a heartbeat check (evaluated every second) and <c>web.auth</c> set, so that the
/// write endpoints need credentials while the ping endpoints, whose token is the credential, do not.
/// </summary>
public sealed class HeartbeatAgent : IAsyncLifetime
{
    public const string CheckName = "nightly-backup";

    // As `openssl rand -hex 16` would print.
    public string Token { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public TempFolder Folder { get; } = new();

    public TocsinProcess Agent { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public string ConfigPath { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        try
        {
            ConfigPath = AgentConfig.Write(Folder, new JsonObject
            {
                ["name"] = CheckName, ["kind"] = "heartbeat", ["period"] = "1d", ["grace"] = "1h", ["interval"] = "1s", ["token"] = Token,
            });
            string apiToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            AgentConfig.Edit(ConfigPath, root => root["web"]!["auth"] = new JsonObject
            {
                ["tokens"] = new JsonArray(new JsonObject { ["name"] = "ops", ["tokenSha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiToken))) }),
            });
            Agent = TocsinProcess.Start(Folder.Path, ["start", "-vv", "--config-path", ConfigPath, "--urls", "http://127.0.0.1:0"]);
            Http = new HttpClient { BaseAddress = await Agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };
            await Poll.UntilAsync(() => OutboxFile.FewestResults(AgentConfig.OutboxPath(Folder), [CheckName]), n => n >= 1, TimeSpan.FromSeconds(30), "a first run", () => Agent.Output);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        Folder.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Heartbeat pings against a real agent on loopback.</summary>
public sealed class HeartbeatPingTests(HeartbeatAgent agent) : IClassFixture<HeartbeatAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Uri Rel(string path) => new(path, UriKind.Relative);

    private async Task<JsonObject> PingAsync(string suffix, string? body = null, bool get = false)
    {
        using var request = new HttpRequestMessage(get ? HttpMethod.Get : HttpMethod.Post, Rel($"/api/v1/ping/{agent.Token}{suffix}"));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        }

        using var response = await agent.Http.SendAsync(request, Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}{Environment.NewLine}{agent.Agent.Output}");
        return JsonNode.Parse(text)!.AsObject();
    }

    private async Task<JsonObject> ResultAsync(string id) =>
        await Poll.UntilAsync<JsonObject?>(
            async () =>
            {
                using var r = await agent.Http.GetAsync(Rel($"/api/v1/checks/{HeartbeatAgent.CheckName}/results/{id}"), Ct);
                return r.IsSuccessStatusCode ? JsonNode.Parse(await r.Content.ReadAsStringAsync(Ct))!.AsObject() : null;
            },
            r => r is not null, TimeSpan.FromSeconds(30), $"result {id}", () => agent.Agent.Output) ?? throw new InvalidOperationException();

    private async Task<JsonObject> CheckAsync() =>
        JsonNode.Parse(await agent.Http.GetStringAsync(Rel($"/api/v1/checks/{HeartbeatAgent.CheckName}"), Ct))!.AsObject();

    [Fact]
    public async Task Start_success_and_fail_pings_become_results_visible_in_the_API_without_credentials()
    {
        var waiting = await Poll.UntilAsync<JsonObject>(CheckAsync, c => c["message"] is not null, TimeSpan.FromSeconds(30), "a first state", () => agent.Agent.Output);
        Assert.Equal("heartbeat", (string)waiting["kind"]!);

        var started = await PingAsync("/start", get: true);
        Assert.True((bool)started["ok"]!);
        Assert.Equal(HeartbeatAgent.CheckName, (string)started["check"]!);
        Assert.Equal("start", (string)started["ping"]!);
        Assert.Null(started["result"]);

        await Task.Delay(50, Ct);
        var success = await PingAsync("", "backup done: 42 files\n");
        Assert.Equal("success", (string)success["ping"]!);
        var ok = await ResultAsync((string)success["result"]!);
        Assert.Equal("OK", (string)ok["state"]!);
        Assert.StartsWith("job reported success after running", (string)ok["message"]!, StringComparison.Ordinal);
        Assert.True((double)ok["durationMs"]! >= 50, ok.ToJsonString());
        var details = ok["details"]!.AsObject();
        Assert.Equal("success", (string)details["ping"]!);
        Assert.Equal("backup done: 42 files\n", (string)details["body"]!);
        Assert.NotNull(details["startedAt"]);
        await Poll.UntilAsync<JsonObject>(CheckAsync, c => (string?)c["state"] == "OK" && ((string?)c["message"])?.StartsWith("last success at", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(30), "the next run to see the success", () => agent.Agent.Output);

        // A body over 10 KiB is cut; a failure turns the check CRITICAL at once and the runs keep it so.
        var failed = await PingAsync("/fail", "pg_dump: connection refused\n" + new string('x', 20_000));
        var critical = await ResultAsync((string)failed["result"]!);
        Assert.Equal("CRITICAL", (string)critical["state"]!);
        Assert.Equal("job reported failure: pg_dump: connection refused", (string)critical["message"]!);
        Assert.Equal(10 * 1024, ((string)critical["details"]!["body"]!).Length);
        Assert.True((bool)critical["details"]!["bodyTruncated"]!);
        await Poll.UntilAsync<JsonObject>(CheckAsync, c => ((string?)c["message"])?.StartsWith("job reported failure at", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(30), "the next run to keep the failure", () => agent.Agent.Output);
        Assert.Equal("CRITICAL", (string)(await CheckAsync())["state"]!);

        // From another site's page too: the token is the credential, there is no cross-origin refusal.
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, Rel($"/api/v1/ping/{agent.Token}"));
        crossSite.Headers.Add("Origin", "https://elsewhere.example");
        crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var fromElsewhere = await agent.Http.SendAsync(crossSite, Ct);
        Assert.Equal(HttpStatusCode.OK, fromElsewhere.StatusCode);

        // While the write endpoints still need credentials.
        using var run = await agent.Http.PostAsync(Rel($"/api/v1/checks/{HeartbeatAgent.CheckName}/run"), null, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, run.StatusCode);
    }

    [Fact]
    public async Task Every_wrong_token_gets_the_same_404_and_the_token_is_never_shown()
    {
        var answers = new List<(HttpStatusCode, string, string?)>();
        foreach (string path in new[]
        {
            "/api/v1/ping/" + agent.Token[..^1],
            "/api/v1/ping/" + agent.Token[..^1] + "/fail",
            "/api/v1/ping/" + agent.Token.ToUpperInvariant() + "/start",
            "/api/v1/ping/" + agent.Token + "0",
            "/api/v1/ping/short",
            "/api/v1/ping/" + new string('z', 2000),
        })
        {
            foreach (var method in new[] { HttpMethod.Get, HttpMethod.Post })
            {
                using var request = new HttpRequestMessage(method, Rel(path));
                using var response = await agent.Http.SendAsync(request, Ct);
                answers.Add((response.StatusCode, await response.Content.ReadAsStringAsync(Ct), response.Content.Headers.ContentType?.MediaType));
            }
        }

        Assert.All(answers, a => Assert.Equal((HttpStatusCode.NotFound, """{"error":"unknown ping token"}""", "application/json"), a));

        // Not in API answers, the dashboard's check page (definition view) or the OpenAPI document…
        foreach (string path in new[] { "/api/v1/checks", $"/api/v1/checks/{HeartbeatAgent.CheckName}", $"/api/v1/checks/{HeartbeatAgent.CheckName}/results", $"/checks/{HeartbeatAgent.CheckName}", "/openapi/v1.json", "/" })
        {
            using var response = await agent.Http.GetAsync(Rel(path), Ct);
            string text = await response.Content.ReadAsStringAsync(Ct);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode}");
            Assert.DoesNotContain(agent.Token, text, StringComparison.OrdinalIgnoreCase);
        }

        using (var page = await agent.Http.GetAsync(Rel($"/checks/{HeartbeatAgent.CheckName}"), Ct))
        {
            string text = System.Text.RegularExpressions.Regex.Replace(await page.Content.ReadAsStringAsync(Ct), "<[^>]+>", "");
            Assert.Contains("token: ***", System.Net.WebUtility.HtmlDecode(text), StringComparison.Ordinal);
        }

        // …nor in the configuration commands' output, nor in the agent's logs (-vv), pings included.
        await PingAsync("/start");
        var show = await TocsinProcess.RunAsync(agent.Folder.Path, "config", "show", "--config-path", agent.ConfigPath);
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("\"token\": \"***\"", show.Stdout, StringComparison.Ordinal);
        var checks = await TocsinProcess.RunAsync(agent.Folder.Path, "config", "checks", "show", "--config-path", agent.ConfigPath);
        Assert.Equal(0, checks.ExitCode);
        Assert.Contains("push, every 1d + 1h grace", checks.Stdout, StringComparison.Ordinal);
        foreach (var run in new[] { show, checks })
        {
            Assert.DoesNotContain(agent.Token, run.Stdout + run.Stderr, StringComparison.OrdinalIgnoreCase);
        }

        Assert.DoesNotContain(agent.Token, agent.Agent.Output, StringComparison.OrdinalIgnoreCase);
    }
}
