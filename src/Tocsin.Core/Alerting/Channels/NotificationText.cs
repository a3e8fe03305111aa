using System.Globalization;
using System.Text;
using Tocsin.Checks;

namespace Tocsin.Alerting.Channels;

/// <summary>How <see cref="NotificationText.Markdown"/> marks text up.</summary>
public enum MarkdownFlavor
{
    /// <summary>Slack's <c>mrkdwn</c>: <c>*bold*</c>, links <c>&lt;url|text&gt;</c>, and <c>&amp;</c>, <c>&lt;</c>, <c>&gt;</c> escaped as HTML entities.</summary>
    Slack,

    /// <summary>Rocket.Chat's message Markdown: <c>*bold*</c>, links <c>[text](url)</c>.</summary>
    RocketChat,
}

/// <summary>
/// The words of a notification, shared by every channel so that a problem reads the same in a chat room, an e-mail and a
/// webhook's <c>title</c>/<c>text</c> fields. Deterministic: the same notification always gives the same text (times are
/// printed in UTC, durations from <see cref="Notification.At"/> and <see cref="Notification.Since"/>, never from a clock).
/// </summary>
/// <remarks>
/// Titles, by <see cref="NotificationType"/>:
/// <list type="bullet">
/// <item><c>CRITICAL: site-home (problem)</c>, or <c>CRITICAL: site-home (was WARNING)</c> between non-OK states;</item>
/// <item><c>RECOVERED: site-home is OK after 12m</c> (without <c>after …</c> when the start is unknown);</item>
/// <item><c>Reminder 2: site-home is still CRITICAL (for 1h 5m)</c>;</item>
/// <item><c>Escalation 1: site-home is CRITICAL, unacknowledged for 30m</c>;</item>
/// <item><c>FLAPPING: site-home started flapping (now CRITICAL)</c> / <c>site-home stopped flapping (now OK)</c>;</item>
/// <item><c>ACKNOWLEDGED: site-home (CRITICAL) by alice</c>;</item>
/// <item><c>TEST: notification channel ops-room works</c>.</item>
/// </list>
/// The body has the result's message on its first line, then <c>Label: value</c> lines: check (with kind), state, since,
/// acknowledged by and comment, incident, link; lines without a value are left out.
/// </remarks>
public static class NotificationText
{
    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss 'UTC'";

