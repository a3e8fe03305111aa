using System.Net.WebSockets;
using System.Text.Json;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary>What /metrics of a real <c>tocsin start</c> says about ingestion after uploads over /ws and HTTP.</summary>
public sealed class IngestionMetricsTests : IDisposable
{
    private readonly TempFolder _folder = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private static string Logs(int count) =>
        JsonSerializer.Serialize(new
        {
            action = "uploadLogs",
            logs = Enumerable.Range(0, count).Select(i => new { level = 20, time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0, sender = "dns", message = $"query {i}" }),
        });

    [Fact]
    public async Task Uploads_show_as_rows_transactions_queue_waits_commits_and_acks_labelled_by_kind()
    {
        string config = AgentConfig.Write(_folder);
        var created = await TocsinProcess.RunAsync(_folder.Path, "tokens", "create", "wd-7", "--config-path", config);
        Assert.True(created.ExitCode == 0, created.ToString());
        string token = created.Stdout.TrimEnd().Split('\n')[^1];
        await using var agent = TocsinProcess.Start(_folder.Path, ["start", "--config-path", config]);
        var http = await agent.ListeningAddressAsync(TimeSpan.FromSeconds(60));
        using var client = new HttpClient { BaseAddress = http };

        using var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Authorization", "Bearer " + token);
        await ws.ConnectAsync(new Uri($"ws://{http.Authority}/ws"), Ct);
        foreach (int rows in new[] { 3, 700 })
        {
            var ack = await ws.RequestAsync(Logs(rows));
            Assert.True(ack.GetProperty("success").GetBoolean(), ack.ToString());
        }

        using var post = new HttpRequestMessage(HttpMethod.Post, "/api/v1/ingestion/logs")
        {
            Content = new StringContent("""[{"level":"info","time":1,"sender":"s","message":"m"}]""".Replace("\"time\":1", $"\"time\":{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}", StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"),
        };
        post.Headers.Authorization = new("Bearer", token);
        using var posted = await client.SendAsync(post, Ct);
        Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync(Ct));

        var scrape = PrometheusText.Parse(await client.GetStringAsync("/metrics", Ct));
        (string, string) logs = ("kind", "logs");
        Assert.Equal(704, scrape.Value("tocsin_ingest_rows_total", logs));
        Assert.Equal("histogram", scrape.Types["tocsin_ingest_transaction_rows"]);
        // Rows per transaction are counted in row buckets (1 … 50,000), not in seconds.
        Assert.Equal(3, scrape.Value("tocsin_ingest_transaction_rows_count", logs));
        Assert.Equal(704, scrape.Value("tocsin_ingest_transaction_rows_sum", logs));
        Assert.Equal(2, scrape.Value("tocsin_ingest_transaction_rows_bucket", logs, ("le", "10")));
        Assert.Equal(2, scrape.Value("tocsin_ingest_transaction_rows_bucket", logs, ("le", "500")));
        Assert.Equal(3, scrape.Value("tocsin_ingest_transaction_rows_bucket", logs, ("le", "1000")));
        foreach (string timed in new[] { "tocsin_ingest_queue_wait_seconds", "tocsin_ingest_commit_duration_seconds", "tocsin_ingest_ack_duration_seconds" })
        {
            Assert.Equal("histogram", scrape.Types[timed]);
            Assert.Equal(3, scrape.Value(timed + "_count", logs));
            Assert.Equal(3, scrape.Value(timed + "_bucket", logs, ("le", "+Inf")));
            Assert.InRange(scrape.Value(timed + "_sum", logs), 0, 60);
        }

        Assert.DoesNotContain(token, agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pushed_notification_is_counted_by_source_and_subscribed_sockets_are_a_gauge()
    {
        string config = AgentConfig.Write(_folder);
        async Task<string> TokenAsync(string role)
        {
            var created = await TocsinProcess.RunAsync(_folder.Path, "tokens", "create", "wd-8", "--role", role, "--config-path", config);
            Assert.True(created.ExitCode == 0, created.ToString());
            return created.Stdout.TrimEnd().Split('\n')[^1];
        }

        string agentToken = await TokenAsync("agent"), userToken = await TokenAsync("user");
        await using var agent = TocsinProcess.Start(_folder.Path, ["start", "--config-path", config]);
        var http = await agent.ListeningAddressAsync(TimeSpan.FromSeconds(60));
        using var client = new HttpClient { BaseAddress = http };
        async Task<ClientWebSocket> ConnectAsync(string token)
        {
            var ws = new ClientWebSocket();
            ws.Options.SetRequestHeader("Authorization", "Bearer " + token);
            await ws.ConnectAsync(new Uri($"ws://{http.Authority}/ws"), Ct);
            return ws;
        }

        using var watchdog = await ConnectAsync(agentToken);
        using var user = await ConnectAsync(userToken);
        // The user's socket is subscribed once it answers a request (it subscribes before reading any).
        Assert.True((await user.RequestAsync("""{"action":"ping"}""")).GetProperty("success").GetBoolean());
        var pushed = user.ReceiveJsonAsync();
        string upload = JsonSerializer.Serialize(new
        {
            action = "uploadNotifications",
            notifications = new[] { new { level = 50, time = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), sender = "ups", message = "on battery" }, new { level = 30, time = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), sender = "ups", message = "charging" } },
        });
        Assert.True((await watchdog.RequestAsync(upload)).GetProperty("success").GetBoolean());
        Assert.Equal(2, (await pushed).GetProperty("notifications").GetArrayLength());

        var scrape = PrometheusText.Parse(await client.GetStringAsync("/metrics", Ct));
        Assert.Equal("counter", scrape.Types["tocsin_ingest_pushes_total"]);
        Assert.Equal(2, scrape.Value("tocsin_ingest_pushes_total", ("source", "local")));
        Assert.Equal(1, scrape.Value("tocsin_ingest_subscribers"));
        Assert.DoesNotContain(scrape.Samples, s => s.Name == "tocsin_ingest_listening"); // only with PostgreSQL
    }
}
