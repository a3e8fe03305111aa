using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Web;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests;

/// <summary>
/// One <c>tocsin start</c> child for the dashboard's browser tests, with three checks: <see cref="OkCheck"/> (http to a
/// <see cref="TargetServer"/>'s <c>/ok</c>, tag <c>web</c>, every 5 s), <see cref="FailingCheck"/> (tcp to a closed
/// loopback port, tag <c>db</c>, every 2 s) and <see cref="PublicCheck"/> (http to <c>/ok</c>, tag <c>web</c>, every 2 s,
/// <c>"public": true</c>). Ready once each has two results.
/// </summary>
public sealed class BrowserDashboardAgent : IAsyncLifetime
{
    public const string OkCheck = "web home";
    public const string FailingCheck = "db port";
    public const string PublicCheck = "public site";
    public const string OkTag = "web";
    public const string FailingTag = "db";

    private readonly TempFolder _folder = new();
    private TargetServer? _target;

    /// <summary>The server the http checks aim at (it also serves pages of "another site").</summary>
    public TargetServer Target => _target!;

    public TocsinProcess Agent { get; private set; } = null!;

    /// <summary>The agent's web address, e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>A client of the agent's API, to cross-check what the pages show.</summary>
    public HttpClient Http { get; private set; } = null!;

    public string OkUrl => _target!.Url("/ok");

    /// <summary>An absolute URL on the agent for <paramref name="pathAndQuery"/>.</summary>
    public Uri Page(string pathAndQuery) => new(Address, pathAndQuery);

    public async ValueTask InitializeAsync()
    {
        try
        {
            _target = await TargetServer.StartAsync();
            int closedPort = ClosedPort();
            var ok = AgentConfig.Http(OkCheck, OkUrl, interval: "5s");
            ok["tags"] = new JsonArray(OkTag);
            var failing = AgentConfig.Tcp(FailingCheck, closedPort, interval: "2s");
            failing["tags"] = new JsonArray(FailingTag);
            var open = AgentConfig.Http(PublicCheck, _target.Url("/ok"), interval: "2s");
            open["tags"] = new JsonArray(OkTag);
            open["public"] = true;
            string config = AgentConfig.Write(_folder, ok, failing, open);
            Agent = TocsinProcess.Start(_folder.Path, ["start", "--config-path", config, "--urls", "http://127.0.0.1:0"]);
            Address = await Agent.ListeningAddressAsync(TimeSpan.FromSeconds(30));
            Http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
            await Poll.UntilAsync(
                () => OutboxFile.FewestResults(AgentConfig.OutboxPath(_folder), [OkCheck, FailingCheck, PublicCheck]),
                n => n >= 2, TimeSpan.FromSeconds(40), "two results of every check", () => Agent.Output);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>The results of a check from the API (newest first, at most 1000).</summary>
    public async Task<JsonArray> ResultsAsync(string check) =>
        JsonNode.Parse(await Http.GetStringAsync(new Uri($"/api/v1/checks/{Uri.EscapeDataString(check)}/results?limit=1000", UriKind.Relative), TestContext.Current.CancellationToken))!.AsArray();

    /// <summary>The incidents of a check from the API.</summary>
    public async Task<JsonArray> IncidentsAsync(string check) =>
        JsonNode.Parse(await Http.GetStringAsync(new Uri($"/api/v1/incidents?check={Uri.EscapeDataString(check)}", UriKind.Relative), TestContext.Current.CancellationToken))!.AsArray();

    /// <summary>The id of the newest incident of <paramref name="check"/>, once the API has one (at most 30 s).</summary>
    public async Task<string> FirstIncidentIdAsync(string check)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var incidents = await IncidentsAsync(check);
            if (incidents.Count > 0)
            {
                return (string)incidents[0]!["id"]!;
            }

            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"No incident of \"{check}\" after 30 s.{Environment.NewLine}{Agent.Output}");
            }

            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Agent is not null)
        {
            await Agent.DisposeAsync();
        }

        if (_target is not null)
        {
            await _target.DisposeAsync();
        }

        _folder.Dispose();
    }

    /// <summary>A loopback port nothing listens on (bound by the OS, then released).</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>
