using System.Text.Json;
using Tocsin.Alerting;
using Tocsin.Core.Tests.TestServers;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>The webhook channel against a real Kestrel receiver.</summary>
public sealed class WebhookChannelTests : IAsyncLifetime
{
    private const string Hmac = "hmac-key-9f8e7d6c5b4a";
    private const string QueryToken = "querytoken-123456789";
    private const string HeaderSecret = "Bearer header-secret-abcdef";

    private HttpReceiver _receiver = null!;

    public async ValueTask InitializeAsync() => _receiver = await HttpReceiver.StartAsync();

    public async ValueTask DisposeAsync() => await _receiver.DisposeAsync();

    private ChannelUnderTest Channel(string extra = "", string path = "hooks/tocsin") =>
        new($$"""{"name": "ops", "type": "webhook", "url": "{{_receiver.Url(path)}}"{{extra}}}""");

    [Fact]
    public async Task Webhook_posts_the_documented_payload_with_its_headers()
    {
        using var c = Channel($$""", "headers": {"Authorization": "{{HeaderSecret}}"}""");

        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        var request = Assert.Single(_receiver.Requests);
        Assert.Equal(("POST", "/hooks/tocsin"), (request.Method, request.Path));
        Assert.Equal("application/json", request.Header("Content-Type"));
        Assert.Equal($"Tocsin/{VersionInfo.Version}", request.Header("User-Agent"));
        Assert.Equal(Samples.Problem().IdempotencyKey, request.Header("Idempotency-Key"));
        Assert.Equal("problem", request.Header("X-Tocsin-Event"));
        Assert.Equal(HeaderSecret, request.Header("Authorization"));
        Assert.Equal("", request.Header("X-Tocsin-Signature"));

        using var json = JsonDocument.Parse(request.Body);
        var root = json.RootElement;
        Assert.Equal(
            ["id", "idempotencyKey", "type", "channel", "check", "kind", "state", "previousState", "at", "since", "message", "incidentId", "sequence", "link", "acknowledgedBy", "comment", "title", "text"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Samples.Id.ToString("D"), root.GetProperty("id").GetString());
        Assert.Equal("problem", root.GetProperty("type").GetString());
        Assert.Equal("ops", root.GetProperty("channel").GetString());
        Assert.Equal("site-home", root.GetProperty("check").GetString());
        Assert.Equal("http", root.GetProperty("kind").GetString());
        Assert.Equal("CRITICAL", root.GetProperty("state").GetString());
        Assert.Equal("OK", root.GetProperty("previousState").GetString());
        Assert.Equal("2026-03-01T10:15:00.000Z", root.GetProperty("at").GetString());
        Assert.Equal("2026-03-01T10:03:00.000Z", root.GetProperty("since").GetString());
        Assert.Equal("HTTP 503 Service Unavailable", root.GetProperty("message").GetString());
        Assert.Equal(Samples.Incident.ToString("D"), root.GetProperty("incidentId").GetString());
        Assert.Equal(0, root.GetProperty("sequence").GetInt32());
        Assert.Equal("https://tocsin.example.org/checks/site-home", root.GetProperty("link").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("acknowledgedBy").ValueKind);
        Assert.Equal("CRITICAL: site-home (problem)", root.GetProperty("title").GetString());
        Assert.StartsWith("HTTP 503 Service Unavailable\nCheck: site-home (http)", root.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(HeaderSecret, c.AllLogText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhook_signature_verifies_at_the_receiver_with_the_secret_and_the_timestamp()
    {
        _receiver.Secret = Hmac;
        using var c = Channel($$""", "secret": "{{Hmac}}", "method": "PUT" """);

        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        var request = Assert.Single(_receiver.Requests);
        Assert.Equal("PUT", request.Method);
        Assert.True(request.SignatureValid, "the receiver could not verify X-Tocsin-Signature");
        Assert.Equal(c.Time.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), request.Header("X-Tocsin-Timestamp"));
        Assert.Matches("^sha256=[0-9a-f]{64}$", request.Header("X-Tocsin-Signature"));
        Assert.False(HttpReceiver.Verify("another-key", request.Header("X-Tocsin-Timestamp"), request.Body, request.Header("X-Tocsin-Signature")));
        Assert.False(HttpReceiver.Verify(Hmac, request.Header("X-Tocsin-Timestamp"), [.. request.Body, (byte)' '], request.Header("X-Tocsin-Signature")));
        Assert.DoesNotContain(Hmac, c.AllLogText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhook_template_fills_placeholders_with_json_escaped_values()
    {
        using var c = Channel(""", "template": "{\"text\": \"{{title}}: {{ message }}\", \"seq\": {{sequence}}, \"ack\": \"{{acknowledgedBy}}\"}", "templateContentType": "application/vnd.chat+json" """);

        await c.Channel.SendAsync(Samples.Problem(message: "said \"no\"\nand \\ left"), TestContext.Current.CancellationToken);

        var request = Assert.Single(_receiver.Requests);
        Assert.Equal("application/vnd.chat+json", request.Header("Content-Type"));
        using var json = JsonDocument.Parse(request.Body);
        Assert.Equal("CRITICAL: site-home (problem): said \"no\"\nand \\ left", json.RootElement.GetProperty("text").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("seq").GetInt32());
        Assert.Equal("", json.RootElement.GetProperty("ack").GetString());
    }

    [Theory]
    [InlineData(500, false)]
    [InlineData(503, false)]
    [InlineData(429, false)]
    [InlineData(408, false)]
    [InlineData(400, true)]
    [InlineData(401, true)]
    [InlineData(404, true)]
    [InlineData(302, true)]
    public async Task Webhook_5xx_408_429_are_transient_other_4xx_permanent_and_messages_hide_query_headers_and_secret(int status, bool permanent)
    {
        _receiver.Status = status;
        _receiver.Answer = $"refused {QueryToken}";
        using var c = Channel($$""", "secret": "{{Hmac}}", "headers": {"Authorization": "{{HeaderSecret}}"}""", $"hooks/tocsin/in?token={QueryToken}");

        var ex = await c.FailAsync(Samples.Problem());

        Assert.Equal(permanent, ex.Permanent);
        Assert.StartsWith($"webhook \"ops\": {_receiver.BaseAddress}hooks/… answered HTTP {status}", ex.Message, StringComparison.Ordinal);
        foreach (string secret in new[] { QueryToken, Hmac, HeaderSecret, "header-secret" })
        {
            Assert.DoesNotContain(secret, ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, c.AllLogText(), StringComparison.Ordinal);
        }

        Assert.Contains("refused ***", ex.Message, StringComparison.Ordinal);
        Assert.Contains(c.Logs.GetSnapshot(), r => r.Message.Contains("failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Webhook_to_a_closed_port_is_transient()
    {
        using var c = new ChannelUnderTest($$"""{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:{{KestrelTarget.ClosedPort()}}/x/y?k={{QueryToken}}"}""");

        var ex = await c.FailAsync(Samples.Problem());

        Assert.False(ex.Permanent);
        Assert.Contains("cannot reach http://127.0.0.1:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("connection failed", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(QueryToken, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhook_cancellation_is_not_a_delivery_failure()
    {
        using var c = Channel();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => c.Channel.SendAsync(Samples.Problem(), cancelled.Token));
    }

    [Fact]
    public async Task Webhook_logs_a_delivery_without_the_url_query()
    {
        using var c = Channel(path: $"a/b?token={QueryToken}");

        await c.Channel.SendAsync(Samples.Of(NotificationType.Recovery), TestContext.Current.CancellationToken);

        var line = Assert.Single(c.Logs.GetSnapshot());
        Assert.Contains("Delivered recovery notification", line.Message, StringComparison.Ordinal);
        Assert.Contains($"{_receiver.BaseAddress}a/…", line.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(QueryToken, line.Message, StringComparison.Ordinal);
    }
}
