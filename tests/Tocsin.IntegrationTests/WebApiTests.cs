using System.Net;
using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// One <c>tocsin start --urls http://127.0.0.1:0</c> child, started without <c>--yes</c> and with stdin not a
/// terminal, running three checks every second: one named like seed 004's (<c>GET http://host/path</c>, with
/// spaces, slashes and a literal <c>%2F</c>), one against a 500, and a tcp check.
/// </summary>
public sealed class RunningAgent : ThreeCheckAgent
{
    // Spaces and slashes, and a literal "%2F" of an encoded query, as seed 004 names ("METHOD url") may hold.
    protected override string OkPath => "/ok?q=a%2Fb";
}

/// <summary>The web API of a running agent.</summary>
public sealed class WebApiTests(RunningAgent agent) : IClassFixture<RunningAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Checks_list_is_served_gzipped_on_request_with_an_etag_that_revalidates_to_304()
    {
        using var handler = new HttpClientHandler { AutomaticDecompression = System.Net.DecompressionMethods.None };
        using var client = new HttpClient(handler) { BaseAddress = agent.Http.BaseAddress };
        using var plainRequest = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/checks", UriKind.Relative));
        using var plain = await client.SendAsync(plainRequest, Ct);
        using var zippedRequest = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/checks", UriKind.Relative));
        zippedRequest.Headers.AcceptEncoding.ParseAdd("gzip, br;q=0.5");
        using var zipped = await client.SendAsync(zippedRequest, Ct);

        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.Equal(["gzip"], zipped.Content.Headers.ContentEncoding);
        Assert.Equal("application/json", zipped.Content.Headers.ContentType!.MediaType);
        await using var unzip = new System.IO.Compression.GZipStream(await zipped.Content.ReadAsStreamAsync(Ct), System.IO.Compression.CompressionMode.Decompress);
        var fromZip = JsonNode.Parse(unzip)!.AsArray();
        var fromPlain = JsonNode.Parse(await plain.Content.ReadAsStringAsync(Ct))!.AsArray();
        Assert.Equal(agent.CheckNames, fromZip.Select(c => (string)c!["name"]!));
        Assert.Equal(agent.CheckNames, fromPlain.Select(c => (string)c!["name"]!));
        Assert.Contains("Accept-Encoding", zipped.Headers.Vary);

        // Revalidation: the tag of a snapshot answers 304 while it is current, a stale tag the full list.
        var tag = zipped.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/checks", UriKind.Relative));
        again.Headers.IfNoneMatch.Add(tag);
        using var revalidated = await client.SendAsync(again, Ct);
        Assert.True(revalidated.StatusCode is System.Net.HttpStatusCode.NotModified or System.Net.HttpStatusCode.OK, revalidated.StatusCode.ToString());
        if (revalidated.StatusCode == System.Net.HttpStatusCode.OK)
        {
            Assert.NotEqual(tag, revalidated.Headers.ETag); // the snapshot was renewed in between (1 s)
        }

        using var stale = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/checks", UriKind.Relative));
        stale.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"s0\""));
        using var full = await client.SendAsync(stale, Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, full.StatusCode);
    }

    [Fact]
    public async Task Checks_lists_every_configured_check_with_its_latest_state()
    {
        var checks = JsonNode.Parse(await agent.Http.GetStringAsync(new Uri("/api/v1/checks", UriKind.Relative), Ct))!.AsArray();

        Assert.Equal(agent.CheckNames, checks.Select(c => (string)c!["name"]!));
        foreach (var c in checks)
        {
            var fields = c!.AsObject().Select(p => p.Key).ToHashSet();
            Assert.Superset(new HashSet<string> { "name", "kind", "state", "lastRun", "durationMs", "message", "consecutiveFailures" }, fields);
            Assert.NotNull(c["lastRun"]);
            Assert.NotNull(c["durationMs"]);
            Assert.NotNull(c["message"]);
        }

        var byName = checks.ToDictionary(c => (string)c!["name"]!, c => c!);
        Assert.Equal("http", (string)byName[agent.OkCheck]["kind"]!);
        Assert.Equal("OK", (string)byName[agent.OkCheck]["state"]!);
        Assert.Equal(0, (int)byName[agent.OkCheck]["consecutiveFailures"]!);
        Assert.Equal("CRITICAL", (string)byName[RunningAgent.FailingCheck]["state"]!);
        Assert.True((int)byName[RunningAgent.FailingCheck]["consecutiveFailures"]! >= 2);
        Assert.Equal("tcp", (string)byName[RunningAgent.TcpCheck]["kind"]!);
        Assert.Equal("OK", (string)byName[RunningAgent.TcpCheck]["state"]!);
    }

    [Fact]
    public async Task Results_with_limit_2_answers_the_two_newest_results_newest_first()
    {
        var results = JsonNode.Parse(await agent.Http.GetStringAsync(ResultsUri(RunningAgent.TcpCheck, "2"), Ct))!.AsArray();

        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal(RunningAgent.TcpCheck, (string)r!["check"]!));
        var first = (DateTimeOffset)results[0]!["startedAt"]!;
        var second = (DateTimeOffset)results[1]!["startedAt"]!;
        Assert.True(first > second, $"{first:O} should be after {second:O}");
    }

    [Fact]
    public async Task Check_name_with_spaces_and_slashes_works_url_encoded_in_the_path()
    {
        Assert.Contains("%2F", agent.OkCheck, StringComparison.Ordinal);
        string encoded = Uri.EscapeDataString(agent.OkCheck);

        using var one = await agent.Http.GetAsync(new Uri($"/api/v1/checks/{encoded}", UriKind.Relative), Ct);
        string oneBody = await one.Content.ReadAsStringAsync(Ct);
        Assert.True(one.StatusCode == HttpStatusCode.OK, $"{(int)one.StatusCode} {oneBody}");
        Assert.Equal(agent.OkCheck, (string)JsonNode.Parse(oneBody)!["name"]!);

        using var results = await agent.Http.GetAsync(ResultsUri(agent.OkCheck, "2"), Ct);
        string resultsBody = await results.Content.ReadAsStringAsync(Ct);
        Assert.True(results.StatusCode == HttpStatusCode.OK, $"{(int)results.StatusCode} {resultsBody}");
        var list = JsonNode.Parse(resultsBody)!.AsArray();
        Assert.Equal(2, list.Count);
        Assert.All(list, r => Assert.Equal(agent.OkCheck, (string)r!["check"]!));
        Assert.All(list, r => Assert.Equal("OK", (string)r!["state"]!));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("abc")]
    public async Task Results_limit_outside_1_to_1000_or_not_a_number_is_400_naming_the_limit(string limit)
    {
        using var response = await agent.Http.GetAsync(ResultsUri(RunningAgent.TcpCheck, limit), Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("limit", body, StringComparison.Ordinal);
        Assert.Contains(limit, body, StringComparison.Ordinal);
        Assert.Contains("1 to 1000", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Results_of_an_unknown_check_is_404()
    {
        using var response = await agent.Http.GetAsync(ResultsUri("no such check", "2"), Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no such check", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthz_is_200_with_status_ok()
    {
        using var response = await agent.Http.GetAsync(new Uri("/healthz", UriKind.Relative), Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"status\":\"ok\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_does_not_prompt_when_stdin_is_not_a_terminal()
    {
        // The fixture started it without --yes, with stdin redirected and left open: it runs, and asked nothing.
        Assert.False(agent.Agent.HasExited, agent.Agent.Output);
        Assert.DoesNotContain("Start monitoring", agent.Agent.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("[y/n]", agent.Agent.Stdout, StringComparison.OrdinalIgnoreCase);
    }

    private static Uri ResultsUri(string check, string limit) =>
        new($"/api/v1/checks/{Uri.EscapeDataString(check)}/results?limit={Uri.EscapeDataString(limit)}", UriKind.Relative);
}
