using System.Text.Json;
using Tocsin.Alerting;
using Tocsin.Checks;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>The slack channel against a real Kestrel receiver standing in for Slack's incoming webhook.</summary>
public sealed class SlackChannelTests : IAsyncLifetime
{
    private const string HookToken = "XXXXsecretSlackToken42";

    private HttpReceiver _receiver = null!;

    public async ValueTask InitializeAsync() => _receiver = await HttpReceiver.StartAsync();

    public async ValueTask DisposeAsync() => await _receiver.DisposeAsync();

    private string HookUrl => _receiver.Url($"services/T0001/B0002/{HookToken}").ToString();

    [Fact]
    public async Task Slack_posts_mrkdwn_text_and_an_attachment_coloured_by_state()
    {
        using var c = new ChannelUnderTest($$"""{"name": "alerts", "type": "slack", "url": "{{HookUrl}}", "channel": "#ops", "username": "Tocsin", "iconEmoji": ":rotating_light:"}""");

        await c.Channel.SendAsync(Samples.Problem(message: "a <b> & c"), TestContext.Current.CancellationToken);
        await c.Channel.SendAsync(Samples.Of(NotificationType.Recovery, CheckState.OK, CheckState.CRITICAL), TestContext.Current.CancellationToken);

        var requests = _receiver.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Equal($"/services/T0001/B0002/{HookToken}", requests[0].Path);
        Assert.StartsWith("application/json", requests[0].Header("Content-Type"), StringComparison.Ordinal);
        using var problem = JsonDocument.Parse(requests[0].Body);
        var root = problem.RootElement;
        Assert.Equal("*CRITICAL: site-home (problem)*", root.GetProperty("text").GetString());
        Assert.Equal(("#ops", "Tocsin", ":rotating_light:"), (root.GetProperty("channel").GetString(), root.GetProperty("username").GetString(), root.GetProperty("icon_emoji").GetString()));
        var attachment = Assert.Single(root.GetProperty("attachments").EnumerateArray().ToList());
        Assert.Equal("#d50200", attachment.GetProperty("color").GetString());
        Assert.Equal("CRITICAL: site-home (problem)", attachment.GetProperty("fallback").GetString());
        Assert.StartsWith("a &lt;b&gt; &amp; c\n*Check:* site-home (http)", attachment.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal("text", Assert.Single(attachment.GetProperty("mrkdwn_in").EnumerateArray().ToList()).GetString());

        using var recovery = JsonDocument.Parse(requests[1].Body);
        Assert.Equal("#2eb886", recovery.RootElement.GetProperty("attachments")[0].GetProperty("color").GetString());
        Assert.DoesNotContain(HookToken, c.AllLogText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Slack_without_attachments_sends_the_whole_text_alone()
    {
        using var c = new ChannelUnderTest($$"""{"name": "alerts", "type": "slack", "url": "{{HookUrl}}", "attachments": false}""");

        await c.Channel.SendAsync(Samples.Problem(), TestContext.Current.CancellationToken);

        using var json = JsonDocument.Parse(Assert.Single(_receiver.Requests).Body);
        Assert.Equal(["text"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.StartsWith("*CRITICAL: site-home (problem)*\nHTTP 503 Service Unavailable\n*Check:*", json.RootElement.GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(404, "no_service", true)]
    [InlineData(400, "invalid_payload", true)]
    [InlineData(500, "rollup_error", false)]
    [InlineData(429, "rate_limited", false)]
    public async Task Slack_refusals_are_classified_and_never_show_the_hook_url(int status, string answer, bool permanent)
    {
        _receiver.Status = status;
        _receiver.Answer = answer;
        using var c = new ChannelUnderTest($$"""{"name": "alerts", "type": "slack", "url": "{{HookUrl}}"}""");

        var ex = await c.FailAsync(Samples.Problem());

        Assert.Equal(permanent, ex.Permanent);
        Assert.Equal($"slack \"alerts\": {_receiver.BaseAddress}… answered HTTP {status} {ReasonOf(status)}: \"{answer}\"", ex.Message.Replace(" (credentials refused)", "", StringComparison.Ordinal));
        Assert.DoesNotContain(HookToken, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("T0001", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(HookToken, c.AllLogText(), StringComparison.Ordinal);
    }

    private static string ReasonOf(int status) => status switch
    {
        404 => "Not Found",
        400 => "Bad Request",
        500 => "Internal Server Error",
        _ => "Too Many Requests",
    };
}
