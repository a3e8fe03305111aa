using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.Storage.Sqlite;

namespace Tocsin.IntegrationTests;

/// <summary>
/// A <see cref="ThreeCheckAgent"/> with three more checks failing with HTTP 500 (<see cref="ApiCheck"/>, <see cref="PageCheck"/>,
/// <see cref="CliCheck"/>: one per test that acknowledges, so the tests do not depend on each other's order), and an outbox
/// seeded before the agent starts with five notifications to channels that are not configured (so the notifier never
/// delivers them and they stay as seeded): oldest first, a delivered problem of <see cref="ThreeCheckAgent.FailingCheck"/>
/// to <c>ops</c>, a failed one to <c>pager</c>, a pending reminder to <c>ops</c>, a delivered recovery of
/// <see cref="ThreeCheckAgent.TcpCheck"/> to <c>ops</c>, and a pending problem of <see cref="PageCheck"/> to <c>ops</c>.
/// </summary>
public sealed class AlertingAgent : ThreeCheckAgent
{
    public const string ApiCheck = "failing api";
    public const string PageCheck = "failing page";
    public const string CliCheck = "failing cli";
    public const string PagerError = "webhook \"pager\": HTTP 503 Service Unavailable";

    /// <summary>The seeded notifications' keys, oldest first.</summary>
    public static readonly string[] SeededKeys = ["seed-1", "seed-2", "seed-3", "seed-4", "seed-5"];

    protected override string OkPath => "/ok?via=alerting";

    public string ConfigPath => Folder.File("config.json");

    public string Home => Folder.Path;

    protected override async Task PrepareAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        using var outbox = new SqliteOutbox(OutboxPath);
        var store = new SqliteAlertStore(outbox);
        var now = DateTimeOffset.UtcNow;
        Notification Make(int i, NotificationType type, string channel, string check, CheckState state) =>
            new(Guid.CreateVersion7(now), SeededKeys[i], type, channel, check, "http", state, CheckState.OK, now.AddMinutes(-10 + i), now.AddMinutes(-10), "seeded", null, 0, null);
        await store.CommitAsync([], [], [], [
            Make(0, NotificationType.Problem, "ops", FailingCheck, CheckState.CRITICAL),
            Make(1, NotificationType.Problem, "pager", FailingCheck, CheckState.CRITICAL),
            Make(2, NotificationType.Reminder, "ops", FailingCheck, CheckState.CRITICAL),
            Make(3, NotificationType.Recovery, "ops", TcpCheck, CheckState.OK),
            Make(4, NotificationType.Problem, "ops", PageCheck, CheckState.CRITICAL),
        ], now, ct);
        var seqs = (await store.ReadNotificationsAsync(new NotificationQuery(), ct)).ToDictionary(n => n.Notification.IdempotencyKey, n => n.Seq);
        await store.RecordAsync([
            new DeliveryOutcome(seqs["seed-1"], DeliveryStatus.Delivered, 1, now, null, now),
            new DeliveryOutcome(seqs["seed-2"], DeliveryStatus.Failed, 5, now, PagerError, now),
            new DeliveryOutcome(seqs["seed-4"], DeliveryStatus.Delivered, 2, now, null, now),
        ], ct);
    }

    protected override void Configure(JsonObject root)
    {
        var checks = root["checks"]!.AsArray();
        string failingUrl = (string)checks[1]!["url"]!;
        foreach (string name in new[] { ApiCheck, PageCheck, CliCheck })
        {
            checks.Add(AgentConfig.Http(name, failingUrl));
        }
    }
}