/// The dashboard in a real headless Chromium (issue 5): the overview lists the checks by tag with their states, a
/// check's page has the response-time chart, its results and incidents, and "run now" adds a result; the incidents
/// page and the public status page. Screenshots: <c>screenshots/DashboardBrowserTests/&lt;test&gt;/*.png</c> in the test output.
/// </summary>
public sealed class DashboardBrowserTests(BrowserDashboardAgent agent) : IClassFixture<BrowserDashboardAgent>, IDisposable
{
    private readonly Browser _browser = Browser.Start();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The overview's check rows as the browser sees them, read in one script.</summary>
    private List<CheckRow> OverviewRows()
    {
        var rows = _browser.Evaluate("""
            Array.from(document.querySelectorAll('tr.check')).map(r => {
              const group = r.closest('section.group');
              const link = r.querySelector('a.check-link');
              const badge = r.querySelector('span.state');
              return {
                check: r.getAttribute('data-check'),
                state: r.getAttribute('data-state'),
                tag: group ? group.getAttribute('data-tag') : null,
                href: link ? link.getAttribute('href') : null,
                badge: badge ? badge.textContent.trim() : null,
                sparkline: !!r.querySelector('svg.sparkline'),
              };
            })
            """)!.AsArray();
        return rows.Select(r => new CheckRow(
            (string?)r!["check"], (string?)r["state"], (string?)r["tag"], (string?)r["href"], (string?)r["badge"], (bool)r["sparkline"]!)).ToList();
    }

    private static string CheckPath(string name) => "/checks/" + Uri.EscapeDataString(name);

    [Fact]
    public void Overview_lists_every_check_by_tag_the_failing_one_CRITICAL_the_working_one_OK_with_a_sparkline()
    {
        _browser.Open(agent.Page("/"));
        _browser.WaitFor("tr.check");
        var rows = OverviewRows();
        _browser.Screenshot("overview");

        Assert.Equal(
            [BrowserDashboardAgent.FailingCheck, BrowserDashboardAgent.PublicCheck, BrowserDashboardAgent.OkCheck],
            rows.Select(r => r.Check).Order(StringComparer.Ordinal));
        var ok = rows.Single(r => r.Check == BrowserDashboardAgent.OkCheck);
        var failing = rows.Single(r => r.Check == BrowserDashboardAgent.FailingCheck);
        Assert.Equal("OK", ok.State);
        Assert.Equal("CRITICAL", failing.State);
        Assert.Equal(BrowserDashboardAgent.OkTag, ok.Tag);
        Assert.Equal(BrowserDashboardAgent.FailingTag, failing.Tag);
        Assert.Equal(CheckPath(BrowserDashboardAgent.OkCheck), ok.Href);
        Assert.Equal(CheckPath(BrowserDashboardAgent.FailingCheck), failing.Href);
        Assert.Contains("OK", ok.Badge, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("CRITICAL", failing.Badge, StringComparison.OrdinalIgnoreCase);
        Assert.True(ok.Sparkline, "the OK check has results, so its row has svg.sparkline");
        Assert.True(failing.Sparkline, "the failing check has results, so its row has svg.sparkline");
        Assert.Equal(2, _browser.All($"section.group[data-tag=\"{BrowserDashboardAgent.OkTag}\"] tr.check").Count);
        foreach (string input in new[] { "q", "state", "tag" })
        {
            _browser.One($"form#filters [name=\"{input}\"]");
        }
    }

    /// <summary>axe-core (Deque.AxeCore.Commons' embedded copy), injected into the page under test.</summary>
    private static readonly Lazy<string> AxeScript = new(() =>
    {
        using var stream = typeof(Deque.AxeCore.Commons.AxeResult).Assembly.GetManifestResourceStream("Deque.AxeCore.Commons.Resources.axe.min.js")
            ?? throw new InvalidOperationException("axe.min.js is not embedded in Deque.AxeCore.Commons");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    [Theory]
    [InlineData("/", "light")]
    [InlineData("/", "dark")]
    [InlineData("/checks/web%20home", "light")]
    [InlineData("/checks/db%20port", "dark")]
    [InlineData("/incidents", "light")]
    [InlineData("/notifications", "dark")]
    [InlineData("/status", "light")]
    public void Pages_have_no_WCAG_2_1_AA_violations_found_by_axe_in_light_and_dark(string path, string scheme)
    {
        _browser.Driver.ExecuteCdpCommand("Emulation.setEmulatedMedia", new Dictionary<string, object?>
        {
            ["features"] = new object[] { new Dictionary<string, object> { ["name"] = "prefers-color-scheme", ["value"] = scheme } },
        });
        _browser.Open(agent.Page(path));
        _browser.WaitFor("main#content h1");
        _browser.Driver.ExecuteScript(AxeScript.Value);
        _browser.Driver.Manage().Timeouts().AsynchronousJavaScript = Browser.Deadline;

        // WCAG 2.1 A and AA rules, contrast included; any violation fails the test. (Checked to catch an <img> without
        // alt injected into the page.)
        object? json = _browser.Driver.ExecuteAsyncScript("""
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
              .then(r => done(JSON.stringify(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary) })))))
              .catch(e => done(JSON.stringify([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }])));
            """);
        _browser.Screenshot($"a11y-{scheme}-{path.Trim('/').Replace('/', '-').Replace('%', '_')}");
        var violations = JsonNode.Parse((string)json!)!.AsArray();

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations.Select(v => v!.ToJsonString())));
    }

    [Fact]
    public async Task Pages_carry_a_strict_content_security_policy_under_which_their_script_and_stylesheet_still_work()
    {
        using var response = await agent.Http.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());

        _browser.Open(agent.Page("/"));
        _browser.WaitFor("tr.check");

        // tocsin.js ran (it shows the Live toggle) and tocsin.css applied (a CRITICAL badge has a background), under the CSP.
        _browser.Until(d => _browser.Evaluate("!document.getElementById('live-toggle').hidden")!.GetValue<bool>(), "the live-refresh toggle shown by tocsin.js");
        string background = _browser.Evaluate("getComputedStyle(document.querySelector('span.state-critical')).backgroundColor")!.GetValue<string>();
        Assert.NotEqual("rgba(0, 0, 0, 0)", background);
    }

