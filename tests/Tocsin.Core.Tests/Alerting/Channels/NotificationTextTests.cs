using Tocsin.Alerting;
using Tocsin.Alerting.Channels;
using Tocsin.Checks;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>The shared words of notifications: titles per type, body lines, Markdown flavours, durations.</summary>
public sealed class NotificationTextTests
{
    [Fact]
    public void Titles_say_what_happened_for_every_type()
    {
        var p = Samples.Problem();
        Assert.Equal("CRITICAL: site-home (problem)", NotificationText.Title(p));
        Assert.Equal("CRITICAL: site-home (was WARNING)", NotificationText.Title(p with { PreviousState = CheckState.WARNING }));
        Assert.Equal("RECOVERED: site-home is OK after 12m", NotificationText.Title(p with { Type = NotificationType.Recovery, State = CheckState.OK, PreviousState = CheckState.CRITICAL }));
        Assert.Equal("RECOVERED: site-home is OK", NotificationText.Title(p with { Type = NotificationType.Recovery, State = CheckState.OK, Since = null }));
        Assert.Equal("Reminder 2: site-home is still CRITICAL (for 1h 5m)", NotificationText.Title(p with { Type = NotificationType.Reminder, Sequence = 2, Since = Samples.At.AddMinutes(-65) }));
        Assert.Equal("Escalation 1: site-home is CRITICAL, unacknowledged for 30m", NotificationText.Title(p with { Type = NotificationType.Escalation, Sequence = 1, Since = Samples.At.AddMinutes(-30) }));
        Assert.Equal("FLAPPING: site-home started flapping (now CRITICAL)", NotificationText.Title(p with { Type = NotificationType.FlappingStart }));
        Assert.Equal("site-home stopped flapping (now OK)", NotificationText.Title(p with { Type = NotificationType.FlappingStop, State = CheckState.OK }));
        Assert.Equal("ACKNOWLEDGED: site-home (CRITICAL) by alice", NotificationText.Title(p with { Type = NotificationType.Acknowledged, AcknowledgedBy = "alice" }));
        Assert.Equal("TEST: notification channel ops works", NotificationText.Title(p with { Type = NotificationType.Test, CheckName = "" }));
    }

    [Fact]
    public void Body_has_the_message_then_labelled_lines_and_leaves_out_missing_values()
    {
        var p = Samples.Problem() with { AcknowledgedBy = "alice", Comment = "on it\nlooking" };

        Assert.Equal(
            """
            HTTP 503 Service Unavailable
            Check: site-home (http)
            State: CRITICAL (was OK)
            At: 2026-03-01 10:15:00 UTC
            Since: 2026-03-01 10:03:00 UTC
            Acknowledged by: alice
            Comment: on it looking
            Incident: 0195a1b2-0000-7000-8000-000000000001
            Link: https://tocsin.example.org/checks/site-home
            """.ReplaceLineEndings("\n"),
            NotificationText.Body(p));

        string bare = NotificationText.Body(p with { Link = null, IncidentId = null, AcknowledgedBy = null, Comment = null, CheckKind = "" });
        Assert.DoesNotContain("Link", bare, StringComparison.Ordinal);
        Assert.DoesNotContain("Incident", bare, StringComparison.Ordinal);
        Assert.Contains("Check: site-home\n", bare, StringComparison.Ordinal);
    }

    [Fact]
    public void A_test_notification_body_is_its_message_only()
    {
        var t = Samples.Problem() with { Type = NotificationType.Test, CheckName = "", Message = "Test notification from Tocsin on host1" };

        Assert.Equal("Test notification from Tocsin on host1", NotificationText.Body(t));
        Assert.Equal("TEST: notification channel ops works\n\nTest notification from Tocsin on host1", NotificationText.Plain(t));
    }

    [Fact]
    public void Markdown_bolds_the_title_and_links_in_each_flavour_and_escapes_for_slack()
    {
        var p = Samples.Problem(message: "body <b> & more");

        string slack = NotificationText.Markdown(p, MarkdownFlavor.Slack);
        string rocket = NotificationText.Markdown(p, MarkdownFlavor.RocketChat);

        Assert.StartsWith("*CRITICAL: site-home (problem)*\nbody &lt;b&gt; &amp; more\n*Check:* site-home (http)", slack, StringComparison.Ordinal);
        Assert.EndsWith("<https://tocsin.example.org/checks/site-home|Open in Tocsin>", slack, StringComparison.Ordinal);
        Assert.StartsWith("*CRITICAL: site-home (problem)*\nbody <b> & more\n", rocket, StringComparison.Ordinal);
        Assert.EndsWith("[Open in Tocsin](https://tocsin.example.org/checks/site-home)", rocket, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_is_deterministic()
    {
        var p = Samples.Problem();
        Assert.Equal(NotificationText.Plain(p), NotificationText.Plain(Samples.Problem()));
        Assert.Equal(NotificationText.Markdown(p, MarkdownFlavor.Slack), NotificationText.Markdown(Samples.Problem(), MarkdownFlavor.Slack));
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(0.4, "0s")]
    [InlineData(45, "45s")]
    [InlineData(60, "1m")]
    [InlineData(75, "1m 15s")]
    [InlineData(720, "12m")]
    [InlineData(3900, "1h 5m")]
    [InlineData(3630, "1h")]
    [InlineData(183_600, "2d 3h")]
    [InlineData(-5, "0s")]
    public void Span_prints_the_two_largest_units(double seconds, string expected) =>
        Assert.Equal(expected, NotificationText.Span(TimeSpan.FromSeconds(seconds)));
}