/// <summary>Alerting's API, dashboard pages and forms, and CLI commands against one running agent (issue 7).</summary>
public sealed class AlertingTests(AlertingAgent agent) : IClassFixture<AlertingAgent>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Uri Rel(string path) => new(path, UriKind.Relative);

    private static string Escape(string name) => Uri.EscapeDataString(name);

    private async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string? json = null, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, Rel(path));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        var response = await agent.Http.SendAsync(request, Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, body.Length == 0 ? null : JsonNode.Parse(body), response);
    }

    private async Task<JsonNode> GetJsonAsync(string path)
    {
        var (status, body, response) = await SendAsync(HttpMethod.Get, path);
        response.Dispose();
        Assert.True(status == HttpStatusCode.OK, $"{path}: {(int)status} {body?.ToJsonString()}");
        return body!;
    }

    private async Task<JsonNode?> AlertAsync(string check) =>
        (await GetJsonAsync("/api/v1/alerts"))["alerts"]!.AsArray().FirstOrDefault(a => (string?)a!["check"] == check);

    /// <summary>Waits until the notifier has a CRITICAL record of <paramref name="check"/> (its problem event was processed).</summary>
    private Task<JsonNode?> CriticalRecordAsync(string check) =>
        Poll.UntilAsync(() => AlertAsync(check), a => (string?)a?["hardState"] == "CRITICAL", Deadline, $"the notifier's CRITICAL record of {check}", () => agent.Agent.Output);

    private static void AssertProblem(JsonNode? body, string parameter, params string[] says)
    {
        Assert.NotNull(body);
        Assert.Equal(parameter, (string?)body["parameter"]);
        foreach (string s in says)
        {
            Assert.Contains(s, (string)body["detail"]!, StringComparison.Ordinal);
        }
    }

    private static string[] Keys(JsonNode list) => [.. list.AsArray().Select(n => (string)n!["key"]!)];

    [Fact]
    public async Task Notifications_are_listed_newest_first_filtered_by_check_channel_and_status_and_paged_with_a_cursor()
    {
        var all = await GetJsonAsync("/api/v1/notifications");
        Assert.Equal(AlertingAgent.SeededKeys.Reverse(), Keys(all));
        var failed = Assert.Single((await GetJsonAsync("/api/v1/notifications?status=failed")).AsArray())!;
        Assert.Equal("seed-2", (string)failed["key"]!);
        Assert.Equal("pager", (string)failed["channel"]!);
        Assert.Equal("problem", (string)failed["type"]!);
        Assert.Equal(ThreeCheckAgent.FailingCheck, (string)failed["check"]!);
        Assert.Equal("CRITICAL", (string)failed["state"]!);
        Assert.Equal(5, (int)failed["attempts"]!);
        Assert.Equal(AlertingAgent.PagerError, (string)failed["lastError"]!);
        Assert.Null(failed["deliveredAt"]);
        foreach (string field in new[] { "id", "createdAt", "nextAttemptAt" })
        {
            Assert.NotNull(failed[field]);
        }

        var delivered = (await GetJsonAsync("/api/v1/notifications?status=delivered")).AsArray();
        Assert.Equal(["seed-4", "seed-1"], Keys(delivered));
        Assert.All(delivered, d => Assert.NotNull(d!["deliveredAt"]));
        Assert.Equal(["seed-5", "seed-3"], Keys(await GetJsonAsync("/api/v1/notifications?status=pending")));
        Assert.Equal(["seed-3", "seed-2", "seed-1"], Keys(await GetJsonAsync($"/api/v1/notifications?check={Escape(ThreeCheckAgent.FailingCheck)}")));
        Assert.Equal(["seed-3", "seed-1"], Keys(await GetJsonAsync($"/api/v1/notifications?check={Escape(ThreeCheckAgent.FailingCheck)}&channel=ops")));

        var pages = new List<string>();
        string? next = "/api/v1/notifications?limit=2";
        while (next is not null)
        {
            var (status, body, response) = await SendAsync(HttpMethod.Get, next);
            using (response)
            {
                Assert.Equal(HttpStatusCode.OK, status);
                pages.AddRange(Keys(body!));
                next = response.Headers.TryGetValues("X-Tocsin-Next-Cursor", out var cursor) ? "/api/v1/notifications?limit=2&cursor=" + cursor.Single() : null;
            }
        }

        Assert.Equal(AlertingAgent.SeededKeys.Reverse(), pages);
    }

    [Theory]
    [InlineData("/api/v1/notifications?status=sent", "status", "pending, delivered, failed")]
    [InlineData("/api/v1/notifications?limit=0", "limit", "1 to 1000")]
    [InlineData("/api/v1/notifications?cursor=bogus", "cursor", "X-Tocsin-Next-Cursor")]
    public async Task Bad_notification_filters_are_400_naming_the_parameter(string path, string parameter, string allowed)
    {
        var (status, body, response) = await SendAsync(HttpMethod.Get, path);
        response.Dispose();
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertProblem(body, parameter, allowed);
    }

    [Fact]
    public async Task Channels_have_their_delivery_counts_and_channels_no_longer_configured_say_so()
    {
        var channels = (await GetJsonAsync("/api/v1/channels")).AsArray();

        Assert.Equal(["ops", "pager"], channels.Select(c => (string)c!["name"]!));
        var ops = channels[0]!;
        Assert.Equal(2, (long)ops["pending"]!);
        Assert.Equal(2, (long)ops["delivered"]!);
        Assert.Equal(0, (long)ops["failed"]!);
        Assert.NotNull(ops["oldestPendingAt"]);
        Assert.False((bool)ops["configured"]!);
        var pager = channels[1]!;
        Assert.Equal(1, (long)pager["failed"]!);
        Assert.Null(pager["oldestPendingAt"]);
    }

    [Fact]
    public async Task Acknowledge_is_202_then_the_notifier_applies_it_a_second_one_is_409_an_OK_check_409_and_an_unknown_one_404()
    {
        await CriticalRecordAsync(AlertingAgent.ApiCheck);
        string path = $"/api/v1/checks/{Escape(AlertingAgent.ApiCheck)}/acknowledge";

        var (status, body, response) = await SendAsync(HttpMethod.Post, path, """{"comment": "looking at it"}""");
        response.Dispose();
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body?.ToJsonString()}");
        Assert.Equal(AlertingAgent.ApiCheck, (string)body!["check"]!);
        Assert.Equal("api", (string)body["author"]!);
        Assert.Equal("looking at it", (string)body["comment"]!);
        Assert.NotNull(body["incidentId"]);

        var applied = await Poll.UntilAsync(() => AlertAsync(AlertingAgent.ApiCheck), a => a?["acknowledgedAt"] is not null, Deadline, "the acknowledgement applied", () => agent.Agent.Output);
        Assert.Equal("api", (string)applied!["acknowledgedBy"]!);
        Assert.Equal("looking at it", (string)applied["acknowledgeComment"]!);
        var alerts = await GetJsonAsync("/api/v1/alerts");
        Assert.True((bool)alerts["leader"]!);
        Assert.Null(alerts["note"]);

        (status, body, response) = await SendAsync(HttpMethod.Post, path);
        response.Dispose();
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("acknowledged already by api", (string)body!["detail"]!, StringComparison.Ordinal);

        await Poll.UntilAsync(() => GetJsonAsync($"/api/v1/checks/{Escape(ThreeCheckAgent.TcpCheck)}"), c => (string?)c["hardState"] == "OK", Deadline, "the tcp check hard OK");
        (status, body, response) = await SendAsync(HttpMethod.Post, $"/api/v1/checks/{Escape(ThreeCheckAgent.TcpCheck)}/acknowledge");
        response.Dispose();
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("is OK", (string)body!["detail"]!, StringComparison.Ordinal);

        (status, body, response) = await SendAsync(HttpMethod.Post, "/api/v1/checks/nope/acknowledge");
        response.Dispose();
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("nope", (string)body!["detail"]!, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"comment": 5}""", "comment", "must be a string")]
    [InlineData("""{"who": "me"}""", "who", "allowed: \"comment\"")]
    [InlineData("""["x"]""", "body", "JSON object")]
    [InlineData("not json", "body", "not JSON")]
    public async Task A_bad_acknowledge_body_is_400_naming_the_field(string json, string field, string says)
    {
        var (status, body, response) = await SendAsync(HttpMethod.Post, $"/api/v1/checks/{Escape(ThreeCheckAgent.FailingCheck)}/acknowledge", json);
        response.Dispose();
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertProblem(body, field, says);
    }

    [Fact]
    public async Task Silence_is_201_listed_and_held_then_deleted_204_and_404_after()
    {
        await CriticalRecordAsync(ThreeCheckAgent.FailingCheck);
        var before = DateTimeOffset.UtcNow;
        var (status, body, response) = await SendAsync(HttpMethod.Post, $"/api/v1/checks/{Escape(ThreeCheckAgent.FailingCheck)}/silence", """{"for": "30m", "comment": "deploying"}""");
        using (response)
        {
            Assert.True(status == HttpStatusCode.Created, $"{(int)status} {body?.ToJsonString()}");
            string id = (string)body!["id"]!;
            Assert.Equal($"/api/v1/silences/{id}", response.Headers.Location!.OriginalString);
            var endsAt = (DateTimeOffset)body["endsAt"]!;
            Assert.InRange(endsAt, before.AddMinutes(30), DateTimeOffset.UtcNow.AddMinutes(30));
            Assert.Equal("deploying", (string)body["comment"]!);
            Assert.Equal("api", (string)body["author"]!);

            Assert.Contains((await GetJsonAsync("/api/v1/silences")).AsArray(), s => (string)s!["id"]! == id);
            Assert.Contains((await GetJsonAsync($"/api/v1/silences?check={Escape(ThreeCheckAgent.FailingCheck)}")).AsArray(), s => (string)s!["id"]! == id);
            Assert.DoesNotContain((await GetJsonAsync($"/api/v1/silences?check={Escape(ThreeCheckAgent.TcpCheck)}")).AsArray(), s => (string)s!["id"]! == id);
            Assert.Equal(ThreeCheckAgent.FailingCheck, (string)(await GetJsonAsync($"/api/v1/silences/{id}"))["check"]!);
            var held = await Poll.UntilAsync(
                () => AlertAsync(ThreeCheckAgent.FailingCheck), a => ((string?)a?["heldBecause"])?.StartsWith("silenced until", StringComparison.Ordinal) == true,
                Deadline, "the notifier holding the silenced check", () => agent.Agent.Output);
            Assert.NotNull(held!["silencedUntil"]);

            var (deleted, _, r1) = await SendAsync(HttpMethod.Delete, $"/api/v1/silences/{id}");
            r1.Dispose();
            Assert.Equal(HttpStatusCode.NoContent, deleted);
            var (again, problem, r2) = await SendAsync(HttpMethod.Delete, $"/api/v1/silences/{id}");
            r2.Dispose();
            Assert.Equal(HttpStatusCode.NotFound, again);
            Assert.Contains(id, (string)problem!["detail"]!, StringComparison.Ordinal);
            var (gone, _, r3) = await SendAsync(HttpMethod.Get, $"/api/v1/silences/{id}");
            r3.Dispose();
            Assert.Equal(HttpStatusCode.NotFound, gone);
            Assert.DoesNotContain((await GetJsonAsync("/api/v1/silences")).AsArray(), s => (string)s!["id"]! == id);
        }

        var (badId, badBody, r4) = await SendAsync(HttpMethod.Delete, "/api/v1/silences/not-a-uuid");
        r4.Dispose();
        Assert.Equal(HttpStatusCode.BadRequest, badId);
        AssertProblem(badBody, "id", "UUID");
        var (unknown, _, r5) = await SendAsync(HttpMethod.Post, "/api/v1/checks/nope/silence", """{"for": "1h"}""");
        r5.Dispose();
        Assert.Equal(HttpStatusCode.NotFound, unknown);
    }

    [Theory]
    [InlineData("""{"for": "2x"}""", "not a duration")]
    [InlineData("""{"for": "30s"}""", "shorter than 1m")]
    [InlineData("""{"for": "31d"}""", "longer than 30d")]
    [InlineData("""{"for": 30}""", "must be a string")]
    [InlineData("""{"comment": "no length"}""", "missing")]
    [InlineData("", "missing")]
    public async Task A_bad_silence_length_is_400_naming_for_and_the_allowed_values(string json, string says)
    {
        var (status, body, response) = await SendAsync(HttpMethod.Post, $"/api/v1/checks/{Escape(ThreeCheckAgent.TcpCheck)}/silence", json);
        response.Dispose();
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertProblem(body, "for", says, "1m to 30d");
    }

    [Theory]
    [InlineData("Sec-Fetch-Site", "cross-site")]
    [InlineData("Origin", "https://evil.example")]
    public async Task Alerting_writes_from_another_site_are_refused_403(string header, string value)
    {
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Post, $"/api/v1/checks/{Escape(ThreeCheckAgent.FailingCheck)}/acknowledge"),
            (HttpMethod.Post, $"/api/v1/checks/{Escape(ThreeCheckAgent.FailingCheck)}/silence"),
            (HttpMethod.Delete, $"/api/v1/silences/{Guid.CreateVersion7()}"),
        })
        {
            var (status, body, response) = await SendAsync(method, path, """{"for": "1h"}""", (header, value));
            response.Dispose();
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Equal("cross-origin request refused", (string)body!["title"]!);
        }

        // Nothing was stored: the failing check has no active silence (the other test that silences it ends its silence).
        Assert.DoesNotContain((await GetJsonAsync("/api/v1/silences")).AsArray(), s => (string)s!["check"]! == ThreeCheckAgent.FailingCheck);
    }

    [Fact]
    public async Task The_openapi_document_lists_the_alerting_endpoints_with_their_fields()
    {
        var doc = await GetJsonAsync("/openapi/v1.json");
        var paths = doc["paths"]!.AsObject();
        foreach (var (path, method) in new[]
        {
            ("/api/v1/notifications", "get"), ("/api/v1/channels", "get"), ("/api/v1/alerts", "get"), ("/api/v1/silences", "get"),
            ("/api/v1/silences/{id}", "get"), ("/api/v1/silences/{id}", "delete"), ("/api/v1/checks/{name}/acknowledge", "post"),
            ("/api/v1/checks/{name}/silence", "post"),
        })
        {
            Assert.True(paths[path]?[method] is not null, $"{method} {path} missing from {string.Join(", ", paths.Select(p => p.Key))}");
        }

        string schemas = doc["components"]!["schemas"]!.ToJsonString();
        foreach (string field in new[] { "\"lastError\"", "\"nextAttemptAt\"", "\"heldBecause\"", "\"acknowledgedBy\"", "\"silencedUntil\"", "\"endsAt\"", "\"oldestPendingAt\"" })
        {
            Assert.Contains(field, schemas, StringComparison.Ordinal);
        }
    }

    // ---- Dashboard ----

    private async Task<(HttpStatusCode Status, IDocument Page)> GetPageAsync(string path, HttpClient? client = null)
    {
        using var response = await (client ?? agent.Http).GetAsync(Rel(path), Ct);
        string html = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, await new HtmlParser().ParseDocumentAsync(html, Ct));
    }

    /// <summary>Posts a form as the browser does from the agent's own page (same origin), without following the redirect.</summary>
    private async Task<HttpResponseMessage> PostFormAsync(string action, IEnumerable<KeyValuePair<string, string>> fields, string site = "same-origin")
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = agent.Http.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, Rel(action)) { Content = new FormUrlEncodedContent(fields) };
        request.Headers.Add("Sec-Fetch-Site", site);
        return await client.SendAsync(request, Ct);
    }

    private static string CheckHref(string name) => "/checks/" + Escape(name);

    private async Task<IElement?> OverviewRowAsync(string check)
    {
        var (_, page) = await GetPageAsync("/");
        return page.QuerySelectorAll("tr.check").FirstOrDefault(r => r.GetAttribute("data-check") == check);
    }

    [Fact]
    public async Task Check_page_has_an_alerting_section_with_its_notifications_and_the_acknowledge_and_silence_forms()
    {
        await CriticalRecordAsync(ThreeCheckAgent.FailingCheck);
        var (status, page) = await GetPageAsync(CheckHref(ThreeCheckAgent.FailingCheck));

        Assert.Equal(HttpStatusCode.OK, status);
        var section = page.QuerySelector("section#alerting")!;
        Assert.Contains("no channel", section.QuerySelector("#alert-channels")!.TextContent, StringComparison.Ordinal);
        Assert.NotNull(section.QuerySelector("#alert-held"));
        Assert.Equal("no", section.QuerySelector("#alert-acknowledged")!.TextContent.Trim());
        var rows = section.QuerySelectorAll("table#notifications tbody tr");
        Assert.Equal(["delivered", "failed", "pending"], rows.Select(r => r.GetAttribute("data-status")!).Order(StringComparer.Ordinal));
        var failed = rows.Single(r => r.GetAttribute("data-status") == "failed");
        Assert.Equal("problem", failed.QuerySelector("td.type")!.TextContent);
        Assert.Equal("pager", failed.QuerySelector("td.channel")!.TextContent);
        Assert.Equal("5", failed.QuerySelector("td.num")!.TextContent);
        Assert.Contains("HTTP 503", failed.QuerySelector("td.message")!.TextContent, StringComparison.Ordinal);

        var ack = section.QuerySelector("form#acknowledge")!;
        Assert.Equal("post", ack.GetAttribute("method"));
        Assert.Equal(CheckHref(ThreeCheckAgent.FailingCheck) + "/acknowledge", ack.GetAttribute("action"));
        Assert.NotNull(ack.QuerySelector("input[name=comment]"));
        var silence = section.QuerySelector("form#silence")!;
        Assert.Equal(CheckHref(ThreeCheckAgent.FailingCheck) + "/silence", silence.GetAttribute("action"));
        Assert.Equal(["15m", "1h", "4h", "1d"], silence.QuerySelectorAll("select[name=for] option").Select(o => o.GetAttribute("value")));

        // An OK check has nothing to acknowledge: no form.
        var (_, okPage) = await GetPageAsync(CheckHref(agent.OkCheck));
        Assert.Null(okPage.QuerySelector("form#acknowledge"));
        Assert.NotNull(okPage.QuerySelector("form#silence"));
    }

    [Fact]
    public async Task Acknowledge_form_answers_303_then_the_page_shows_who_acknowledged_and_the_overview_marks_the_check()
    {
        await CriticalRecordAsync(AlertingAgent.PageCheck);
        using var post = await PostFormAsync(CheckHref(AlertingAgent.PageCheck) + "/acknowledge", [new("comment", "on call has it")]);

        Assert.Equal(HttpStatusCode.SeeOther, post.StatusCode);
        string location = post.Headers.Location!.OriginalString;
        Assert.StartsWith(CheckHref(AlertingAgent.PageCheck) + "?acknowledged=", location, StringComparison.Ordinal);
        var page = await Poll.UntilAsync(
            async () => (await GetPageAsync(location)).Page,
            p => p.QuerySelector("#alert-acknowledged time") is not null, Deadline, "the acknowledgement on the check's page", () => agent.Agent.Output);
        Assert.Contains("by dashboard", page.QuerySelector("#alert-acknowledged")!.TextContent, StringComparison.Ordinal);
        Assert.Contains("on call has it", page.QuerySelector("#alert-acknowledged")!.TextContent, StringComparison.Ordinal);
        Assert.Null(page.QuerySelector("form#acknowledge"));
        Assert.Equal("note", page.QuerySelector("#alert-notice")!.ClassName);

        var row = await Poll.UntilAsync(() => OverviewRowAsync(AlertingAgent.PageCheck), r => r?.QuerySelector("span.flag.acknowledged") is not null, Deadline, "the overview's acknowledged badge");
        Assert.Equal("acknowledged", row!.QuerySelector("span.flag.acknowledged")!.TextContent);

        // Again: nothing left to acknowledge, said on the page.
        using var again = await PostFormAsync(CheckHref(AlertingAgent.PageCheck) + "/acknowledge", []);
        Assert.Equal(HttpStatusCode.SeeOther, again.StatusCode);
        var (_, refused) = await GetPageAsync(again.Headers.Location!.OriginalString);
        Assert.Contains("Nothing to acknowledge", refused.QuerySelector("#alert-notice.error")!.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silence_form_answers_303_marks_the_overview_and_the_end_silence_form_ends_it()
    {
        string href = CheckHref(ThreeCheckAgent.TcpCheck);
        using var bad = await PostFormAsync(href + "/silence", [new("for", "forever")]);
        Assert.Equal(HttpStatusCode.SeeOther, bad.StatusCode);
        var (_, badPage) = await GetPageAsync(bad.Headers.Location!.OriginalString);
        Assert.Contains("1m to 30d", badPage.QuerySelector("#alert-notice.error")!.TextContent, StringComparison.Ordinal);

        using var post = await PostFormAsync(href + "/silence", [new("for", "4h"), new("comment", "network work")]);
        Assert.Equal(HttpStatusCode.SeeOther, post.StatusCode);
        Assert.StartsWith(href + "?silenced=", post.Headers.Location!.OriginalString, StringComparison.Ordinal);
        var row = await OverviewRowAsync(ThreeCheckAgent.TcpCheck);
        Assert.Equal("silenced", row!.QuerySelector("span.flag.silenced")!.TextContent);
        var (_, page) = await GetPageAsync(post.Headers.Location!.OriginalString);
        Assert.Contains("by dashboard", page.QuerySelector("#alert-silenced")!.TextContent, StringComparison.Ordinal);
        Assert.Contains("network work", page.QuerySelector("#alert-silenced")!.TextContent, StringComparison.Ordinal);
        var end = page.QuerySelector("form#end-silence")!;
        string id = end.QuerySelector("input[name=id]")!.GetAttribute("value")!;

        using var ended = await PostFormAsync(end.GetAttribute("action")!, [new("id", id)]);
        Assert.Equal(HttpStatusCode.SeeOther, ended.StatusCode);
        var (_, after) = await GetPageAsync(href);
        Assert.Null(after.QuerySelector("#alert-silenced"));
        Assert.Null((await OverviewRowAsync(ThreeCheckAgent.TcpCheck))!.QuerySelector("span.flag.silenced"));
        Assert.DoesNotContain((await GetJsonAsync("/api/v1/silences")).AsArray(), s => (string)s!["id"]! == id);
    }

    [Fact]
    public async Task Acknowledge_and_silence_forms_posted_from_another_site_are_refused_403()
    {
        foreach (string action in new[] { "/acknowledge", "/silence" })
        {
            using var post = await PostFormAsync(CheckHref(ThreeCheckAgent.FailingCheck) + action, [new("for", "1h")], site: "cross-site");
            Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
            Assert.Null(post.Headers.Location);
        }

        var alert = await AlertAsync(ThreeCheckAgent.FailingCheck);
        Assert.Null(alert?["acknowledgedAt"]);
    }

    [Fact]
    public async Task Notifications_page_lists_them_with_filters_and_each_channel_s_counts()
    {
        var (status, page) = await GetPageAsync("/notifications");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("page", page.QuerySelector("nav a[href='/notifications']")!.GetAttribute("aria-current"));
        Assert.Equal(5, page.QuerySelectorAll("table#notifications tbody tr").Length);
        var channels = page.QuerySelectorAll("table#channels tbody tr");
        Assert.Equal(["ops", "pager"], channels.Select(r => r.GetAttribute("data-channel")));
        Assert.Equal("2", channels[0].QuerySelector("td.pending")!.TextContent);
        Assert.Equal("1", channels[1].QuerySelector("td.failed")!.TextContent);
        Assert.Contains("no longer configured", channels[0].TextContent, StringComparison.Ordinal);
        foreach (string filter in new[] { "check", "channel", "status" })
        {
            Assert.NotNull(page.QuerySelector($"form#notification-filters [name={filter}]"));
        }

        var (_, failed) = await GetPageAsync("/notifications?status=failed&channel=pager");
        var row = Assert.Single(failed.QuerySelectorAll("table#notifications tbody tr"));
        Assert.Equal(ThreeCheckAgent.FailingCheck, row.QuerySelector("a.check-link")!.TextContent);

        var (badStatus, bad) = await GetPageAsync("/notifications?status=sent");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.Contains("pending, delivered, failed", bad.Body!.TextContent, StringComparison.Ordinal);
    }

    // ---- CLI ----

    private Task<CliRun> CliAsync(params string[] args) =>
        TocsinProcess.RunAsync(agent.Home, new Dictionary<string, string?> { ["USER"] = "alice" }, [.. args, "--config-path", agent.ConfigPath]);

    [Fact]
    public async Task Cli_ack_silence_and_notifications_work_against_the_running_agent_s_outbox()
    {
        await CriticalRecordAsync(AlertingAgent.CliCheck);
        var ack = await CliAsync("ack", AlertingAgent.CliCheck, "--comment", "from the shell");
        Assert.True(ack.ExitCode == 0, ack.ToString());
        var applied = await Poll.UntilAsync(() => AlertAsync(AlertingAgent.CliCheck), a => a?["acknowledgedAt"] is not null, Deadline, "the CLI's acknowledgement applied", () => agent.Agent.Output);
        Assert.Equal("alice", (string)applied!["acknowledgedBy"]!);
        Assert.Equal("from the shell", (string)applied["acknowledgeComment"]!);
        var twice = await CliAsync("ack", AlertingAgent.CliCheck);
        Assert.True(twice.ExitCode == 1, twice.ToString());
        Assert.Contains("acknowledged already by alice", twice.Stderr, StringComparison.Ordinal);
        var unknown = await CliAsync("ack", "nope");
        Assert.True(unknown.ExitCode == 64, unknown.ToString());
        Assert.Contains("no check is named \"nope\"", unknown.Stderr, StringComparison.Ordinal);

        var badLength = await CliAsync("silence", AlertingAgent.CliCheck, "--for", "2x");
        Assert.True(badLength.ExitCode == 64, badLength.ToString());
        Assert.Contains("--for", badLength.Stderr, StringComparison.Ordinal);
        Assert.Contains("1m to 30d", badLength.Stderr, StringComparison.Ordinal);
        var silence = await CliAsync("silence", AlertingAgent.CliCheck, "--for", "1h", "--comment", "cli maintenance");
        Assert.True(silence.ExitCode == 0, silence.ToString());
        var listed = await CliAsync("silence", "list", "--json");
        Assert.True(listed.ExitCode == 0, listed.ToString());
        var mine = Assert.Single(JsonNode.Parse(listed.Stdout)!.AsArray(), s => (string)s!["check"]! == AlertingAgent.CliCheck)!;
        string id = (string)mine["id"]!;
        Assert.Contains(id, silence.Stdout, StringComparison.Ordinal);
        Assert.Equal("alice", (string)mine["author"]!);
        Assert.Contains((await GetJsonAsync("/api/v1/silences")).AsArray(), s => (string)s!["id"]! == id);
        var table = await CliAsync("silence", "list");
        Assert.Contains(AlertingAgent.CliCheck, table.Stdout, StringComparison.Ordinal);
        var end = await CliAsync("silence", "end", id);
        Assert.True(end.ExitCode == 0, end.ToString());
        var endAgain = await CliAsync("silence", "end", id);
        Assert.True(endAgain.ExitCode == 1, endAgain.ToString());
        Assert.Contains("no active silence", endAgain.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain((await GetJsonAsync("/api/v1/silences")).AsArray(), s => (string)s!["id"]! == id);

        var failed = await CliAsync("notifications", "--status", "failed", "--json");
        Assert.True(failed.ExitCode == 0, failed.ToString());
        var only = Assert.Single(JsonNode.Parse(failed.Stdout)!.AsArray())!;
        Assert.Equal("pager", (string)only["channel"]!);
        Assert.Equal(AlertingAgent.PagerError, (string)only["lastError"]!);
        var opsTable = await CliAsync("notifications", "--channel", "ops", "--check", ThreeCheckAgent.FailingCheck);
        Assert.True(opsTable.ExitCode == 0, opsTable.ToString());
        Assert.Contains("reminder", opsTable.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("pager", opsTable.Stdout, StringComparison.Ordinal);
        var badStatus = await CliAsync("notifications", "--status", "sent");
        Assert.True(badStatus.ExitCode == 64, badStatus.ToString());
        Assert.Contains("pending, delivered or failed", badStatus.Stderr, StringComparison.Ordinal);
    }
}

/// <summary>The alerting commands with no agent running: they use the outbox file directly.</summary>
public sealed class AlertingCliOfflineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ack_and_silence_store_commands_in_the_outbox_for_the_next_notifier_and_reads_do_not_create_it()
    {
        using var folder = new TempFolder();
        string config = AgentConfig.Write(folder, AgentConfig.Tcp("db", 1, interval: "1m"), AgentConfig.Tcp("cache", 2, interval: "1m"));
        string outboxPath = AgentConfig.OutboxPath(folder);

        var list = await TocsinProcess.RunAsync(folder.Path, "silence", "list", "--config-path", config);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("no active silence", list.Stdout, StringComparison.Ordinal);
        var none = await TocsinProcess.RunAsync(folder.Path, "notifications", "--config-path", config);
        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.False(File.Exists(outboxPath), "reading created the outbox");

        // What an agent left: db failing (its record saved by the notifier), cache OK.
        using (var outbox = new SqliteOutbox(outboxPath))
        {
            await new SqliteAlertStore(outbox).CommitAsync([], [], [new AlertRecord { CheckName = "db", Kind = "tcp", Hard = CheckState.CRITICAL, Notified = CheckState.CRITICAL }], [], DateTimeOffset.UtcNow, Ct);
        }

        var env = new Dictionary<string, string?> { ["USER"] = "bob" };
        var ack = await TocsinProcess.RunAsync(folder.Path, env, "ack", "db", "-m", "rebooting", "--config-path", config);
        Assert.True(ack.ExitCode == 0, ack.ToString());
        var okAck = await TocsinProcess.RunAsync(folder.Path, env, "ack", "cache", "--config-path", config);
        Assert.True(okAck.ExitCode == 1, okAck.ToString());
        Assert.Contains("\"cache\" is OK", okAck.Stderr, StringComparison.Ordinal);
        var silence = await TocsinProcess.RunAsync(folder.Path, new Dictionary<string, string?> { ["USER"] = null }, "silence", "cache", "--for", "15m", "--config-path", config);
        Assert.True(silence.ExitCode == 0, silence.ToString());
        var noCheck = await TocsinProcess.RunAsync(folder.Path, "silence", "--for", "15m", "--config-path", config);
        Assert.True(noCheck.ExitCode == 64, noCheck.ToString());

        using (var outbox = new SqliteOutbox(outboxPath))
        {
            var commands = outbox.ReadPendingAlertCommands(10);
            Assert.Equal(2, commands.Count);
            Assert.Equal((AlertCommandType.Acknowledge, "db", "bob", "rebooting"), (commands[0].Type, commands[0].CheckName, commands[0].Author, commands[0].Comment));
            Assert.Equal((AlertCommandType.Silence, "cache", "cli"), (commands[1].Type, commands[1].CheckName, commands[1].Author));
            Assert.InRange(commands[1].EndsAt!.Value - commands[1].CreatedAt, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15));
            Assert.Single(outbox.ReadSilences(DateTimeOffset.UtcNow));
        }
    }
}

/// <summary>Alerting's write endpoints behind <c>web.auth</c> (the agent of <see cref="WebOpsTests"/>).</summary>
public sealed class AlertingAuthTests(OpsAgent agent) : IClassFixture<OpsAgent>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json, bool credentials)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        if (credentials)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{OpsAgent.UserName}:{OpsAgent.Password}")));
        }

        return await agent.Http.SendAsync(request, Ct);
    }

    [Fact]
    public async Task Silence_and_acknowledge_need_credentials_and_record_the_user_as_author()
    {
        string check = Uri.EscapeDataString(ThreeCheckAgent.TcpCheck);
        using (var anonymous = await SendAsync(HttpMethod.Post, $"/api/v1/checks/{check}/silence", """{"for": "1h"}""", credentials: false))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var ack = await SendAsync(HttpMethod.Post, $"/api/v1/checks/{Uri.EscapeDataString(ThreeCheckAgent.FailingCheck)}/acknowledge", null, credentials: false))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, ack.StatusCode);
        }

        using var created = await SendAsync(HttpMethod.Post, $"/api/v1/checks/{check}/silence", """{"for": "1h"}""", credentials: true);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal(OpsAgent.UserName, (string)body["author"]!);

        // Reading stays open, as the rest of the API; ending needs credentials too.
        using (var list = await agent.Http.GetAsync(new Uri("/api/v1/silences", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }

        using (var anonymousEnd = await SendAsync(HttpMethod.Delete, $"/api/v1/silences/{(string)body["id"]!}", null, credentials: false))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymousEnd.StatusCode);
        }

        using var ended = await SendAsync(HttpMethod.Delete, $"/api/v1/silences/{(string)body["id"]!}", null, credentials: true);
        Assert.Equal(HttpStatusCode.NoContent, ended.StatusCode);
    }
}
