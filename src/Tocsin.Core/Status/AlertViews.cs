using System.Text.Json.Serialization;
using Tocsin.Alerting;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Status;

/// <summary>
/// One stored notification as the API answers it: <c>{"id","key","type","channel","check","state","createdAt","status",
/// "attempts","nextAttemptAt","lastError","deliveredAt"}</c>; times ISO-8601 UTC.
/// </summary>
/// <param name="Id">The notification's UUIDv7.</param>
/// <param name="Key">Its idempotency key (the same on every retry and agent).</param>
/// <param name="Type"><c>problem</c>, <c>recovery</c>, <c>reminder</c>, <c>escalation</c>, <c>flapping-start</c>, <c>flapping-stop</c>, <c>acknowledged</c> or <c>test</c>.</param>
/// <param name="Channel">The channel's name.</param>
/// <param name="Check">The check's name (empty for a test).</param>
/// <param name="State">The check's hard state it told of: <c>OK</c>, <c>WARNING</c>, <c>CRITICAL</c>, <c>UNKNOWN</c>.</param>
/// <param name="CreatedAt">When it was stored.</param>
/// <param name="Status"><c>pending</c>, <c>delivered</c> or <c>failed</c> (given up).</param>
/// <param name="Attempts">Delivery attempts so far.</param>
/// <param name="NextAttemptAt">When the next attempt is due (meaningful while pending).</param>
/// <param name="LastError">The latest failure's reason (never a secret), or null.</param>
/// <param name="DeliveredAt">When the channel accepted it, or null.</param>
public sealed record NotificationView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("channel")] string Channel,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("attempts")] int Attempts,
    [property: JsonPropertyName("nextAttemptAt")] DateTimeOffset NextAttemptAt,
    [property: JsonPropertyName("lastError")] string? LastError,
    [property: JsonPropertyName("deliveredAt")] DateTimeOffset? DeliveredAt)
{
    /// <summary>Makes the view of a stored notification.</summary>
    public static NotificationView Of(StoredNotification n)
    {
        ArgumentNullException.ThrowIfNull(n);
        var x = n.Notification;
        return new(x.Id, x.IdempotencyKey, x.Type.Name(), x.Channel, x.CheckName, x.State.ToString(), n.CreatedAt, SqliteOutbox.StatusName(n.Status),
            n.Attempts, n.NextAttemptAt, n.LastError, n.DeliveredAt);
    }
}

/// <summary>
/// One notification channel as the API answers it: <c>{"name","type","description","configured","pending","delivered",
/// "failed","oldestPendingAt","lastError"}</c>. A channel no longer configured but with stored notifications is listed with
/// <c>"configured": false</c>.
/// </summary>
/// <param name="Name">The channel's name.</param>
/// <param name="Type">Its type (<c>webhook</c>, <c>slack</c>, …), empty when no longer configured.</param>
/// <param name="Description">One line saying where it sends, without secrets, or null when the type cannot say.</param>
/// <param name="Configured">Whether the configuration has it.</param>
/// <param name="Pending">Notifications not delivered yet.</param>
/// <param name="Delivered">Notifications delivered (kept for the retention, 30 days).</param>
/// <param name="Failed">Notifications given up.</param>
/// <param name="OldestPendingAt">When the oldest pending one was stored, or null.</param>
/// <param name="LastError">The latest error of a pending one, or null.</param>
public sealed record ChannelView(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("configured")] bool Configured,
    [property: JsonPropertyName("pending")] long Pending,
    [property: JsonPropertyName("delivered")] long Delivered,
    [property: JsonPropertyName("failed")] long Failed,
    [property: JsonPropertyName("oldestPendingAt")] DateTimeOffset? OldestPendingAt,
    [property: JsonPropertyName("lastError")] string? LastError)
{
    /// <summary>
    /// The views of <paramref name="channels"/> (configuration order) with their <paramref name="stats"/>, then the channels
    /// that only have stats (no longer configured), by name.
    /// </summary>
    /// <param name="channels">Configured channels.</param>
    /// <param name="stats">Per-channel counts from the store.</param>
    /// <param name="describe">One line for a configured channel, or null (e.g. <see cref="INotificationChannelType.Describe"/>).</param>
    public static IReadOnlyList<ChannelView> Of(
        IReadOnlyList<NotificationChannelDefinition> channels, IReadOnlyList<ChannelDeliveryStats> stats, Func<NotificationChannelDefinition, string?> describe)
    {
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(describe);
        var byName = stats.ToDictionary(s => s.Channel, StringComparer.Ordinal);
        var list = new List<ChannelView>(channels.Count);
        foreach (var c in channels.OrderBy(c => c.Index))
        {
            var s = byName.GetValueOrDefault(c.Name);
            list.Add(new ChannelView(c.Name, c.Type, describe(c), true, s?.Pending ?? 0, s?.Delivered ?? 0, s?.Failed ?? 0, s?.OldestPendingAt, s?.LastError));
        }

        var configured = channels.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var s in stats.Where(s => !configured.Contains(s.Channel)).OrderBy(s => s.Channel, StringComparer.Ordinal))
        {
            list.Add(new ChannelView(s.Channel, "", null, false, s.Pending, s.Delivered, s.Failed, s.OldestPendingAt, s.LastError));
        }

        return list;
    }
}