    [Fact]
    public void Filter_form_narrows_the_overview_by_name_and_the_query_filters_by_state_and_tag()
    {
        _browser.Open(agent.Page("/"));
        var q = _browser.WaitFor("form#filters input[name=\"q\"]");
        q.Clear();
        q.SendKeys(BrowserDashboardAgent.FailingCheck);
        q.Submit();
        _browser.Until(d => new Uri(d.Url).Query.Contains("q=", StringComparison.Ordinal), "the filter's query in the URL");
        _browser.WaitFor("tr.check");

        Assert.Equal([BrowserDashboardAgent.FailingCheck], OverviewRows().Select(r => r.Check));

        _browser.Open(agent.Page("/?state=CRITICAL"));
        _browser.WaitFor("tr.check");
        Assert.Equal([BrowserDashboardAgent.FailingCheck], OverviewRows().Select(r => r.Check));

        _browser.Open(agent.Page("/?tag=" + BrowserDashboardAgent.OkTag));
        _browser.WaitFor("tr.check");
        Assert.Equal(
            [BrowserDashboardAgent.PublicCheck, BrowserDashboardAgent.OkCheck],
            OverviewRows().Select(r => r.Check).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Clicking_a_check_opens_its_page_with_a_chart_and_run_now_adds_a_result()
    {
        _browser.Open(agent.Page("/"));
        _browser.Click($"tr.check[data-check=\"{BrowserDashboardAgent.OkCheck}\"] a.check-link");
        _browser.Until(d => d.Url.Contains("/checks/", StringComparison.Ordinal), "the check's page");
        var heading = _browser.WaitFor("h1#check-name");

        Assert.Equal(CheckPath(BrowserDashboardAgent.OkCheck), _browser.Url.AbsolutePath);
        Assert.Equal(BrowserDashboardAgent.OkCheck, heading.Text.Trim());
        Assert.Equal("OK", _browser.One("span#check-state").Text.Trim());
        var chart = _browser.One("svg#duration-chart");
        Assert.Equal("img", chart.GetAttribute("role"));
        _browser.One("svg#duration-chart polyline.p50");
        _browser.One("svg#duration-chart polyline.p95");
        _browser.One("table#check-incidents");
        string definition = _browser.One("pre#definition").Text;
        Assert.Contains(agent.OkUrl, definition, StringComparison.Ordinal);

        // Recent results: rows of real results of this check, newest first.
        var before = ResultIds();
        Assert.NotEmpty(before);
        var results = await agent.ResultsAsync(BrowserDashboardAgent.OkCheck);
        var startedAt = results.ToDictionary(r => Guid.Parse((string)r!["id"]!), r => (DateTimeOffset)r!["startedAt"]!);
        Assert.All(before, id => Assert.True(startedAt.ContainsKey(id), $"row {id} is not a result of {BrowserDashboardAgent.OkCheck}"));
        var times = before.Select(id => startedAt[id]).ToList();
        Assert.Equal(times.OrderDescending(), times);

        // Run now: a post form (no token: the server trusts the browser's Sec-Fetch-Site: same-origin); it redirects to
        // ?ran={result id}, and that result appears.
        var form = _browser.One("form#run-now");
        Assert.Equal("post", form.GetAttribute("method"), ignoreCase: true);
        for (int attempt = 1; ; attempt++)
        {
            _browser.Click("form#run-now button[type=\"submit\"]");
            string query = _browser.Until<string?>(
                d => new Uri(d.Url).Query is var q && (q.Contains("ran=", StringComparison.Ordinal) || q.Contains("error=", StringComparison.Ordinal)) ? q : null,
                "the run-now redirect (?ran= or ?error=)")!;
            // A scheduled run going at that very moment answers ?error=running (checks never overlap): press again.
            if (!query.Contains("error=running", StringComparison.Ordinal) || attempt == 3)
            {
                break;
            }

            Thread.Sleep(500);
        }

        string? ran = HttpUtility.ParseQueryString(_browser.Url.Query)["ran"];
        Assert.True(Guid.TryParse(ran, out var ranId), $"ran={ran} is not a result id ({_browser.Url})");
        Assert.Equal(CheckPath(BrowserDashboardAgent.OkCheck), _browser.Url.AbsolutePath);
        _browser.One("#run-notice");
        Assert.DoesNotContain(ranId, before);

        _browser.ReloadUntil($"table#recent-results tbody tr[data-result-id=\"{ranId}\"]");
        _browser.Screenshot("check");

        using var one = await agent.Http.GetAsync(new Uri($"/api/v1/checks/{Uri.EscapeDataString(BrowserDashboardAgent.OkCheck)}/results/{ranId}", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal("OK", (string)JsonNode.Parse(await one.Content.ReadAsStringAsync(Ct))!["state"]!);
        Assert.True(ResultIds().Count >= before.Count, "the run-now result was added, no row lost");
    }

    [Fact]
    public void Run_now_posted_from_another_site_s_page_is_refused_with_403()
    {
        // Another web server on this host (another port: another origin, the same site) with a form aimed at the agent.
        string action = agent.Page(CheckPath(BrowserDashboardAgent.OkCheck) + "/run").AbsoluteUri;
        agent.Target.SetHtml("csrf", $"""
            <!doctype html><title>another site</title>
            <form id="evil" method="post" action="{action}"><button type="submit">Win a prize</button></form>
            """);
        _browser.Open(new Uri(agent.Target.Url("/html/csrf")));
        _browser.Click("form#evil button[type=\"submit\"]");
        _browser.Until(d => d.Url.StartsWith(action, StringComparison.Ordinal), "the post to the agent");
        _browser.Until(d => (string?)((OpenQA.Selenium.IJavaScriptExecutor)d).ExecuteScript("return document.readyState") == "complete", "the answer to load");
        _browser.Screenshot("cross-site-refused");

        Assert.Equal(403, (long)_browser.Evaluate("performance.getEntriesByType('navigation')[0].responseStatus")!);
        Assert.Contains("Refused", _browser.BodyText, StringComparison.Ordinal);
        Assert.Contains("Sec-Fetch-Site: same-site", _browser.BodyText, StringComparison.Ordinal);
        Assert.Empty(_browser.All("#run-notice"));
    }

    [Fact]
    public async Task Failing_check_s_page_shows_CRITICAL_and_its_open_incident()
    {
        await agent.FirstIncidentIdAsync(BrowserDashboardAgent.FailingCheck); // the agent has opened it

        _browser.Open(agent.Page(CheckPath(BrowserDashboardAgent.FailingCheck)));
        _browser.WaitFor("h1#check-name");
        _browser.Screenshot("failing-check");

        Assert.Equal(BrowserDashboardAgent.FailingCheck, _browser.One("h1#check-name").Text.Trim());
        Assert.Equal("CRITICAL", _browser.One("span#check-state").Text.Trim());
        Assert.NotEmpty(_browser.All("table#check-incidents tbody tr"));
    }

    [Fact]
    public async Task Incidents_page_has_a_row_for_the_failing_check_s_incident()
    {
        string incidentId = await agent.FirstIncidentIdAsync(BrowserDashboardAgent.FailingCheck);

        _browser.Open(agent.Page("/incidents"));
        var row = _browser.WaitFor($"table#incidents tr[data-incident-id=\"{incidentId}\"]");
        _browser.Screenshot("incidents");

        Assert.Contains(BrowserDashboardAgent.FailingCheck, row.Text, StringComparison.Ordinal);
        Assert.All(_browser.All("table#incidents tr[data-incident-id]"), r => Assert.DoesNotContain(BrowserDashboardAgent.OkCheck, r.Text, StringComparison.Ordinal));
    }

    [Fact]
    public void Status_page_lists_only_the_public_check()
    {
        _browser.Open(agent.Page("/status"));
        _browser.WaitFor("[data-check]");
        var listed = _browser.Evaluate("Array.from(document.querySelectorAll('[data-check]')).map(e => e.getAttribute('data-check'))")!
            .AsArray().Select(n => (string?)n).Distinct().ToList();
        _browser.Screenshot("status");

        Assert.Equal([BrowserDashboardAgent.PublicCheck], listed);
        Assert.DoesNotContain(BrowserDashboardAgent.FailingCheck, _browser.BodyText, StringComparison.Ordinal);
        Assert.DoesNotContain(BrowserDashboardAgent.OkCheck, _browser.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Acknowledge_button_on_a_failing_check_s_page_shows_the_acknowledgement_after_the_notifier_s_pass()
    {
        string check = BrowserDashboardAgent.FailingCheck;
        await Poll.UntilAsync(
            async () => JsonNode.Parse(await agent.Http.GetStringAsync(new Uri("/api/v1/alerts", UriKind.Relative), Ct))!["alerts"]!.AsArray()
                .Any(a => (string?)a!["check"] == check && (string?)a["hardState"] == "CRITICAL"),
            found => found, TimeSpan.FromSeconds(30), "the notifier's CRITICAL record of the failing check", () => agent.Agent.Output);
        _browser.Open(agent.Page(CheckPath(check)));
        _browser.WaitFor("section#alerting");
        var comment = _browser.WaitFor("form#acknowledge input[name=\"comment\"]");
        comment.SendKeys("on it from the browser");
        _browser.Screenshot("before-acknowledge");
        _browser.Click("form#acknowledge button[type=\"submit\"]");
        _browser.Until(d => new Uri(d.Url).Query.Contains("acknowledged=", StringComparison.Ordinal), "the redirect back to the check's page");

        // The notifier applies the stored acknowledgement on its next pass (it is woken at once; within a second otherwise).
        string? shown = await Poll.UntilAsync<string?>(
            () =>
            {
                _browser.Reload();
                return Task.FromResult(_browser.All("#alert-acknowledged time").Count > 0 ? _browser.One("#alert-acknowledged").Text : null);
            },
            text => text is not null, TimeSpan.FromSeconds(30), "the acknowledgement on the check's page", () => agent.Agent.Output);
        _browser.Screenshot("acknowledged");

        Assert.Contains("by dashboard", shown, StringComparison.Ordinal);
        Assert.Contains("on it from the browser", shown, StringComparison.Ordinal);
        Assert.Empty(_browser.All("form#acknowledge"));
        _browser.Open(agent.Page("/"));
        var badge = _browser.WaitFor($"tr.check[data-check=\"{check}\"] span.flag.acknowledged");
        Assert.Equal("acknowledged", badge.Text);
    }

    public void Dispose() => _browser.Dispose();

    /// <summary>The result ids of <c>table#recent-results</c>, in page order.</summary>
    private List<Guid> ResultIds() =>
        _browser.Evaluate("Array.from(document.querySelectorAll('table#recent-results tbody tr[data-result-id]')).map(r => r.getAttribute('data-result-id'))")!
            .AsArray().Select(n => Guid.Parse((string)n!)).ToList();

    private sealed record CheckRow(string? Check, string? State, string? Tag, string? Href, string? Badge, bool Sparkline);
}
