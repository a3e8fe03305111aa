using System.Net.WebSockets;
using System.Text.Json;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.IntegrationTests.Fixtures;

namespace Tocsin.IntegrationTests.Ingestion;

/// <summary>
/// Two <c>tocsin start</c> processes on one real PostgreSQL, as two replicas behind a load balancer: a notification an agent
/// uploads to one reaches a user's socket on the other (LISTEN/NOTIFY, in place of seed 002's ZMQ relay), rows uploaded to
/// one are read from the other, and identities stay apart.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class IngestionReplicasTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<ClientWebSocket> ConnectAsync(Uri http, string token)
    {
        var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Authorization", "Bearer " + token);
        await ws.ConnectAsync(new Uri($"ws://{http.Authority}/ws"), Ct);
        return ws;
    }

    private static async Task<string> TokenAsync(string home, string config, IReadOnlyDictionary<string, string?> env, string identity, string role)
    {
        var run = await TocsinProcess.RunAsync(home, env, "tokens", "create", identity, "--role", role, "--config-path", config);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run.Stdout.TrimEnd().Split('\n')[^1];
    }

    private static string Notification(string message) =>
        JsonSerializer.Serialize(new { action = "uploadNotifications", notifications = new[] { new { level = 50, time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0, sender = "watchdog", message } } });

    [Fact]
    public async Task A_notification_uploaded_on_one_replica_reaches_a_user_socket_on_the_other_and_only_its_identity()
    {
        string cs = await server.CreateDatabaseAsync();
        var b = new NpgsqlConnectionStringBuilder(cs);
        var env = new Dictionary<string, string?> { ["TOCSIN_PG_PASSWORD"] = server.Password };
        var folders = new[] { new TempFolder(), new TempFolder() };
        var agents = new List<TocsinProcess>();
        var sockets = new List<ClientWebSocket>();
        try
        {
            var configs = folders.Select(f =>
            {
                string config = AgentConfig.Write(f);
                AgentConfig.Edit(config, root => root["externalDatabaseUri"] = $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}");
                return config;
            }).ToArray();
            string agentToken = await TokenAsync(folders[0].Path, configs[0], env, "wd-9", "agent");
            string userToken = await TokenAsync(folders[1].Path, configs[1], env, "wd-9", "user"); // made through the other replica: one token table
            string otherUser = await TokenAsync(folders[1].Path, configs[1], env, "wd-10", "user");
            foreach (var (folder, config) in folders.Zip(configs))
            {
                agents.Add(TocsinProcess.Start(folder.Path, ["start", "--config-path", config], env));
            }

            var urls = new List<Uri>();
            foreach (var agent in agents)
            {
                urls.Add(await agent.ListeningAddressAsync(TimeSpan.FromSeconds(60)));
            }

            string Output() => string.Join(Environment.NewLine, agents.Select((a, i) => $"replica {i}:{Environment.NewLine}{a.Output}"));
            var watchdog = await ConnectAsync(urls[0], agentToken);
            var user = await ConnectAsync(urls[1], userToken);
            var stranger = await ConnectAsync(urls[1], otherUser);
            sockets.AddRange([watchdog, user, stranger]);

            // Until replica 1 listens, a push may be missed (the row is stored all the same): upload until one arrives.
            var receiving = user.ReceiveJsonAsync();
            JsonElement push = default;
            for (int i = 0; ; i++)
            {
                var ack = await watchdog.RequestAsync(Notification($"offline #{i}"));
                Assert.True(ack.GetProperty("success").GetBoolean(), ack.ToString());
                if (await Task.WhenAny(receiving, Task.Delay(500, Ct)) == receiving)
                {
                    push = await receiving;
                    break;
                }

                Assert.True(i < 60, "no push reached the other replica within 30 s" + Environment.NewLine + Output());
            }

            Assert.Equal("uploadNotifications", push.GetProperty("action").GetString());
            var row = push.GetProperty("notifications")[0];
            Assert.Equal("watchdog", row[0].GetString());
            Assert.StartsWith("offline #", row[1].GetString(), StringComparison.Ordinal);
            Assert.Equal(50, row[2].GetInt32());

            // Now listening: the next upload arrives exactly once, and never at another identity's socket.
            while (user.State == WebSocketState.Open)
            {
                // Drain pushes of the earlier uploads that were still on their way.
                var pending = user.ReceiveJsonAsync();
                var ping = await Task.WhenAny(pending, Task.Delay(1000, Ct));
                if (ping != pending)
                {
                    await user.SendTextAsync("""{"action":"ping"}""");
                    var reply = await pending;
                    Assert.Equal("ping", reply.GetProperty("action").GetString());
                    break;
                }
            }

            Assert.True((await watchdog.RequestAsync(Notification("the one"))).GetProperty("success").GetBoolean());
            var one = await user.ReceiveJsonAsync();
            Assert.Equal("the one", one.GetProperty("notifications")[0][1].GetString());
            var strangerReply = await stranger.RequestAsync("""{"action":"ping"}""");
            Assert.Equal("ping", strangerReply.GetProperty("action").GetString());

            // Rows are shared: logs uploaded on replica 0 are read on replica 1, by the same identity only.
            var logs = await watchdog.RequestAsync("""{"action":"uploadLogs","logs":[{"level":20,"time":TIME,"sender":"dns","message":"resolved"}]}""".Replace("TIME", (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
            Assert.Equal("Inserted 1 log(s) into db.", logs.GetProperty("comment").GetString());
            var read = await user.RequestAsync("""{"action":"getLogs","timewindow":60}""");
            Assert.Equal("resolved", read.GetProperty("logs")[0][1].GetString());
            var none = await stranger.RequestAsync("""{"action":"getLogs","timewindow":60}""");
            Assert.Equal(0, none.GetProperty("logs").GetArrayLength());

            // Replica 1's /metrics: listening, two user sockets, the pushes it got from replica 0 counted as remote.
            using var client = new HttpClient { BaseAddress = urls[1] };
            var scrape = PrometheusText.Parse(await client.GetStringAsync("/metrics", Ct));
            Assert.Equal(1, scrape.Value("tocsin_ingest_listening"));
            Assert.Equal(2, scrape.Value("tocsin_ingest_subscribers"));
            Assert.True(scrape.Value("tocsin_ingest_pushes_total", ("source", "remote")) >= 2, "remote pushes counted");
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Abort();
                s.Dispose();
            }

            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }

            foreach (var f in folders)
            {
                f.Dispose();
            }
        }
    }
}