/// <summary>
/// What the notifier knows and has said about one check (its <see cref="AlertRecord"/>) as the API answers it:
/// <c>{"check","kind","hardState","notifiedState","since","hardChangedAt","message","incidentId","heldBecause","acknowledgedAt",
/// "acknowledgedBy","acknowledgeComment","reminders","escalationSteps","flapping","problemNotifiedAt","lastNotifiedAt","silencedUntil"}</c>.
/// </summary>
/// <param name="Check">The check's name.</param>
/// <param name="Kind">Its kind.</param>
/// <param name="HardState">The hard state the notifier was told of: <c>OK</c>, <c>WARNING</c>, <c>CRITICAL</c>, <c>UNKNOWN</c>.</param>
/// <param name="NotifiedState">The hard state last notified (OK before a problem was sent and after its recovery).</param>
/// <param name="Since">When the current problem's failures began, or null when OK.</param>
/// <param name="HardChangedAt">When the hard state last changed, or null.</param>
/// <param name="Message">The latest state change's message.</param>
/// <param name="IncidentId">The open incident, or null.</param>
/// <param name="HeldBecause">Why its due notifications are held (<c>maintenance "…" until …</c>, <c>silenced until …</c>,
/// <c>flapping</c>, <c>parent "…" is CRITICAL</c>), or null.</param>
/// <param name="AcknowledgedAt">When the current problem was acknowledged, or null.</param>
/// <param name="AcknowledgedBy">Who acknowledged it, or null.</param>
/// <param name="AcknowledgeComment">The acknowledgement's comment, or null.</param>
/// <param name="Reminders">Reminders sent for the current problem.</param>
/// <param name="EscalationSteps">Escalation steps done for the current problem.</param>
/// <param name="Flapping">Whether the check flaps.</param>
/// <param name="ProblemNotifiedAt">When the current problem was first notified, or null.</param>
/// <param name="LastNotifiedAt">When anything about it was last notified, or null.</param>
/// <param name="SilencedUntil">The end of the longest active silence of the check, or null.</param>
public sealed record AlertView(
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("hardState")] string HardState,
    [property: JsonPropertyName("notifiedState")] string NotifiedState,
    [property: JsonPropertyName("since")] DateTimeOffset? Since,
    [property: JsonPropertyName("hardChangedAt")] DateTimeOffset? HardChangedAt,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("incidentId")] Guid? IncidentId,
    [property: JsonPropertyName("heldBecause")] string? HeldBecause,
    [property: JsonPropertyName("acknowledgedAt")] DateTimeOffset? AcknowledgedAt,
    [property: JsonPropertyName("acknowledgedBy")] string? AcknowledgedBy,
    [property: JsonPropertyName("acknowledgeComment")] string? AcknowledgeComment,
    [property: JsonPropertyName("reminders")] int Reminders,
    [property: JsonPropertyName("escalationSteps")] int EscalationSteps,
    [property: JsonPropertyName("flapping")] bool Flapping,
    [property: JsonPropertyName("problemNotifiedAt")] DateTimeOffset? ProblemNotifiedAt,
    [property: JsonPropertyName("lastNotifiedAt")] DateTimeOffset? LastNotifiedAt,
    [property: JsonPropertyName("silencedUntil")] DateTimeOffset? SilencedUntil)
{
    /// <summary>Makes the view of <paramref name="r"/>; <paramref name="silence"/> is the check's active silence, or null.</summary>
    public static AlertView Of(AlertRecord r, Silence? silence)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.CheckName, r.Kind, r.Hard.ToString(), r.Notified.ToString(), r.Since, r.HardAt, r.Message, r.IncidentId, r.HeldBecause,
            r.AcknowledgedAt, r.AcknowledgedBy, r.AcknowledgeComment, r.Reminders, r.EscalationSteps, r.Flapping, r.ProblemNotifiedAt, r.LastNotifiedAt,
            silence?.EndsAt);
    }
}

