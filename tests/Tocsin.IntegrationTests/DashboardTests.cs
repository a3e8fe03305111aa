using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// A <see cref="ThreeCheckAgent"/> whose checks carry tags (<c>web</c>, <c>api</c>, none), whose tcp check is public,
/// and whose OK check sends an Authorization header the dashboard must never show.
/// </summary>
public sealed class DashboardAgent : ThreeCheckAgent
{
    public const string SecretHeader = "Bearer dashboard-s3cret";

    protected override string OkPath => "/ok?via=dashboard";

    protected override void Configure(JsonObject root)
    {
        var checks = root["checks"]!.AsArray();
        checks[0]!["tags"] = new JsonArray("web");
        checks[0]!["headers"] = new JsonObject { ["Authorization"] = SecretHeader };
        checks[1]!["tags"] = new JsonArray("api");
        checks[2]!["public"] = true;
    }
}

/// <summary>The dashboard's pages over real HTTP from a running agent, parsed as HTML5 (AngleSharp).</summary>
public sealed class DashboardTests(DashboardAgent agent) : IClassFixture<DashboardAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Uri Rel(string path) => new(path, UriKind.Relative);

    private async Task<(HttpStatusCode Status, IDocument Page)> GetPageAsync(string path, HttpClient? client = null)
    {
        using var response = await (client ?? agent.Http).GetAsync(Rel(path), Ct);
        string html = await response.Content.ReadAsStringAsync(Ct);
        Assert.StartsWith("text/html", response.Content.Headers.ContentType?.ToString() ?? "", StringComparison.Ordinal);
        return (response.StatusCode, await new HtmlParser().ParseDocumentAsync(html, Ct));
    }

    private static string Href(string name) => "/checks/" + Uri.EscapeDataString(name);

    [Fact]
    public async Task Overview_lists_every_check_grouped_by_first_tag_with_state_uptime_and_sparkline()
    {
        var (status, page) = await GetPageAsync("/");

        Assert.Equal(HttpStatusCode.OK, status);
        var rows = page.QuerySelectorAll("tr.check");
        Assert.Equal(agent.CheckNames.Order(), rows.Select(r => r.GetAttribute("data-check")!).Order());
        Assert.Equal(["api", "web", "untagged"], page.QuerySelectorAll("section.group").Select(s => s.GetAttribute("data-tag")));
        var failing = rows.Single(r => r.GetAttribute("data-check") == ThreeCheckAgent.FailingCheck);
        Assert.Equal("CRITICAL", failing.GetAttribute("data-state"));
        Assert.Equal("CRITICAL", failing.QuerySelector("span.state")!.TextContent);
        var ok = rows.Single(r => r.GetAttribute("data-check") == agent.OkCheck);
        Assert.Equal("OK", ok.GetAttribute("data-state"));
        Assert.Equal(Href(agent.OkCheck), ok.QuerySelector("a.check-link")!.GetAttribute("href"));
        Assert.NotNull(ok.QuerySelector("svg.sparkline polyline"));
        Assert.Contains("%", ok.QuerySelectorAll("td.num")[0].TextContent, StringComparison.Ordinal);
        Assert.Contains(page.QuerySelectorAll(".summary a.count"), a => a.TextContent == "1 CRITICAL");
        Assert.NotNull(page.QuerySelector("form#filters input[name=q]"));
        Assert.NotNull(page.QuerySelector("link[rel=stylesheet]"));
    }

    [Theory]
    [InlineData("/?state=CRITICAL", new[] { ThreeCheckAgent.FailingCheck })]
    [InlineData("/?state=problems", new[] { ThreeCheckAgent.FailingCheck })]
    [InlineData("/?tag=api", new[] { ThreeCheckAgent.FailingCheck })]
    [InlineData("/?tag=untagged", new[] { ThreeCheckAgent.TcpCheck })]
    [InlineData("/?q=TARGET+port", new[] { ThreeCheckAgent.TcpCheck })]
    [InlineData("/?q=status+500", new[] { ThreeCheckAgent.FailingCheck })]
    [InlineData("/?state=WARNING", new string[0])]
    public async Task Overview_filters_by_state_tag_and_text(string path, string[] expected)
    {
        var (status, page) = await GetPageAsync(path);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(expected, page.QuerySelectorAll("tr.check").Select(r => r.GetAttribute("data-check")!));
        if (expected.Length == 0)
        {
            Assert.Contains("No check matches", page.QuerySelector("p.empty")!.TextContent, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/?state=BROKEN", "state", "problems, OK, WARNING")]
    [InlineData("/?page=0", "page", "a page number from 1")]
    [InlineData("/?page=x", "page", "a page number from 1")]
    [InlineData("/checks/target%20port?range=2y", "range", "1h, 6h, 24h, 7d")]
    [InlineData("/incidents?open=maybe", "open", "true")]
    [InlineData("/incidents?before=zzz", "before", "UUID")]
    public async Task Bad_parameters_get_a_400_page_naming_the_parameter_and_what_is_allowed(string path, string parameter, string allowed)
    {
        var (status, page) = await GetPageAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        string text = page.QuerySelector("p.error")!.TextContent;
        Assert.Contains(parameter, text, StringComparison.Ordinal);
        Assert.Contains(allowed, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_check_page_is_a_404_page()
    {
        var (status, page) = await GetPageAsync("/checks/no%20such%20check");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("no such check", page.QuerySelector("p.error")!.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_page_has_state_chart_results_incidents_definition_without_secrets_and_run_now_form()
    {
        // The OK check's name holds slashes, a space and a query: its page is reached by its encoded name.
        var (status, page) = await GetPageAsync(Href(agent.OkCheck));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(agent.OkCheck, page.QuerySelector("h1#check-name")!.TextContent);
        Assert.Equal("OK", page.QuerySelector("#check-state")!.TextContent);
        var chart = page.QuerySelector("svg#duration-chart")!;
        Assert.Equal("img", chart.GetAttribute("role"));
        Assert.NotNull(chart.QuerySelector("polyline.p50"));
        Assert.NotNull(chart.QuerySelector("polyline.p95"));
        Assert.NotNull(chart.QuerySelector("title"));
        Assert.NotEmpty(page.QuerySelectorAll("details.chart-data tbody tr"));
        var results = page.QuerySelectorAll("table#recent-results tbody tr[data-result-id]");
        Assert.InRange(results.Length, 2, 20);
        Assert.All(results, r => Guid.Parse(r.GetAttribute("data-result-id")!));

        // The agent column shows the random tail of the agent's id: its head is a UUIDv7 timestamp, the same for agents
        // made within a minute (and for the results it ran then).
        var agentId = OutboxFile.AgentId(agent.OutboxPath);
        Assert.All(results, r => Assert.Equal(agentId.ToString("N")[^8..], r.QuerySelectorAll("td")[4].TextContent));
        Assert.All(results, r => Assert.Equal(agentId.ToString(), r.QuerySelectorAll("td")[4].GetAttribute("title")));
        string definition = page.QuerySelector("pre#definition")!.TextContent;
        Assert.Contains("kind: http", definition, StringComparison.Ordinal);
        Assert.Contains("headers.Authorization: ***", definition, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", page.Source.Text, StringComparison.Ordinal);
        var form = page.QuerySelector("form#run-now")!;
        Assert.Equal("post", form.GetAttribute("method"));
        Assert.Equal(Href(agent.OkCheck) + "/run", form.GetAttribute("action"));
        Assert.NotNull(form.QuerySelector("button[type=submit]"));

        var (_, failing) = await GetPageAsync(Href(ThreeCheckAgent.FailingCheck));
        Assert.Equal("CRITICAL", failing.QuerySelector("#check-state")!.TextContent);
        Assert.NotEmpty(failing.QuerySelectorAll("table#check-incidents tbody tr[data-incident-id]"));
    }

    [Fact]
    public async Task Run_now_redirects_303_and_the_result_appears_on_the_page()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = agent.Http.BaseAddress };
        var (_, page) = await GetPageAsync(Href(ThreeCheckAgent.TcpCheck), client);
        string action = page.QuerySelector("form#run-now")!.GetAttribute("action")!;

        // As a browser posts the form: same origin.
        using var request = new HttpRequestMessage(HttpMethod.Post, Rel(action)) { Content = new FormUrlEncodedContent([]) };
        request.Headers.Add("Origin", agent.Http.BaseAddress!.GetLeftPart(UriPartial.Authority));
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        using var post = await client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.SeeOther, post.StatusCode);
        string location = post.Headers.Location!.OriginalString;
        Assert.StartsWith(Href(ThreeCheckAgent.TcpCheck) + "?ran=", location, StringComparison.Ordinal);
        string ran = location[(location.IndexOf("ran=", StringComparison.Ordinal) + 4)..];
        Assert.True(Guid.TryParse(ran, out _), location);
        await Poll.UntilAsync(
            async () => (await GetPageAsync(location, client)).Page,
            p => p.QuerySelector($"table#recent-results tr[data-result-id='{ran}']") is not null,
            TimeSpan.FromSeconds(30), "the run-now result on the check's page");
        var (_, after) = await GetPageAsync(location, client);
        Assert.NotNull(after.QuerySelector("#run-notice"));
    }

    [Theory]
    [InlineData("Sec-Fetch-Site", "cross-site")]
    [InlineData("Sec-Fetch-Site", "same-site")]
    [InlineData("Origin", "https://evil.example")]
    [InlineData("Origin", "null")]
    public async Task Run_now_posted_from_another_site_s_page_is_refused_with_403_and_runs_nothing(string header, string value)
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = agent.Http.BaseAddress };

        using var request = new HttpRequestMessage(HttpMethod.Post, Rel(Href(ThreeCheckAgent.TcpCheck) + "/run")) { Content = new FormUrlEncodedContent([]) };
        request.Headers.Add(header, value);
        using var post = await client.SendAsync(request, Ct);
        var page = await new HtmlParser().ParseDocumentAsync(await post.Content.ReadAsStringAsync(Ct), Ct);

        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Contains(value, page.QuerySelector("p.error")!.TextContent, StringComparison.Ordinal);
        Assert.Null(post.Headers.Location); // no run started: a started one redirects to its result

        // The API's and SlapOS' write endpoints refuse the same way; programs (no Origin, no Sec-Fetch-Site) pass.
        foreach (string path in new[] { "/api/v1/checks/" + Uri.EscapeDataString(ThreeCheckAgent.TcpCheck) + "/run", "/cgi-bin/monitor-run-promise.cgi?service=" + Uri.EscapeDataString(ThreeCheckAgent.TcpCheck) })
        {
            using var api = new HttpRequestMessage(HttpMethod.Post, Rel(path));
            api.Headers.Add(header, value);
            using var refused = await client.SendAsync(api, Ct);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("cross-origin request refused", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Status_page_shows_only_public_checks_without_messages()
    {
        var (status, page) = await GetPageAsync("/status");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([ThreeCheckAgent.TcpCheck], page.QuerySelectorAll("#public-checks > li[data-check]").Select(l => l.GetAttribute("data-check")!));
        Assert.Equal(30, page.QuerySelectorAll("#public-checks li[data-check] ol.days li").Length);
        Assert.Null(page.QuerySelector("nav[aria-label=Main]"));
        Assert.DoesNotContain(ThreeCheckAgent.FailingCheck, page.Source.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", page.Source.Text, StringComparison.Ordinal);
        Assert.Equal("All services are operating normally", page.QuerySelector("#overall")!.TextContent);
    }

    [Fact]
    public async Task Incidents_page_lists_the_failing_check_s_open_incident()
    {
        var (status, page) = await GetPageAsync("/incidents?open=true");

        Assert.Equal(HttpStatusCode.OK, status);
        var row = Assert.Single(page.QuerySelectorAll("table#incidents tbody tr[data-incident-id]"));
        Assert.Equal(ThreeCheckAgent.FailingCheck, row.QuerySelector("a.check-link")!.TextContent);
        Assert.Contains("open", row.TextContent, StringComparison.Ordinal);
        // Closed ones only: not the open incident (a loaded machine may have made another check fail once and recover).
        var (_, closed) = await GetPageAsync("/incidents?open=false");
        Assert.DoesNotContain(
            closed.QuerySelectorAll("table#incidents tbody tr[data-incident-id]"),
            r => r.GetAttribute("data-incident-id") == row.GetAttribute("data-incident-id"));
    }

    [Fact]
    public async Task Assets_are_served_with_an_etag_and_revalidate_to_304()
    {
        using var css = await agent.Http.GetAsync(Rel("/assets/tocsin.css"), Ct);
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal("text/css", css.Content.Headers.ContentType!.MediaType);
        Assert.Contains("prefers-color-scheme: dark", await css.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        using var again = new HttpRequestMessage(HttpMethod.Get, Rel("/assets/tocsin.css"));
        again.Headers.IfNoneMatch.Add(css.Headers.ETag!);
        using var cached = await agent.Http.SendAsync(again, Ct);
        Assert.Equal(HttpStatusCode.NotModified, cached.StatusCode);
        using var js = await agent.Http.GetAsync(Rel("/assets/tocsin.js"), Ct);
        Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        using var missing = await agent.Http.GetAsync(Rel("/assets/..%2Fappsettings.json"), Ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}

/// <summary>With <c>web.auth</c> set, run-now needs credentials; the pages stay readable.</summary>
public sealed class DashboardAuthTests(OpsAgent agent) : IClassFixture<OpsAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Run_now_needs_credentials_and_works_with_them_from_a_page_read_anonymously()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = agent.Http.BaseAddress };
        string path = "/checks/" + Uri.EscapeDataString(ThreeCheckAgent.TcpCheck);
        using var get = await client.GetAsync(new Uri(path, UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);

        HttpRequestMessage Post(string? password)
        {
            var m = new HttpRequestMessage(HttpMethod.Post, new Uri(path + "/run", UriKind.Relative)) { Content = new FormUrlEncodedContent([]) };
            m.Headers.Add("Sec-Fetch-Site", "same-origin");
            if (password is not null)
            {
                m.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{OpsAgent.UserName}:{password}")));
            }

            return m;
        }

        using var anonymous = await client.SendAsync(Post(null), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains(anonymous.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
        using var refused = await client.SendAsync(Post("wrong"), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        // What the browser does after its Basic prompt: the same form post, now with credentials.
        using var accepted = await client.SendAsync(Post(OpsAgent.Password), Ct);
        Assert.Equal(HttpStatusCode.SeeOther, accepted.StatusCode);
    }
}
