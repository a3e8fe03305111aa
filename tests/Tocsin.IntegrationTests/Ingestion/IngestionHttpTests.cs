using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tocsin.Access;
using Tocsin.Configuration;
using Tocsin.Ingestion;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary>The HTTP side of ingestion (<c>/api/v1/ingestion/logs|notifications</c>) on a real Kestrel, and its separation from <c>web.auth</c>.</summary>
public sealed class IngestionHttpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Row(IngestionHost host, string message = "m", int level = 20) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"level":{{level}},"time":{{host.Time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0:F3}},"sender":"dns","message":"{{message}}"}""");

    private static HttpClient Client(IngestionHost host, string? token)
    {
        var http = new HttpClient { BaseAddress = host.Http };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    private static StringContent Body(string text, string type = "application/json") => new(text, Encoding.UTF8, type);

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient http, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await http.SendAsync(request, Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task Uploads_take_a_json_array_or_ndjson_and_answer_after_the_commit()
    {
        await using var host = await IngestionHost.StartAsync();
        using var agent = Client(host, await host.TokenAsync("wd-1", IngestionRole.Agent));

        var array = await SendAsync(agent, HttpMethod.Post, "/api/v1/ingestion/logs", Body($"[{Row(host, "a")},{Row(host, "b")}]"));
        var lines = await SendAsync(agent, HttpMethod.Post, "/api/v1/ingestion/notifications", Body($"{Row(host, "n1")}\n{Row(host, "n2", 40)}\n", "application/x-ndjson"));

        Assert.Equal((HttpStatusCode.OK, """{"success":true,"inserted":2}"""), (array.Status, array.Body.GetRawText()));
        Assert.Equal((HttpStatusCode.OK, """{"success":true,"inserted":2}"""), (lines.Status, lines.Body.GetRawText()));
        Assert.Equal(2, (await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct)).Count);
        Assert.Equal(["n2", "n1"], (await host.Store.QueryAsync(RowKind.Notifications, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct)).Select(r => r.Message));
    }

    [Fact]
    public async Task Reads_page_the_tokens_identity_only()
    {
        await using var host = await IngestionHost.StartAsync();
        using var agent = Client(host, await host.TokenAsync("wd-1", IngestionRole.Agent));
        using var other = Client(host, await host.TokenAsync("wd-2", IngestionRole.Agent));
        using var user = Client(host, await host.TokenAsync("wd-1", IngestionRole.User));
        await SendAsync(agent, HttpMethod.Post, "/api/v1/ingestion/logs", Body($"[{Row(host, "1")},{Row(host, "2", 40)},{Row(host, "3")}]"));
        await SendAsync(other, HttpMethod.Post, "/api/v1/ingestion/logs", Body($"[{Row(host, "other")}]"));

        var (status, first) = await SendAsync(user, HttpMethod.Get, "/api/v1/ingestion/logs?timewindow=60&limit=2");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["3", "2"], first.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("message").GetString()));
        var row = first.GetProperty("rows")[0];
        Assert.Equal("dns", row.GetProperty("sender").GetString());
        Assert.Equal(20, row.GetProperty("level").GetInt32());
        Assert.Equal(host.Time.GetUtcNow().ToUnixTimeMilliseconds() / 1000m, row.GetProperty("time").GetDecimal());
        string next = first.GetProperty("next").GetString()!;
        var (_, second) = await SendAsync(user, HttpMethod.Get, $"/api/v1/ingestion/logs?timewindow=60&limit=2&before={next}");
        Assert.Equal(["1"], second.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);

        var (_, filtered) = await SendAsync(user, HttpMethod.Get, "/api/v1/ingestion/logs?timewindow=60&level=info&sender=dns");
        Assert.Equal(["3", "1"], filtered.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("message").GetString()));
        var (_, theirs) = await SendAsync(other, HttpMethod.Get, "/api/v1/ingestion/logs?timewindow=60");
        Assert.Equal(["other"], theirs.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("/api/v1/ingestion/logs", "getLogs: timewindow is missing: must be a number of seconds > 0")]
    [InlineData("/api/v1/ingestion/logs?timewindow=ten", "getLogs: timewindow \"ten\": must be a number of seconds > 0.")]
    [InlineData("/api/v1/ingestion/notifications?timewindow=NaN&limit=5x", "getNotifications: timewindow \"NaN\": must be a number of seconds > 0; limit \"5x\": must be an integer from 1 to 10000.")]
    [InlineData("/api/v1/ingestion/logs?timewindow=10&level=200", "getLogs: level 200: must be an integer 0–100")]
    public async Task Bad_read_parameters_are_named(string path, string comment)
    {
        await using var host = await IngestionHost.StartAsync();
        using var user = Client(host, await host.TokenAsync("wd-1", IngestionRole.User));

        var (status, body) = await SendAsync(user, HttpMethod.Get, path);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.StartsWith(comment, body.GetProperty("comment").GetString());
    }

    [Fact]
    public async Task Bad_uploads_are_refused_whole_with_the_status_that_says_why()
    {
        await using var host = await IngestionHost.StartAsync(new IngestionOptions { MaxFrameBytes = 2048 });
        using var agent = Client(host, await host.TokenAsync("wd-1", IngestionRole.Agent));
        using var user = Client(host, await host.TokenAsync("wd-1", IngestionRole.User));
        using var anonymous = Client(host, null);
        using var wrong = Client(host, "not-a-token");

        var bad = await SendAsync(agent, HttpMethod.Post, "/api/v1/ingestion/logs", Body($"{Row(host)}\n{{\"level\":20}}", "application/x-ndjson"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.StartsWith("uploadLogs: logs[1].time is missing", bad.Body.GetProperty("comment").GetString());
        var empty = await SendAsync(agent, HttpMethod.Post, "/api/v1/ingestion/notifications", Body("[]"));
        Assert.Equal((HttpStatusCode.BadRequest, "Please submit notifications as list of length >= 1"), (empty.Status, empty.Body.GetProperty("comment").GetString()));
        var big = await SendAsync(agent, HttpMethod.Post, "/api/v1/ingestion/logs", Body($"[{Row(host, new string('x', 3000))}]"));
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "The body is over maxFrameBytes (2048 bytes); send fewer rows per request."), (big.Status, big.Body.GetProperty("comment").GetString()));
        var forbidden = await SendAsync(user, HttpMethod.Post, "/api/v1/ingestion/logs", Body($"[{Row(host)}]"));
        Assert.Equal((HttpStatusCode.Forbidden, "Only wds can upload logs."), (forbidden.Status, forbidden.Body.GetProperty("comment").GetString()));

        using var noToken = await anonymous.PostAsync("/api/v1/ingestion/logs", Body($"[{Row(host)}]"), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        Assert.Equal("Bearer realm=\"tocsin-ingestion\"", noToken.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(wrong, HttpMethod.Post, "/api/v1/ingestion/logs", Body($"[{Row(host)}]"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(wrong, HttpMethod.Get, "/api/v1/ingestion/logs?timewindow=10")).Status);
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
    }

    [Fact]
    public async Task A_failed_commit_answers_503_with_retry_after_and_stores_nothing()
    {
        await using var host = await IngestionHost.StartAsync(writer: _ => new FailingWriter());
        using var agent = Client(host, await host.TokenAsync("wd-1", IngestionRole.Agent));

        using var response = await agent.PostAsync("/api/v1/ingestion/logs", Body($"[{Row(host)}]"), Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        Assert.Equal("""{"success":false,"comment":"not stored: the database refused the commit (test)"}""", await response.Content.ReadAsStringAsync(Ct));
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
    }

    [Fact]
    public async Task Ingestion_tokens_and_web_auth_do_not_mix_and_the_write_protections_do_not_block_ingestion()
    {
        string webToken = AccessTokens.Create();
        await using var host = await IngestionHost.StartAsync(webAuth: new WebAuthConfig { Tokens = [new WebToken("ops", AccessTokens.Sha256(webToken))] });
        string ingestionToken = await host.TokenAsync("wd-1", IngestionRole.Agent);
        using var agent = Client(host, ingestionToken);
        using var ops = Client(host, webToken);

        // An agent's upload passes the authentication middleware, and a cross-site header does not matter to a Bearer API.
        using var upload = new HttpRequestMessage(HttpMethod.Post, "/api/v1/ingestion/logs") { Content = Body($"[{Row(host)}]") };
        upload.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var uploaded = await agent.SendAsync(upload, Ct);
        Assert.Equal(HttpStatusCode.OK, uploaded.StatusCode);

        // The ingestion token opens nothing of web.auth's, and web.auth's token opens nothing of ingestion's.
        Assert.Equal(HttpStatusCode.Unauthorized, (await agent.PostAsync("/write", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ops.PostAsync("/write", null, Ct)).StatusCode);
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, "/write");
        crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
        Assert.Equal(HttpStatusCode.Forbidden, (await ops.SendAsync(crossSite, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(ops, HttpMethod.Get, "/api/v1/ingestion/logs?timewindow=60")).Status);
        using var socket = await host.ConnectAsync(ingestionToken);
        Assert.Equal("""{"success":true,"action":"ping"}""", (await socket.RequestAsync("""{"action":"ping"}""")).GetRawText());
        using var opsSocket = await host.ConnectAsync(webToken);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, (await opsSocket.ReceiveCloseAsync()).Status);
    }
}
