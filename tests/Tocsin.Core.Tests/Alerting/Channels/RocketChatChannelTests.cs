using Tocsin.Alerting;
using Tocsin.RocketChatEmulator;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>The rocketchat channel against the Rocket.Chat emulator (REST with a PAT, and incoming webhooks).</summary>
public sealed class RocketChatChannelTests : IAsyncLifetime
{
    private RocketChatEmulator.RocketChatEmulator _chat = null!;
    private RocketChatUser _bot = null!;

    public async ValueTask InitializeAsync()
    {
        _chat = await RocketChatEmulator.RocketChatEmulator.StartAsync(new RocketChatEmulatorOptions { Instances = 2 }, TestContext.Current.CancellationToken);
        _bot = _chat.State.AddUser("tocsin-bot");
    }

    public async ValueTask DisposeAsync() => await _chat.DisposeAsync();

    private ChannelUnderTest Rest(string room, string? pat = null, int instance = 0) => new($$"""
        {"name": "ops-room", "type": "rocketchat", "serverUrl": "{{_chat.Instances[instance].BaseAddress}}", "userId": "{{_bot.Id}}", "pat": "{{pat ?? _bot.Pat}}", "room": "{{room}}"}
        """);

    [Fact]
    public async Task Rest_with_a_room_id_posts_chat_sendMessage_as_the_pat_user()
    {
        using var c = Rest("GENERAL");

        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        var m = Assert.Single(_chat.State.Messages);
        Assert.Equal(("GENERAL", _bot.Id, "tocsin-bot", "chat.sendMessage"), (m.RoomId, m.UserId, m.Username, m.Endpoint));
        Assert.StartsWith("*CRITICAL: site-home (problem)*\nHTTP 503 Service Unavailable\n*Check:* site-home (http)", m.Text, StringComparison.Ordinal);
        Assert.EndsWith("[Open in Tocsin](https://tocsin.example.org/checks/site-home)", m.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(_bot.Pat, c.AllLogText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rest_with_a_channel_or_user_name_posts_chat_postMessage()
    {
        var alice = _chat.State.AddUser("alice");
        using var channel = Rest("#general");
        using var direct = Rest("@alice", instance: 1);

        await channel.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);
        await direct.Channel.SendAsync(Samples.Of(NotificationType.Reminder, sequence: 1), TestContext.Current.CancellationToken);

        var messages = _chat.State.Messages;
        Assert.Equal(2, messages.Count);
        Assert.Equal(("GENERAL", "chat.postMessage", 0), (messages[0].RoomId, messages[0].Endpoint, messages[0].Instance));
        Assert.Equal((_chat.State.DirectRoom(_bot, alice).Id, "chat.postMessage", 1), (messages[1].RoomId, messages[1].Endpoint, messages[1].Instance));
        Assert.StartsWith("*Reminder 1: site-home is still CRITICAL (for 12m)*", messages[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_incoming_webhook_posts_the_text_into_its_room()
    {
        var hook = _chat.State.AddIncomingWebhook(_chat.State.FindRoom("GENERAL")!, _bot);
        using var c = new ChannelUnderTest($$"""{"name": "ops-hook", "type": "rocketchat", "webhookUrl": "{{_chat.Instances[0].Url(hook.Path)}}"}""");

        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        var m = Assert.Single(_chat.State.Messages);
        Assert.Equal(("GENERAL", "hooks"), (m.RoomId, m.Endpoint));
        Assert.StartsWith("*CRITICAL: site-home (problem)*", m.Text, StringComparison.Ordinal);
        Assert.Equal($"incoming webhook {_chat.Instances[0].BaseAddress}hooks/…", c.Describe());
        Assert.DoesNotContain(hook.Token, c.AllLogText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_pat_is_permanent_and_the_pat_is_never_shown()
    {
        const string WrongPat = "wrong-personal-access-token-0123456789";
        using var c = Rest("GENERAL", WrongPat);

        var ex = await c.FailAsync(Samples.Problem());

        Assert.True(ex.Permanent);
        Assert.Contains("answered HTTP 401 Unauthorized (credentials refused)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("You must be logged in to do this.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(WrongPat, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(WrongPat, c.AllLogText(), StringComparison.Ordinal);
        Assert.Empty(_chat.State.Messages);
    }

    [Fact]
    public async Task An_unknown_room_is_permanent_with_rocketchats_error()
    {
        using var byId = Rest("NOSUCHROOM");
        using var byName = Rest("#nosuchchannel");

        var idError = await byId.FailAsync(Samples.Problem());
        var nameError = await byName.FailAsync(Samples.Problem());

        Assert.True(idError.Permanent);
        Assert.True(nameError.Permanent);
        Assert.Contains("HTTP 400", idError.Message, StringComparison.Ordinal);
        Assert.Contains("[invalid-channel]", nameError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_hook_token_is_permanent_and_the_token_is_never_shown()
    {
        var hook = _chat.State.AddIncomingWebhook(_chat.State.FindRoom("GENERAL")!, _bot);
        string wrong = hook.Token[..^4] + "zzzz";
        using var c = new ChannelUnderTest($$"""{"name": "ops-hook", "type": "rocketchat", "webhookUrl": "{{_chat.Instances[0].Url($"hooks/{hook.Id}/{wrong}")}}"}""");

        var ex = await c.FailAsync(Samples.Problem());

        Assert.True(ex.Permanent);
        Assert.Contains("HTTP 404", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid integration id or token provided.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(hook.Id, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_or_down_server_is_transient_and_delivery_works_again_when_it_is_back()
    {
        using var c = Rest("GENERAL");
        var instance = _chat.Instances[0];

        instance.Failure = RocketChatFailure.Http500;
        var failing = await c.FailAsync(Samples.Problem());
        instance.Failure = RocketChatFailure.None;
        await instance.GoDownAsync();
        var down = await c.FailAsync(Samples.Problem());
        await instance.ComeBackAsync(TestContext.Current.CancellationToken);
        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        Assert.False(failing.Permanent);
        Assert.Contains("HTTP 500", failing.Message, StringComparison.Ordinal);
        Assert.False(down.Permanent);
        Assert.Contains("connection failed", down.Message, StringComparison.Ordinal);
        Assert.Single(_chat.State.Messages);
    }

    [Fact]
    public async Task A_2xx_reply_without_success_true_is_permanent()
    {
        await using var receiver = await HttpReceiver.StartAsync();
        receiver.Answer = """{"success":false,"error":"error-action-not-allowed"}""";
        using var c = new ChannelUnderTest($$"""{"name": "ops-room", "type": "rocketchat", "serverUrl": "{{receiver.BaseAddress}}chat/", "userId": "u1", "pat": "pat-value-123456", "room": "GENERAL"}""");

        var ex = await c.FailAsync(Samples.Problem());

        Assert.True(ex.Permanent);
        Assert.Contains("without \"success\": true: \"error-action-not-allowed\"", ex.Message, StringComparison.Ordinal);
        var request = Assert.Single(receiver.Requests);
        Assert.Equal("/chat/api/v1/chat.sendMessage", request.Path);
        Assert.Equal(("u1", "pat-value-123456"), (request.Header("X-User-Id"), request.Header("X-Auth-Token")));
        using var body = System.Text.Json.JsonDocument.Parse(request.Body);
        Assert.Equal(["message"], body.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["rid", "msg"], body.RootElement.GetProperty("message").EnumerateObject().Select(p => p.Name));
        Assert.Equal("GENERAL", body.RootElement.GetProperty("message").GetProperty("rid").GetString());
        Assert.Equal(
            Tocsin.Alerting.Channels.NotificationText.Markdown(Samples.Problem(), Tocsin.Alerting.Channels.MarkdownFlavor.RocketChat),
            body.RootElement.GetProperty("message").GetProperty("msg").GetString());
    }
}
