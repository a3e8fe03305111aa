using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Tocsin.Ingestion;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary><c>/ws</c> end to end: a real Kestrel, ClientWebSocket, the real SQLite store.</summary>
public sealed class IngestionSocketTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary><c>time.time()</c> of the host's clock, as a seed 002 agent writes it.</summary>
    private static string Now(IngestionHost host, double offsetSeconds = 0) =>
        (host.Time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0 + offsetSeconds).ToString("F2", CultureInfo.InvariantCulture);

    private static string Row(IngestionHost host, string sender = "dns", string message = "query blocked", int level = 20) =>
        $$"""{"level":{{level}},"time":{{Now(host)}},"sender":"{{sender}}","message":"{{message}}"}""";

    private static string Logs(params string[] rows) => $$"""{"action":"uploadLogs","logs":[{{string.Join(",", rows)}}]}""";

    private static string Notifications(params string[] rows) => $$"""{"action":"uploadNotifications","notifications":[{{string.Join(",", rows)}}]}""";

    private static async Task AssertOpenAsync(WebSocket ws) =>
        Assert.Equal("""{"success":true,"action":"ping"}""", (await ws.RequestAsync("""{"action":"ping"}""")).GetRawText());

    [Fact]
    public async Task An_agent_written_for_seed_002_works_unchanged_apart_from_its_token()
    {
        await using var host = await IngestionHost.StartAsync();
        string token = await host.TokenAsync("wd-1", IngestionRole.Agent);
        using var agent = await host.ConnectAsync();

        Assert.Equal("""{"success":true,"action":"auth"}""", (await agent.RequestAsync($$"""{"action": "auth", "token": "{{token}}"}""")).GetRawText());
        string time = Now(host);
        Assert.Equal("""{"success":true,"action":"uploadLogs","comment":"Inserted 1 log(s) into db."}""",
            (await agent.RequestAsync($$"""{"action":"uploadLogs","logs":[{"level":20,"time":{{time}},"sender":"dns","message":"…"}]}""")).GetRawText());
        Assert.Equal("""{"success":true,"action":"uploadLogs","comment":"Inserted 2 log(s) into db."}""",
            (await agent.RequestAsync(Logs(Row(host, "dns", "late", 40), Row(host, "dhcp", "lease", 10)))).GetRawText());
        var filtered = await agent.RequestAsync("""{"action":"getLogs","timewindow":10,"sender":"dns","level":30}""");
        Assert.Equal("getLogs", filtered.GetProperty("action").GetString());
        Assert.True(filtered.GetProperty("success").GetBoolean());
        var only = Assert.Single(filtered.GetProperty("logs").EnumerateArray().ToList());
        Assert.Equal(["dns", "…", "20"], only.EnumerateArray().Select(e => e.ToString()));
        Assert.Equal(3, (await agent.RequestAsync("""{"action":"getLogs","timewindow":10}""")).GetProperty("logs").GetArrayLength());

        Assert.Equal("""{"success":true,"action":"uploadNotifications","comment":"Inserted 1 notification(s) into db."}""",
            (await agent.RequestAsync($$"""{"action":"uploadNotifications","notifications":[{"level":30,"time":{{time}},"sender":"fw","message":"new device"}]}""")).GetRawText());
        var notes = await agent.RequestAsync("""{"action":"getNotifications","timewindow":10}""");
        Assert.Equal($$"""[["fw","new device",30,{{time.TrimEnd('0').TrimEnd('.')}}]]""", notes.GetProperty("notifications").GetRawText());

        Assert.Equal("""{"success":false,"action":"getConfig","comment":"No config exists for this WD code."}""",
            (await agent.RequestAsync("""{"action":"getConfig"}""")).GetRawText());
        Assert.True((await agent.RequestAsync("""{"action":"insertConfig","config":{"dns":{"blocklist":["ads"]}}}""")).GetProperty("success").GetBoolean());
        Assert.Equal("""{"success":true,"action":"getConfig","config":{"dns":{"blocklist":["ads"]}}}""",
            (await agent.RequestAsync("""{"action":"getConfig"}""")).GetRawText());

        var unknown = await agent.RequestAsync("""{"action":"deleteEverything"}""");
        Assert.False(unknown.GetProperty("success").GetBoolean());
        Assert.Equal("deleteEverything", unknown.GetProperty("action").GetString());
        await AssertOpenAsync(agent);
        await agent.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", Ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, agent.CloseStatus);
    }

    public static TheoryData<string, string?, string> BadFrames => new()
    {
        { "{\"action\": \"uploadLogs\"", null, "The frame is not valid JSON" },
        { "[]", null, "The frame is an array of 0; send a JSON object" },
        { "{\"logs\": []}", null, "The frame has no \"action\" string; known actions: auth, ping, uploadLogs" },
        { "{\"action\": \"getEverything\"}", "getEverything", "Unknown action \"getEverything\"; known actions: auth, ping" },
        { "{\"action\": \"uploadLogs\", \"logs\": []}", "uploadLogs", "Please submit logs as list of length >= 1" },
        { "{\"action\": \"uploadNotifications\", \"notifications\": {}}", "uploadNotifications", "Please submit notifications as list of length >= 1" },
        { "{\"action\": \"uploadLogs\", \"logs\": [{\"level\": \"loud\", \"time\": 1, \"sender\": \"\", \"message\": 5}]}", "uploadLogs",
            "uploadLogs: logs[0].level \"loud\": must be an integer 0–100 or a level name" },
        { "{\"action\": \"uploadLogs\", \"logs\": [{\"level\": 20, \"time\": 1, \"sender\": \"dns\", \"message\": \"m\"}]}", "uploadLogs",
            "uploadLogs: logs[0].time 1: must be epoch seconds" },
        { "{\"action\": \"getLogs\"}", "getLogs", "getLogs: timewindow is missing: must be a number of seconds > 0" },
        { "{\"action\": \"getNotifications\", \"timewindow\": 10, \"limit\": 0, \"before\": \"x\"}", "getNotifications", "getNotifications: limit 0: must be an integer from 1 to 10000; before \"x\"" },
        { "{\"action\": \"insertConfig\", \"config\": [1]}", "insertConfig", "insertConfig: config an array of 1: must be a JSON object" },
        { "{\"action\": \"auth\", \"token\": \"another\"}", "auth", "This connection is authenticated already" },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task Bad_input_gets_a_clear_comment_and_the_socket_stays_open(string frame, string? action, string comment)
    {
        await using var host = await IngestionHost.StartAsync();
        using var agent = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));

        var reply = await agent.RequestAsync(frame);

        Assert.False(reply.GetProperty("success").GetBoolean());
        Assert.Equal(action, reply.GetProperty("action").GetString());
        Assert.StartsWith(comment, reply.GetProperty("comment").GetString());
        await AssertOpenAsync(agent);
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
    }

    [Fact]
    public async Task Binary_frames_get_a_comment_and_an_upload_is_accepted_or_refused_whole()
    {
        await using var host = await IngestionHost.StartAsync(new IngestionOptions { MaxRowsPerFrame = 3, MaxSenderLength = 8 });
        using var agent = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));

        await agent.SendAsync(Encoding.UTF8.GetBytes("""{"action":"ping"}"""), WebSocketMessageType.Binary, true, Ct);
        Assert.Equal("""{"success":false,"action":null,"comment":"Binary frames are not read: send each request as a text frame of UTF-8 JSON."}""",
            (await agent.ReceiveJsonAsync()).GetRawText());

        var tooMany = await agent.RequestAsync(Logs(Row(host), Row(host), Row(host), Row(host)));
        Assert.Equal("uploadLogs: 4 logs in one upload; at most 3 (maxRowsPerFrame) are allowed, send them in several.", tooMany.GetProperty("comment").GetString());
        var oneBad = await agent.RequestAsync(Logs(Row(host), Row(host, sender: "far-too-long-sender")));
        Assert.StartsWith("uploadLogs: logs[1].sender \"far-too-long-sender\": 19 characters; must be a string of 1–8 characters (maxSenderLength)",
            oneBad.GetProperty("comment").GetString());
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
        await AssertOpenAsync(agent);
    }

    [Fact]
    public async Task No_or_a_bad_token_closes_with_1008_and_nothing_is_stored()
    {
        await using var host = await IngestionHost.StartAsync();
        string token = await host.TokenAsync("wd-1", IngestionRole.Agent);

        using (var bad = await host.ConnectAsync("not-a-token"))
        {
            Assert.Equal((WebSocketCloseStatus.PolicyViolation, "invalid token"), await bad.ReceiveCloseAsync());
        }

        using (var badFrame = await host.ConnectAsync())
        {
            await badFrame.SendTextAsync("""{"action":"auth","token":"not-a-token"}""");
            Assert.Equal((WebSocketCloseStatus.PolicyViolation, "invalid token"), await badFrame.ReceiveCloseAsync());
        }

        using (var uploadFirst = await host.ConnectAsync())
        {
            await uploadFirst.SendTextAsync(Logs(Row(host)));
            var (status, reason) = await uploadFirst.ReceiveCloseAsync();
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
            Assert.StartsWith("authenticate first", reason);
        }

        using (var silent = await host.ConnectAsync())
        {
            var close = silent.ReceiveCloseAsync();
            // The server's 10 s deadline runs on the host's clock: move it on until the deadline has been set and passed.
            await Poll.UntilAsync(() => { host.Time.Advance(TimeSpan.FromSeconds(11)); return close.IsCompleted; }, done => done, IngestionClient.Deadline, "the auth deadline");
            Assert.Equal((WebSocketCloseStatus.PolicyViolation, "no auth frame within 10 s"), await close);
        }

        var revoked = (await host.Store.ListTokensAsync(Ct)).Single();
        await host.Store.RevokeTokenAsync(revoked.Id, Ct);
        using (var afterRevoke = await host.ConnectAsync(token))
        {
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, (await afterRevoke.ReceiveCloseAsync()).Status);
        }

        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
    }

    [Fact]
    public async Task A_frame_over_max_frame_bytes_closes_with_1009()
    {
        await using var host = await IngestionHost.StartAsync(new IngestionOptions { MaxFrameBytes = 2048 });
        using var agent = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));
        await AssertOpenAsync(agent);

        await agent.SendTextAsync(Logs(Row(host, message: new string('x', 3000))));

        Assert.Equal((WebSocketCloseStatus.MessageTooBig, "frame over maxFrameBytes (2048 bytes)"), await agent.ReceiveCloseAsync());
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
    }

    [Fact]
    public async Task A_user_cannot_upload()
    {
        await using var host = await IngestionHost.StartAsync();
        using var user = await host.ConnectWithFrameAsync(await host.TokenAsync("wd-1", IngestionRole.User));

        Assert.Equal("""{"success":false,"action":"uploadLogs","comment":"Only wds can upload logs."}""", (await user.RequestAsync(Logs(Row(host)))).GetRawText());
        Assert.Equal("""{"success":false,"action":"uploadNotifications","comment":"Only wds can upload notifications."}""", (await user.RequestAsync(Notifications(Row(host)))).GetRawText());
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
        Assert.Empty(await host.Store.QueryAsync(RowKind.Notifications, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
    }

    [Fact]
    public async Task Identities_cannot_read_each_others_rows()
    {
        await using var host = await IngestionHost.StartAsync();
        using var agent1 = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));
        using var agent2 = await host.ConnectAsync(await host.TokenAsync("wd-2", IngestionRole.Agent));
        using var user2 = await host.ConnectAsync(await host.TokenAsync("wd-2", IngestionRole.User));
        await agent1.RequestAsync(Logs(Row(host, message: "one")));
        await agent1.RequestAsync(Notifications(Row(host, message: "one")));
        await agent1.RequestAsync("""{"action":"insertConfig","config":{"owner":"one"}}""");
        await agent2.RequestAsync(Logs(Row(host, message: "two")));

        Assert.Equal("""[["dns","two",20]]""", (await user2.RequestAsync("""{"action":"getLogs","timewindow":60}""")).GetProperty("logs").GetRawText());
        Assert.Equal("""[["dns","two",20]]""", (await agent2.RequestAsync("""{"action":"getLogs","timewindow":60}""")).GetProperty("logs").GetRawText());
        Assert.Equal(0, (await user2.RequestAsync("""{"action":"getNotifications","timewindow":60}""")).GetProperty("notifications").GetArrayLength());
        Assert.False((await user2.RequestAsync("""{"action":"getConfig"}""")).GetProperty("success").GetBoolean());
        Assert.Equal("""[["dns","one",20]]""", (await agent1.RequestAsync("""{"action":"getLogs","timewindow":60}""")).GetProperty("logs").GetRawText());
    }

    [Fact]
    public async Task Success_comes_only_after_the_commit_and_a_failed_commit_stores_nothing()
    {
        await using var host = await IngestionHost.StartAsync(writer: _ => new FailingWriter());
        using var agent = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));
        using var user = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.User));

        Assert.Equal("""{"success":false,"action":"uploadLogs","comment":"not stored: the database refused the commit (test)"}""",
            (await agent.RequestAsync(Logs(Row(host)))).GetRawText());
        Assert.Equal("not stored: the database refused the commit (test)", (await agent.RequestAsync(Notifications(Row(host)))).GetProperty("comment").GetString());

        await AssertOpenAsync(agent);
        await AssertOpenAsync(user); // no push came before the pong: nothing was announced
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
        Assert.Empty(await host.Store.QueryAsync(RowKind.Notifications, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
    }

    [Fact]
    public async Task At_most_max_in_flight_uploads_await_their_commit_and_replies_come_in_order()
    {
        GatedWriter? writer = null;
        await using var host = await IngestionHost.StartAsync(new IngestionOptions { MaxInFlight = 2 }, store => writer = new GatedWriter(store));
        using var agent = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));
        using var reader = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.User));
        await AssertOpenAsync(agent); // the writer is built with the first request's services

        for (int i = 1; i <= 6; i++)
        {
            await agent.SendTextAsync(Logs(Enumerable.Range(0, i).Select(_ => Row(host)).ToArray()));
        }

        await Poll.UntilAsync(() => writer!.Arrived, n => n == 2, IngestionClient.Deadline, "two uploads awaiting their commit");
        Assert.Empty(await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct));
        Assert.Equal(0, (await reader.RequestAsync("""{"action":"getLogs","timewindow":60}""")).GetProperty("logs").GetArrayLength());

        for (int i = 1; i <= 6; i++)
        {
            writer!.Open();
            Assert.Equal($"Inserted {i} log(s) into db.", (await agent.ReceiveJsonAsync()).GetProperty("comment").GetString());
        }

        Assert.Equal(2, writer!.MaxPending);
        Assert.Equal(6, writer.Arrived);
        Assert.Equal(21, (await host.Store.QueryAsync(RowKind.Logs, new RowQuery("wd-1", DateTimeOffset.UnixEpoch), Ct)).Count);
    }

    [Fact]
    public async Task Uploads_over_the_row_rate_wait_for_the_clock_instead_of_failing()
    {
        GatedWriter? writer = null;
        await using var host = await IngestionHost.StartAsync(new IngestionOptions { MaxRowsPerSecond = 2, MaxRowsPerFrame = 2 }, store => writer = new GatedWriter(store));
        using var agent = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));
        await AssertOpenAsync(agent);
        writer!.Open(10);

        Assert.True((await agent.RequestAsync(Logs(Row(host), Row(host)))).GetProperty("success").GetBoolean());
        await agent.SendTextAsync(Logs(Row(host), Row(host)));
        await agent.SendTextAsync("""{"action":"ping"}""");
        var reply = agent.ReceiveJsonAsync();

        // Nothing moves the host's clock but this test: the second upload cannot have reached the writer.
        Assert.Equal(1, writer.Arrived);
        await Poll.UntilAsync(() => { host.Time.Advance(TimeSpan.FromMilliseconds(250)); return writer.Arrived; }, n => n == 2, IngestionClient.Deadline, "the rate to allow the second upload");
        Assert.Equal("Inserted 2 log(s) into db.", (await reply).GetProperty("comment").GetString());
        Assert.Equal("ping", (await agent.ReceiveJsonAsync()).GetProperty("action").GetString());
    }

    [Fact]
    public async Task Notifications_are_pushed_live_to_user_sockets_of_the_same_identity_only()
    {
        await using var host = await IngestionHost.StartAsync();
        using var agent1 = await host.ConnectAsync(await host.TokenAsync("wd-1", IngestionRole.Agent));
        using var agent2 = await host.ConnectAsync(await host.TokenAsync("wd-2", IngestionRole.Agent));
        using var user1 = await host.ConnectWithFrameAsync(await host.TokenAsync("wd-1", IngestionRole.User));
        using var user2 = await host.ConnectAsync(await host.TokenAsync("wd-2", IngestionRole.User));
        await AssertOpenAsync(user2); // subscribed before the uploads

        string time = Now(host);
        // Agents get no pushes: the reply to the upload is its acknowledgement, not the push published before it.
        Assert.Equal("Inserted 1 notification(s) into db.",
            (await agent1.RequestAsync($$"""{"action":"uploadNotifications","notifications":[{"level":40,"time":{{time}},"sender":"fw","message":"intrusion"}]}""")).GetProperty("comment").GetString());
        Assert.Equal($$"""{"success":true,"action":"uploadNotifications","notifications":[["fw","intrusion",40,{{time.TrimEnd('0').TrimEnd('.')}}]]}""",
            (await user1.ReceiveJsonAsync()).GetRawText());

        await agent2.RequestAsync(Notifications(Row(host, message: "for two")));
        // Had wd-1's push reached wd-2's user, it would have come first.
        Assert.Equal("for two", (await user2.ReceiveJsonAsync()).GetProperty("notifications")[0][1].GetString());
        await agent1.RequestAsync(Logs(Row(host)));
        await AssertOpenAsync(user1); // logs are not pushed
    }

    [Fact]
    public async Task Past_max_connections_the_upgrade_is_refused_with_503_and_a_plain_get_with_400()
    {
        await using var host = await IngestionHost.StartAsync(new IngestionOptions { MaxConnections = 1 });
        string token = await host.TokenAsync("wd-1", IngestionRole.Agent);
        using var first = await host.ConnectAsync(token);
        await AssertOpenAsync(first);

        using var second = new ClientWebSocket();
        second.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => second.ConnectAsync(host.Ws, Ct));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.HttpStatusCode);

        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "", Ct);
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync(new Uri(host.Http, "/ws"), Ct)).StatusCode);
        using var third = await Poll.UntilAsync<ClientWebSocket?>(async () =>
        {
            var ws = new ClientWebSocket();
            try
            {
                await ws.ConnectAsync(host.Ws, Ct);
                return ws;
            }
            catch (WebSocketException)
            {
                ws.Dispose();
                return null;
            }
        }, ws => ws is not null, IngestionClient.Deadline, "a free connection slot");
        await third!.SendTextAsync(JsonSerializer.Serialize(new { action = "auth", token }));
        Assert.True((await third!.ReceiveJsonAsync()).GetProperty("success").GetBoolean());
    }
}