/// <summary>
/// The answer of <c>GET /api/v1/alerts</c>: <c>{"leader","note","alerts":[AlertView…]}</c>. The records are the ones the
/// leader's notifier last committed to the alert store; <c>leader</c> says whether this agent is that leader (on a follower
/// they come from the central database, and the note says so).
/// </summary>
/// <param name="Leader">Whether this agent's notifier is the one that applies events, acknowledgements and silences now.</param>
/// <param name="Note">Where the records come from when this agent is not the leader, else null.</param>
/// <param name="Alerts">One per check the notifier has a record of, by check name.</param>
public sealed record AlertsView(
    [property: JsonPropertyName("leader")] bool Leader,
    [property: JsonPropertyName("note")] string? Note,
    [property: JsonPropertyName("alerts")] IReadOnlyList<AlertView> Alerts);

/// <summary>One active silence as the API answers it: <c>{"id","check","createdAt","endsAt","author","comment"}</c>.</summary>
/// <param name="Id">The silence's UUIDv7 (for <c>DELETE /api/v1/silences/{id}</c> and <c>tocsin silence end ID</c>).</param>
/// <param name="Check">The check silenced.</param>
/// <param name="CreatedAt">When it was made.</param>
/// <param name="EndsAt">When it ends.</param>
/// <param name="Author">Who made it, or null.</param>
/// <param name="Comment">Why, or null.</param>
public sealed record SilenceView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("endsAt")] DateTimeOffset EndsAt,
    [property: JsonPropertyName("author")] string? Author,
    [property: JsonPropertyName("comment")] string? Comment)
{
    /// <summary>Makes the view of a silence.</summary>
    public static SilenceView Of(Silence s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return new(s.Id, s.CheckName, s.CreatedAt, s.EndsAt, s.Author, s.Comment);
    }

    /// <summary>Makes the view of a silence command just stored.</summary>
    public static SilenceView Of(AlertCommand c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new(c.Id, c.CheckName, c.CreatedAt, c.EndsAt ?? c.CreatedAt, c.Author, c.Comment);
    }
}

/// <summary>
/// The answer of <c>POST /api/v1/checks/{name}/acknowledge</c> (202): <c>{"id","check","createdAt","author","comment","incidentId"}</c>.
/// The acknowledgement is stored; the leader's notifier applies it on its next pass (about a second), after which
/// <c>GET /api/v1/alerts</c> shows it.
/// </summary>
/// <param name="Id">The acknowledgement command's UUIDv7.</param>
/// <param name="Check">The check.</param>
/// <param name="CreatedAt">When it was asked.</param>
/// <param name="Author">Who asked (the authenticated user's name, or <c>api</c>).</param>
/// <param name="Comment">The comment, or null.</param>
/// <param name="IncidentId">The problem's incident it is for, or null (whatever problem is current).</param>
public sealed record AcknowledgeAccepted(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("author")] string? Author,
    [property: JsonPropertyName("comment")] string? Comment,
    [property: JsonPropertyName("incidentId")] Guid? IncidentId)
{
    /// <summary>Makes the answer for a stored acknowledgement command.</summary>
    public static AcknowledgeAccepted Of(AlertCommand c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new(c.Id, c.CheckName, c.CreatedAt, c.Author, c.Comment, c.Target);
    }
}
