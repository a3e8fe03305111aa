using Tocsin.Checks;

namespace Tocsin.Alerting;

/// <summary>Why a notification is sent (the <c>type</c> field of the webhook payload, in kebab case).</summary>
public enum NotificationType
{
    /// <summary><c>problem</c>: the check's hard state became non-OK (or changed between non-OK states).</summary>
    Problem,
    /// <summary><c>recovery</c>: the check's hard state became OK again after a problem was notified.</summary>
    Recovery,
    /// <summary><c>reminder</c>: the check is still non-OK, unacknowledged, <c>renotifyInterval</c> after the last notification.</summary>
    Reminder,
    /// <summary><c>escalation</c>: the problem stayed unacknowledged for an escalation step's <c>after</c>; sent to that step's channels.</summary>
    Escalation,
    /// <summary><c>flapping-start</c>: the check started flapping; problems and recoveries are held until it stops.</summary>
    FlappingStart,
    /// <summary><c>flapping-stop</c>: the check stopped flapping.</summary>
    FlappingStop,
    /// <summary><c>acknowledged</c>: someone acknowledged the problem; reminders and escalation stop.</summary>
    Acknowledged,
    /// <summary><c>test</c>: sent by <c>tocsin notify test NAME</c> to try a channel.</summary>
    Test,
}

/// <summary>Names of <see cref="NotificationType"/> on the wire.</summary>
public static class NotificationTypes
{
    /// <summary>The wire name: <c>problem</c>, <c>recovery</c>, <c>reminder</c>, <c>escalation</c>, <c>flapping-start</c>,
    /// <c>flapping-stop</c>, <c>acknowledged</c>, <c>test</c>.</summary>
    public static string Name(this NotificationType type) => type switch
    {
        NotificationType.Problem => "problem",
        NotificationType.Recovery => "recovery",
        NotificationType.Reminder => "reminder",
        NotificationType.Escalation => "escalation",
        NotificationType.FlappingStart => "flapping-start",
        NotificationType.FlappingStop => "flapping-stop",
        NotificationType.Acknowledged => "acknowledged",
        NotificationType.Test => "test",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown notification type"),
    };

    /// <summary>Parses a wire name back (ordinal).</summary>
    public static bool TryParse(string name, out NotificationType type)
    {
        foreach (var t in Enum.GetValues<NotificationType>())
        {
            if (t.Name() == name)
            {
                type = t;
                return true;
            }
        }

        type = default;
        return false;
    }
}

/// <summary>
/// One message to one channel. Immutable; stored in the notification outbox before it is delivered, so the same
/// notification (same <see cref="Id"/> and <see cref="IdempotencyKey"/>) may be handed to a channel more than once
/// when a delivery's outcome was not recorded (a crash between sending and marking): receivers that care de-duplicate
/// on the key.
/// </summary>
/// <param name="Id">UUIDv7 of this notification (one per event × channel).</param>
/// <param name="IdempotencyKey">Stable key of the event × channel, e.g. <c>0192…:problem:ops-room</c>; the same on every
/// retry and on every agent. Sent as the <c>Idempotency-Key</c> header by HTTP channels.</param>
/// <param name="Type">Why it is sent.</param>
/// <param name="Channel">Name of the channel it goes to.</param>
/// <param name="CheckName">The check it is about (for <see cref="NotificationType.Test"/>: empty).</param>
/// <param name="CheckKind">The check's kind (<c>http</c>, …), empty when unknown.</param>
/// <param name="State">The check's hard state now.</param>
/// <param name="PreviousState">The hard state last notified before (OK for a first problem).</param>
/// <param name="At">When the event happened (the start of the result that made it, UTC).</param>
/// <param name="Since">When the check's current problem started (UTC), or null when it is OK.</param>
/// <param name="Message">The result's message (one line).</param>
/// <param name="IncidentId">The incident this is about, or null.</param>
/// <param name="Sequence">Reminder number (1, 2 …) or escalation step (1, 2 …); 0 otherwise.</param>
/// <param name="Link">A link to the check's dashboard page when <c>web.publicUrl</c> is set, else null.</param>
public sealed record Notification(
    Guid Id,
    string IdempotencyKey,
    NotificationType Type,
    string Channel,
    string CheckName,
    string CheckKind,
    CheckState State,
    CheckState PreviousState,
    DateTimeOffset At,
    DateTimeOffset? Since,
    string Message,
    Guid? IncidentId,
    int Sequence,
    string? Link)
{
    /// <summary>Who acknowledged (for <see cref="NotificationType.Acknowledged"/>), else null.</summary>
    public string? AcknowledgedBy { get; init; }

    /// <summary>The acknowledgement's comment, else null.</summary>
    public string? Comment { get; init; }
}
