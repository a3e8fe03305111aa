using System.Text.Json.Nodes;
using Tocsin.IntegrationTests.Fixtures;
using Tocsin.RocketChatEmulator;

namespace Tocsin.IntegrationTests;

/// <summary>
/// One real <c>tocsin start</c> (SQLite only) with an http check that fails and recovers, notifying a Rocket.Chat room through
/// the emulator's REST API and a webhook receiver: one problem and one recovery each, in order, also across a Rocket.Chat
/// outage.
/// </summary>
public sealed class AlertingEndToEndTests
{
    [Fact]
    public async Task A_failure_and_its_recovery_reach_the_room_and_the_webhook_once_each_even_through_an_outage()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var target = await TargetServer.StartAsync();
        await using var hook = await WebhookReceiver.StartAsync();
        await using var chat = await RocketChatEmulator.RocketChatEmulator.StartAsync(cancellationToken: ct);
        var bot = chat.State.AddUser("tocsin-bot");
        using var folder = new TempFolder();
        var check = AgentConfig.Http("site", target.Url("/switch/site"));
        check["failureThreshold"] = 3;
        check["notify"] = new JsonArray("ops-room", "hook");
        string config = AgentConfig.Write(folder, check);
        AgentConfig.Edit(config, root =>
        {
            root["alerting"] = new JsonObject { ["deliveryTimeout"] = "2s" };
            root["web"]!["publicUrl"] = "https://tocsin.example.org/";
            root["notifications"] = new JsonArray(
                new JsonObject
                {
                    ["name"] = "ops-room", ["type"] = "rocketchat", ["serverUrl"] = chat.BaseAddress.ToString(), ["userId"] = bot.Id, ["pat"] = bot.Pat,
                    ["room"] = "GENERAL",
                },
                new JsonObject { ["name"] = "hook", ["type"] = "webhook", ["url"] = hook.Url });
        });
        await using var agent = TocsinProcess.Start(folder.Path, ["start", "--config-path", config]);
        string Messages() => string.Join(Environment.NewLine, chat.State.Messages.Select(m => m.Text)) + Environment.NewLine + agent.Output;

        target.SetSwitch("site", 500);
        await Poll.UntilAsync(() => chat.State.Messages.Count, n => n >= 1, TimeSpan.FromSeconds(60), "the problem in the room", Messages);
        await Poll.UntilAsync(() => hook.Received.Count, n => n >= 1, TimeSpan.FromSeconds(30), "the problem at the webhook", Messages);
        var problem = Assert.Single(chat.State.Messages);
        Assert.Contains("CRITICAL: site (problem)", problem.Text, StringComparison.Ordinal);
        Assert.Contains("https://tocsin.example.org/checks/site", problem.Text, StringComparison.Ordinal);
        Assert.Equal(bot.Id, problem.UserId);
        Assert.Equal("problem", Assert.Single(hook.Received).Type);

        // Rocket.Chat goes down; the check recovers and fails again meanwhile: the webhook gets both at once, the room once it
        // is back, in order, once each.
        await chat.Instances[0].GoDownAsync();
        target.SetSwitch("site", 200);
        await Poll.UntilAsync(() => hook.Received.Count, n => n >= 2, TimeSpan.FromSeconds(30), "the recovery at the webhook", Messages);
        target.SetSwitch("site", 500);
        await Poll.UntilAsync(() => hook.Received.Count, n => n >= 3, TimeSpan.FromSeconds(30), "the second problem at the webhook", Messages);
        await chat.Instances[0].ComeBackAsync(ct);
        await Poll.UntilAsync(() => chat.State.Messages.Count, n => n >= 3, TimeSpan.FromSeconds(60), "the room catching up", Messages);
        await Task.Delay(TimeSpan.FromSeconds(3), ct);

        Assert.Equal(["problem", "recovery", "problem"], hook.Received.Select(r => r.Type));
        Assert.Equal(3, hook.Received.Select(r => r.Key).Distinct().Count());
        var texts = chat.State.Messages.Select(m => m.Text).ToList();
        Assert.Equal(3, texts.Count);
        Assert.Contains("CRITICAL: site (problem)", texts[0], StringComparison.Ordinal);
        Assert.Contains("RECOVERED: site", texts[1], StringComparison.Ordinal);
        Assert.Contains("CRITICAL: site (problem)", texts[2], StringComparison.Ordinal);
        Assert.DoesNotContain(bot.Pat, agent.Output, StringComparison.Ordinal);
    }
}
