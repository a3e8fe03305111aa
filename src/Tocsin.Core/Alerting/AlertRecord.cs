using System.Text.Json.Serialization;
using Tocsin.Checks;

namespace Tocsin.Alerting;

/// <summary>
/// What the notifier knows and has said about one check: the hard state it was told of (by <see cref="AlertEvent"/>s), the
/// state it last notified, reminders, escalation, acknowledgement. Kept by the leader in memory and persisted (as JSON) in
/// <c>alert_states</c> after each change, so a new leader carries on where the old one stopped.
/// </summary>
public sealed class AlertRecord
{
    /// <summary>The check.</summary>
    public required string CheckName { get; init; }

    /// <summary>The check's kind.</summary>
    public string Kind { get; set; } = "";

    /// <summary>Hard state from the latest state event.</summary>
    public CheckState Hard { get; set; } = CheckState.OK;

    /// <summary>Id of the latest state event (a problem's or recovery's notifications derive their keys from it).</summary>
    public Guid? HardEventId { get; set; }

    /// <summary>When the hard state last changed (UTC).</summary>
    public DateTimeOffset? HardAt { get; set; }

    /// <summary>When the current problem's failures began (UTC), null when OK.</summary>
    public DateTimeOffset? Since { get; set; }

    /// <summary>The latest state event's message.</summary>
    public string Message { get; set; } = "";

    /// <summary>The open incident, or null.</summary>
    public Guid? IncidentId { get; set; }

    /// <summary>Whether the check is flapping (from flapping events).</summary>
    public bool Flapping { get; set; }

    /// <summary>Id of the latest flapping event.</summary>
    public Guid? FlapEventId { get; set; }

    /// <summary>The hard state last notified (OK before any problem was sent, and after its recovery).</summary>
    public CheckState Notified { get; set; } = CheckState.OK;

    /// <summary>Whether flapping was last notified as started.</summary>
    public bool NotifiedFlapping { get; set; }

    /// <summary>Id of the state event whose problem was notified first in the current problem (reminder and escalation keys derive from it).</summary>
    public Guid? ProblemEventId { get; set; }

    /// <summary>When the current problem was first notified (UTC): escalation counts from here.</summary>
    public DateTimeOffset? ProblemNotifiedAt { get; set; }

    /// <summary>When anything about the current problem was last notified (UTC): reminders count from here.</summary>
    public DateTimeOffset? LastNotifiedAt { get; set; }

    /// <summary>Reminders sent for the current problem.</summary>
    public int Reminders { get; set; }

    /// <summary>Escalation steps done for the current problem.</summary>
    public int EscalationSteps { get; set; }

    /// <summary>When the current problem was acknowledged (UTC), or null.</summary>
    public DateTimeOffset? AcknowledgedAt { get; set; }

    /// <summary>Who acknowledged it.</summary>
    public string? AcknowledgedBy { get; set; }

    /// <summary>The acknowledgement's comment.</summary>
    public string? AcknowledgeComment { get; set; }

    /// <summary>Why the latest due notification is held (e.g. <c>maintenance "nightly"</c>, <c>parent "db" is CRITICAL</c>, <c>flapping</c>), or null.</summary>
    public string? HeldBecause { get; set; }

    /// <summary>Whether something is left to do or watch (a problem, a pending notification, flapping).</summary>
    [JsonIgnore]
    public bool Active => Hard != CheckState.OK || Notified != CheckState.OK || Flapping || NotifiedFlapping;
}
