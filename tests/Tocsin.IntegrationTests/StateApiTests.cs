using System.Net;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// One <c>tocsin start</c> child for the state tracking API: <c>switch</c> (http, every second, thresholds 2 and 2)
/// against a target whose status the tests set, <c>manual</c> (http, hourly, answers after 3 s) for run now, and
/// <c>off</c> (disabled).
/// </summary>
public sealed class StateAgent : IAsyncLifetime
{
    private readonly TempFolder _folder = new();

    public TargetServer Target { get; private set; } = null!;

    public TocsinProcess Agent { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public string OutboxPath => AgentConfig.OutboxPath(_folder);

    public async ValueTask InitializeAsync()
    {
        Target = await TargetServer.StartAsync();
        var toggle = AgentConfig.Http("switch", Target.Url("/switch/a"));
        toggle["failureThreshold"] = 2;
        toggle["successThreshold"] = 2;
        toggle["public"] = true;
        var manual = AgentConfig.Http("manual", Target.Url("/slow?ms=3000&tag=manual"), interval: "1h", timeout: "20s");
        var off = AgentConfig.Tcp("off", Target.Port);
        off["enabled"] = false;
        string config = AgentConfig.Write(_folder, toggle, manual, off);
        Agent = TocsinProcess.Start(_folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
        Http = new HttpClient { BaseAddress = await Agent.ListeningAddressAsync(TimeSpan.FromSeconds(30)), Timeout = TimeSpan.FromSeconds(30) };
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        if (Target is not null)
        {
            await Target.DisposeAsync();
        }

        _folder.Dispose();
    }
}

/// <summary>State tracking, incidents, state changes, run now and the OpenAPI document over real HTTP.</summary>
public sealed class StateApiTests(StateAgent agent) : IClassFixture<StateAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<JsonNode> GetJsonAsync(string path)
    {
        using var response = await agent.Http.GetAsync(new Uri(path, UriKind.Relative), Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!;
    }

    private Task<JsonNode> CheckAsync(string name) => GetJsonAsync($"/api/v1/checks/{Uri.EscapeDataString(name)}");

    [Fact]
    public async Task A_failure_becomes_hard_after_two_results_opens_an_incident_and_two_oks_close_it()
    {
        await Poll.UntilAsync(() => CheckAsync("switch").GetAwaiter().GetResult(), c => (string?)c["hardState"] == "OK" && (int)c["consecutiveSuccesses"]! >= 1,
            TimeSpan.FromSeconds(30), "switch OK", () => agent.Agent.Output);

        agent.Target.SetSwitch("a", 500);
        var failing = await Poll.UntilAsync(() => CheckAsync("switch").GetAwaiter().GetResult(), c => (string?)c["hardState"] == "CRITICAL",
            TimeSpan.FromSeconds(30), "switch hard CRITICAL", () => agent.Agent.Output);
        Assert.Equal("CRITICAL", (string)failing["softState"]!);
        Assert.True((int)failing["consecutiveFailures"]! >= 2);
        Assert.Equal(2, (int)failing["failureThreshold"]!);
        Assert.True((bool)failing["public"]!);
        Guid incidentId = (Guid)failing["openIncidentId"]!;
        var open = (await GetJsonAsync("/api/v1/incidents?check=switch&open=true")).AsArray();
        Assert.Equal(incidentId, (Guid)Assert.Single(open)!["id"]!);
        Assert.Contains("500", (string)open[0]!["firstMessage"]!, StringComparison.Ordinal);

        agent.Target.SetSwitch("a", 200);
        var recovered = await Poll.UntilAsync(() => CheckAsync("switch").GetAwaiter().GetResult(), c => (string?)c["hardState"] == "OK",
            TimeSpan.FromSeconds(30), "switch hard OK again", () => agent.Agent.Output);
        Assert.True((int)recovered["consecutiveSuccesses"]! >= 2);
        Assert.Null(recovered["openIncidentId"]);
        // Uptime figures are reused for up to 10 s, so the failures show within that.
        await Poll.UntilAsync(() => CheckAsync("switch").GetAwaiter().GetResult(), c => (double?)c["uptime24h"] is > 0 and < 100,
            TimeSpan.FromSeconds(30), "uptime24h of switch below 100", () => agent.Agent.Output);

        var closed = (await GetJsonAsync("/api/v1/incidents?check=switch&open=false")).AsArray();
        var incident = Assert.Single(closed)!;
        Assert.Equal(incidentId, (Guid)incident["id"]!);
        Assert.False((bool)incident["open"]!);
        Assert.True((double)incident["durationSeconds"]! >= 1);
        Assert.Equal("CRITICAL", (string)incident["worstState"]!);

        var changes = (await GetJsonAsync("/api/v1/state-changes?check=switch")).AsArray();
        Assert.Equal([("CRITICAL", "OK"), ("OK", "CRITICAL")], changes.Select(c => ((string)c!["from"]!, (string)c!["to"]!)));
        Assert.All(changes, c => Assert.Equal(incidentId, (Guid)c!["incidentId"]!));
    }

    [Fact]
    public async Task Run_now_answers_202_with_the_result_location_409_while_it_runs_and_the_result_appears_there()
    {
        using var first = await agent.Http.PostAsync(new Uri("/api/v1/checks/manual/run", UriKind.Relative), null, Ct);
        string body = await first.Content.ReadAsStringAsync(Ct);
        Assert.True(first.StatusCode == HttpStatusCode.Accepted, $"{(int)first.StatusCode} {body}");
        var accepted = JsonNode.Parse(body)!;
        var location = first.Headers.Location!;
        Assert.Equal((string)accepted["location"]!, location.OriginalString);
        Assert.EndsWith((string)accepted["id"]!, location.OriginalString, StringComparison.Ordinal);
        await agent.Target.SlowRequestArrived("manual").WaitAsync(TimeSpan.FromSeconds(30), Ct);

        using var second = await agent.Http.PostAsync(new Uri("/api/v1/checks/manual/run", UriKind.Relative), null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal("application/problem+json", second.Content.Headers.ContentType?.MediaType);
        Assert.Contains("manual", await second.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);

        var result = await Poll.UntilAsync(
            () => { using var r = agent.Http.GetAsync(location, Ct).GetAwaiter().GetResult(); return r.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(r.Content.ReadAsStringAsync(Ct).GetAwaiter().GetResult()) : null; },
            r => r is not null, TimeSpan.FromSeconds(30), "the run-now result", () => agent.Agent.Output);
        Assert.Equal("OK", (string)result!["state"]!);
        Assert.Equal((string)accepted["id"]!, (string)result["id"]!);
        var results = (await GetJsonAsync("/api/v1/checks/manual/results")).AsArray();
        Assert.Contains(results, r => (string)r!["id"]! == (string)accepted["id"]!);
    }

    [Theory]
    [InlineData("/api/v1/checks/nope/run", HttpStatusCode.NotFound, "nope")]
    [InlineData("/api/v1/checks/off/run", HttpStatusCode.Conflict, "disabled")]
    public async Task Run_now_of_an_unknown_or_disabled_check_is_refused(string path, HttpStatusCode status, string says)
    {
        using var response = await agent.Http.PostAsync(new Uri(path, UriKind.Relative), null, Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(says, body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/v1/checks/switch/results?from=yesterday", "from")]
    [InlineData("/api/v1/checks/switch/results?to=2026-13-01T00:00:00Z", "to")]
    [InlineData("/api/v1/checks/switch/results?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to")]
    [InlineData("/api/v1/checks/switch/results?cursor=bm90LWEtY3Vyc29y", "cursor")]
    [InlineData("/api/v1/incidents?open=yes", "open")]
    [InlineData("/api/v1/incidents?limit=0", "limit")]
    [InlineData("/api/v1/incidents?cursor=czowMWEyMDkwZi1lNzc3LTdmNmMtOWFkYy1iMTM5Y2NhMGJkZTM", "cursor")] // a state-changes cursor
    [InlineData("/api/v1/state-changes?since=12:00", "since")]
    [InlineData("/api/v1/state-changes?limit=5000", "limit")]
    public async Task Bad_parameters_are_400_problem_json_naming_the_parameter(string path, string parameter)
    {
        using var response = await agent.Http.GetAsync(new Uri(path, UriKind.Relative), Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!;
        Assert.Equal(parameter, (string)problem["parameter"]!);
        Assert.StartsWith(parameter + " = ", (string)problem["detail"]!, StringComparison.Ordinal);
        Assert.Contains("must", (string)problem["detail"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Results_pages_follow_the_next_cursor_without_gaps_or_repeats_within_a_time_range()
    {
        await Poll.UntilAsync(() => OutboxFile.FewestResults(agent.OutboxPath, ["switch"]), n => n >= 5, TimeSpan.FromSeconds(30), "five results of switch", () => agent.Agent.Output);
        var to = (DateTimeOffset)(await GetJsonAsync("/api/v1/checks/switch/results?limit=1"))[0]!["startedAt"]!;
        var all = (await GetJsonAsync("/api/v1/checks/switch/results?limit=1000")).AsArray().Select(r => (string)r!["id"]!).ToList();
        string range = $"from={Uri.EscapeDataString(DateTimeOffset.UnixEpoch.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}";

        var seen = new List<string>();
        string? cursor = null;
        for (int page = 0; page < 100; page++)
        {
            using var response = await agent.Http.GetAsync(new Uri($"/api/v1/checks/switch/results?limit=2&{range}" + (cursor is null ? "" : $"&cursor={cursor}"), UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var items = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsArray();
            seen.AddRange(items.Select(r => (string)r!["id"]!));
            cursor = response.Headers.TryGetValues("X-Tocsin-Next-Cursor", out var values) ? values.Single() : null;
            if (cursor is null)
            {
                break;
            }

            Assert.Contains("rel=\"next\"", response.Headers.GetValues("Link").Single(), StringComparison.Ordinal);
        }

        // Everything started before the newest result (exclusive `to`), in order, each once.
        int newest = all.IndexOf(seen[0]);
        Assert.True(newest >= 1);
        Assert.Equal(all.Skip(newest).Take(seen.Count), seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Fact]
    public async Task Checks_keep_their_fields_and_add_state_tracking_and_uptime()
    {
        var check = await Poll.UntilAsync(() => CheckAsync("switch").GetAwaiter().GetResult(), c => c["uptime24h"] is not null,
            TimeSpan.FromSeconds(40), "uptime of switch", () => agent.Agent.Output);
        var fields = check.AsObject().Select(p => p.Key).ToHashSet();

        Assert.Superset(
            new HashSet<string> { "name", "kind", "state", "lastRun", "durationMs", "message", "consecutiveFailures", "lastChange", "agentId", "source",
                "softState", "hardState", "stateType", "consecutiveSuccesses", "lastHardChange", "flapping", "percentStateChange", "openIncidentId",
                "uptime24h", "uptime7d", "uptime30d", "failureThreshold", "successThreshold", "public" },
            fields);
        var pending = await CheckAsync("off");
        Assert.Equal("PENDING", (string)pending["state"]!);
        Assert.Null(pending["hardState"]);
        Assert.Null(pending["uptime24h"]);
    }

    [Fact]
    public async Task The_openapi_document_lists_every_api_endpoint()
    {
        var doc = await GetJsonAsync("/openapi/v1.json");

        Assert.StartsWith("3.", (string)doc["openapi"]!, StringComparison.Ordinal);
        var paths = doc["paths"]!.AsObject();
        foreach (string path in new[] { "/api/v1/checks", "/api/v1/checks/{name}", "/api/v1/checks/{name}/results", "/api/v1/checks/{name}/results/{id}",
            "/api/v1/incidents", "/api/v1/state-changes", "/api/v1/checks/{name}/run" })
        {
            Assert.True(paths.ContainsKey(path), $"{path} missing from {string.Join(", ", paths.Select(p => p.Key))}");
        }

        Assert.NotNull(paths["/api/v1/checks/{name}/run"]!["post"]);
    }
}

/// <summary><c>POST /api/v1/checks/{name}/run</c> behind <c>web.auth</c> (the agent of <see cref="WebOpsTests"/>).</summary>
public sealed class RunNowAuthTests(OpsAgent agent) : IClassFixture<OpsAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Uri RunUri => new($"/api/v1/checks/{Uri.EscapeDataString(OpsAgent.TcpCheck)}/run", UriKind.Relative);

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer not-the-token")]
    [InlineData("Basic YWRtaW46d3Jvbmc=")]
    public async Task Run_now_without_right_credentials_is_401_and_runs_nothing(string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, RunUri);
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await agent.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsStringAsync(Ct));
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task Run_now_with_the_token_is_accepted()
    {
        HttpStatusCode status = 0;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, RunUri);
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", agent.Token);
            using var response = await agent.Http.SendAsync(request, Ct);
            status = response.StatusCode;
            if (status != HttpStatusCode.Conflict)
            {
                Assert.NotNull(response.Headers.Location);
                break;
            }

            await Task.Delay(100, Ct); // a scheduled run of the check was going
        }

        Assert.Equal(HttpStatusCode.Accepted, status);
    }
}