    /// <summary>The one-line title (also the e-mail subject), e.g. <c>CRITICAL: site-home (problem)</c>.</summary>
    public static string Title(Notification notification)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var n = notification;
        string check = n.CheckName;
        string state = StateName(n.State);
        return n.Type switch
        {
            NotificationType.Problem => n.PreviousState == CheckState.OK
                ? $"{state}: {check} (problem)"
                : $"{state}: {check} (was {StateName(n.PreviousState)})",
            NotificationType.Recovery => ProblemLength(n) is { } length
                ? $"RECOVERED: {check} is {state} after {Span(length)}"
                : $"RECOVERED: {check} is {state}",
            NotificationType.Reminder => ProblemLength(n) is { } length
                ? $"Reminder {n.Sequence}: {check} is still {state} (for {Span(length)})"
                : $"Reminder {n.Sequence}: {check} is still {state}",
            NotificationType.Escalation => ProblemLength(n) is { } length
                ? $"Escalation {n.Sequence}: {check} is {state}, unacknowledged for {Span(length)}"
                : $"Escalation {n.Sequence}: {check} is {state}, unacknowledged",
            NotificationType.FlappingStart => $"FLAPPING: {check} started flapping (now {state})",
            NotificationType.FlappingStop => $"{check} stopped flapping (now {state})",
            NotificationType.Acknowledged => string.IsNullOrEmpty(n.AcknowledgedBy)
                ? $"ACKNOWLEDGED: {check} ({state})"
                : $"ACKNOWLEDGED: {check} ({state}) by {n.AcknowledgedBy}",
            NotificationType.Test => $"TEST: notification channel {n.Channel} works",
            _ => $"{state}: {check}",
        };
    }

    /// <summary>
    /// The plain-text body: lines separated by <c>\n</c>, no trailing newline. For a test notification, only the message.
    /// </summary>
    public static string Body(Notification notification)
    {
        ArgumentNullException.ThrowIfNull(notification);
        return string.Join('\n', Lines(notification).Select(l => l.Label is null ? l.Value : $"{l.Label}: {l.Value}"));
    }

    /// <summary>Title and body as one plain text: the title, a blank line, the body.</summary>
    public static string Plain(Notification notification) => Title(notification) + "\n\n" + Body(notification);

    /// <summary>
    /// Title (bold) and body as chat Markdown in <paramref name="flavor"/>; the link, when present, is a link labelled
    /// <c>Open in Tocsin</c>. Free text (check name, message, comment) is escaped for Slack and left as written for Rocket.Chat.
    /// </summary>
    public static string Markdown(Notification notification, MarkdownFlavor flavor) =>
        $"*{Escape(Title(notification), flavor)}*\n{MarkdownBody(notification, flavor)}";

    /// <summary>The body alone as chat Markdown (what <see cref="Markdown"/> puts under the title).</summary>
    public static string MarkdownBody(Notification notification, MarkdownFlavor flavor)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var sb = new StringBuilder();
        foreach (var (label, value, isLink) in Lines(notification))
        {
            if (sb.Length > 0)
            {
                sb.Append('\n');
            }

            if (isLink)
            {
                sb.Append(flavor == MarkdownFlavor.Slack ? $"<{Escape(value, flavor)}|Open in Tocsin>" : $"[Open in Tocsin]({value})");
            }
            else if (label is null)
            {
                sb.Append(Escape(value, flavor));
            }
            else
            {
                sb.Append('*').Append(label).Append(":* ").Append(Escape(value, flavor));
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// The duration as its two largest whole units, e.g. <c>45s</c>, <c>12m</c>, <c>1h 5m</c>, <c>2d 3h</c>; below one
    /// second <c>0s</c>.
    /// </summary>
    public static string Span(TimeSpan duration)
    {
        long seconds = Math.Max(0, (long)duration.TotalSeconds);
        (string Unit, long Size)[] units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
        for (int i = 0; i < units.Length; i++)
        {
            var (unit, size) = units[i];
            if (seconds < size)
            {
                continue;
            }

            string text = (seconds / size).ToString(CultureInfo.InvariantCulture) + unit;
            if (i + 1 < units.Length && (seconds % size) / units[i + 1].Size is > 0 and var next)
            {
                text += " " + next.ToString(CultureInfo.InvariantCulture) + units[i + 1].Unit;
            }

            return text;
        }

        return "0s";
    }

    /// <summary>The state's name as Tocsin prints it (<c>OK</c>, <c>WARNING</c>, <c>CRITICAL</c>, <c>UNKNOWN</c>).</summary>
    public static string StateName(CheckState state) => state switch
    {
        CheckState.OK => "OK",
        CheckState.WARNING => "WARNING",
        CheckState.CRITICAL => "CRITICAL",
        CheckState.UNKNOWN => "UNKNOWN",
        _ => ((int)state).ToString(CultureInfo.InvariantCulture),
    };

    private static TimeSpan? ProblemLength(Notification n) => n.Since is { } since && n.At >= since ? n.At - since : null;

    private static List<(string? Label, string Value, bool IsLink)> Lines(Notification n)
    {
        var lines = new List<(string?, string, bool)>();
        if (n.Message.Length > 0)
        {
            lines.Add((null, OneLine(n.Message), false));
        }

        if (n.Type == NotificationType.Test)
        {
            return lines;
        }

        lines.Add(("Check", n.CheckKind.Length > 0 ? $"{n.CheckName} ({n.CheckKind})" : n.CheckName, false));
        lines.Add(("State", n.PreviousState != n.State ? $"{StateName(n.State)} (was {StateName(n.PreviousState)})" : StateName(n.State), false));
        lines.Add(("At", n.At.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture), false));
        if (n.Since is { } since && n.State != CheckState.OK)
        {
            lines.Add(("Since", since.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture), false));
        }

        if (!string.IsNullOrEmpty(n.AcknowledgedBy))
        {
            lines.Add(("Acknowledged by", n.AcknowledgedBy, false));
        }

        if (!string.IsNullOrEmpty(n.Comment))
        {
            lines.Add(("Comment", OneLine(n.Comment), false));
        }

        if (n.IncidentId is { } incident)
        {
            lines.Add(("Incident", incident.ToString("D"), false));
        }

        if (!string.IsNullOrEmpty(n.Link))
        {
            lines.Add(("Link", n.Link, true));
        }

        return lines;
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    private static string Escape(string text, MarkdownFlavor flavor) =>
        flavor == MarkdownFlavor.Slack ? text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal) : text;
}
