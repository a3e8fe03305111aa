using Tocsin.IntegrationTests.Fixtures;
using Tocsin.RocketChatEmulator;

namespace Tocsin.IntegrationTests;

/// <summary><c>tocsin notify list</c> and <c>tocsin notify test NAME</c> as child processes, sending to the Rocket.Chat emulator.</summary>
public sealed class NotifyCommandTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private RocketChatEmulator.RocketChatEmulator _chat = null!;
    private RocketChatUser _bot = null!;
    private string _config = null!;

    public async ValueTask InitializeAsync()
    {
        _chat = await RocketChatEmulator.RocketChatEmulator.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        _bot = _chat.State.AddUser("tocsin-bot");
        int closed = ClosedPort();
        _config = _folder.Write("config.json", $$"""
            {
              "localDatabasePath": "./local.db",
              "notifications": [
                { "name": "ops-room", "type": "rocketchat", "serverUrl": "{{_chat.BaseAddress}}", "userId": "{{_bot.Id}}", "pat": "{{_bot.Pat}}", "room": "GENERAL" },
                { "name": "broken", "type": "webhook", "url": "http://127.0.0.1:{{closed}}/hook" }
              ]
            }
            """);
    }

    public async ValueTask DisposeAsync()
    {
        await _chat.DisposeAsync();
        _folder.Dispose();
    }

    private static int ClosedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task Notify_list_prints_each_channel_without_secrets()
    {
        var run = await TocsinProcess.RunAsync(_folder.Path, "notify", "list", "--config-path", _config);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.Stdout.Split('\n'), l => l.Contains("ops-room", StringComparison.Ordinal) && l.Contains("rocketchat", StringComparison.Ordinal)
            && l.Contains($"chat.sendMessage to GENERAL on {_chat.BaseAddress} as {_bot.Id}", StringComparison.Ordinal));
        Assert.Contains(run.Stdout.Split('\n'), l => l.Contains("broken", StringComparison.Ordinal) && l.Contains("POST http://127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(_bot.Pat, run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Notify_test_sends_a_test_notification_and_says_how_long_it_took()
    {
        var run = await TocsinProcess.RunAsync(_folder.Path, "notify", "test", "ops-room", "--config-path", _config);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"^sent to ops-room \(rocketchat, chat\.sendMessage to GENERAL on .+\) in \d+ ms\s*$", run.Stdout);
        var message = Assert.Single(_chat.State.Messages);
        Assert.Equal(("GENERAL", "tocsin-bot"), (message.RoomId, message.Username));
        Assert.Equal($"*TEST: notification channel ops-room works*\nTest notification from Tocsin on {Environment.MachineName}", message.Text);
    }

    [Fact]
    public async Task Notify_test_of_a_failing_channel_exits_1_with_the_reason()
    {
        var run = await TocsinProcess.RunAsync(_folder.Path, "notify", "test", "broken", "--config-path", _config);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("not sent to broken (webhook, POST http://127.0.0.1:", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("connection failed", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("(transient: a retry may work)", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Notify_test_of_an_unknown_channel_exits_64_listing_the_configured_ones()
    {
        var run = await TocsinProcess.RunAsync(_folder.Path, "notify", "test", "nope", "--config-path", _config);

        Assert.True(run.ExitCode == 64, run.ToString());
        Assert.Contains("no channel is named \"nope\"; configured: ops-room, broken.", run.Stderr, StringComparison.Ordinal);
    }
}
