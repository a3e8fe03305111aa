using Tocsin.Checks;

namespace Tocsin.Alerting;

/// <summary>A silence made through the API or CLI (<c>tocsin silence CHECK --for 30m</c>): the check's problems, reminders
/// and escalations are held until <paramref name="EndsAt"/>.</summary>
/// <param name="Id">UUIDv7.</param>
/// <param name="CheckName">The check silenced.</param>
/// <param name="CreatedAt">When it was made (UTC).</param>
/// <param name="EndsAt">When it ends (UTC).</param>
/// <param name="Author">Who made it (user name, or <c>cli</c>), or null.</param>
/// <param name="Comment">Why, or null.</param>
public sealed record Silence(Guid Id, string CheckName, DateTimeOffset CreatedAt, DateTimeOffset EndsAt, string? Author, string? Comment);

/// <summary>
/// The notifier's decisions, pure and synchronous: folds <see cref="AlertEvent"/>s into <see cref="AlertRecord"/>s and says
/// which notifications are due now. Rules:
/// <list type="bullet">
/// <item>A state event not newer than the change applied last (another agent's older or duplicate report) is ignored
/// (<see cref="Apply"/>).</item>
/// <item>A hard state differing from the state last notified is due as a <c>problem</c> (non-OK) or <c>recovery</c> (OK);
/// a recovery is only sent after a notified problem. WARNING → CRITICAL is a new <c>problem</c>.</item>
/// <item>Held (and sent when no longer held, if still true) while a maintenance window or silence covers the check,
/// while it flaps, or while a <c>dependsOn</c> parent is non-OK (a child's problem also waits its parent's interval +
/// timeout, at most 5 minutes, so a parent failing at the same time is seen first).</item>
/// <item>Flapping start and stop are notified (not during maintenance).</item>
/// <item>While a notified problem stays, unacknowledged: a <c>reminder</c> every <c>renotifyInterval</c>, and each
/// escalation step once, <c>after</c> the problem's first notification, to that step's channels.</item>
/// <item>Acknowledging stops reminders and escalation for the current problem (until the check recovers).</item>
/// </list>
/// Every notification's idempotency key derives from the event (and reminder number or escalation step) and the channel,
/// so re-deciding after a crash or on another leader never makes a second one.
/// </summary>
public sealed class AlertEngine
{
    /// <summary>The longest a child's problem waits for its parent's state.</summary>
    public static readonly TimeSpan MaxDependencyWait = TimeSpan.FromMinutes(5);

    private readonly Func<string, CheckDefinition?> _findCheck;
    private readonly IReadOnlyList<MaintenanceWindow> _maintenance;

    /// <summary>Creates the engine.</summary>
    /// <param name="findCheck">The current definition of a check by name (null when unknown: nothing is sent for it).</param>
    /// <param name="maintenance">Configured maintenance windows.</param>
    public AlertEngine(Func<string, CheckDefinition?> findCheck, IReadOnlyList<MaintenanceWindow> maintenance)
    {
        _findCheck = findCheck;
        _maintenance = maintenance;
    }

    /// <summary>Active silences by check (set by the notifier before reconciling).</summary>
    public IReadOnlyDictionary<string, Silence> Silences { get; set; } = new Dictionary<string, Silence>();

    /// <summary>
    /// Folds <paramref name="e"/> into <paramref name="record"/>. A state event is stale, and changes nothing, when its time
    /// (<see cref="AlertEvent.At"/>) is before the time of the state change applied last (<see cref="AlertRecord.HardAt"/>), or
    /// equal to it with the same target state: with several agents on one central database, more than one may run a check while
    /// its ownership settles, so one change can be reported by several agents (a duplicate), and an agent's older report can
    /// be exported after another agent's newer one (an older problem after a newer recovery, which must not reopen it). An
    /// agent's state tracking applies the same rule to its own results, so its events for a check are in time order.
    /// </summary>
    /// <remarks>
    /// The times compared come from different agents' clocks. Agents whose clocks differ by more than the time between two real
    /// changes of one check reported by different agents can have the later change dropped: e.g. agent A reports a problem at
    /// 12:00:10 by its clock, then agent B, its clock 30 s behind, reports the recovery 10 s later stamped 11:59:50, which is
    /// ignored; the check stays in the problem until the next change is reported. Keep agents' clocks synchronised (NTP): a
    /// skew of well under a check's interval is harmless.
    /// </remarks>
    /// <returns>False when <paramref name="e"/> was a stale state event and was ignored; true when it was applied.</returns>
    /// <exception cref="ArgumentNullException">When <paramref name="record"/> or <paramref name="e"/> is null.</exception>
    public static bool Apply(AlertRecord record, AlertEvent e)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(e);
        if (IsStale(record, e))
        {
            return false;
        }

        record.Kind = e.Kind;
        switch (e.Type)
        {
            case AlertEventType.State:
                if (e.From == e.To && e.To == record.Hard && record.HardEventId is not null)
                {
                    // A resync (an agent's first result of the check) confirming what is known: nothing changes.
                    break;
                }

                if (e.To != CheckState.OK && record.Hard == CheckState.OK)
                {
                    // A new problem: what was said about the previous one no longer applies.
                    record.AcknowledgedAt = null;
                    record.AcknowledgedBy = null;
                    record.AcknowledgeComment = null;
                }

                record.Hard = e.To;
                record.HardEventId = e.Id;
                record.HardAt = e.At;
                record.Since = e.To == CheckState.OK ? null : e.Since ?? e.At;
                record.Message = e.Message;
                record.IncidentId = e.IncidentId;
                break;
            case AlertEventType.FlappingStart:
                record.Flapping = true;
                record.FlapEventId = e.Id;
                break;
            case AlertEventType.FlappingStop:
                record.Flapping = false;
                record.FlapEventId = e.Id;
                break;
        }

        return true;
    }

    /// <summary>
    /// Whether state event <paramref name="e"/> is older than the change already applied to <paramref name="record"/> (or is a
    /// report of that same change at the same time); see <see cref="Apply"/>. Flapping events are never stale.
    /// </summary>
    public static bool IsStale(AlertRecord record, AlertEvent e)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(e);
        return e.Type == AlertEventType.State && record.HardAt is { } applied && (e.At < applied || (e.At == applied && e.To == record.Hard));
    }

    /// <summary>
    /// Why notifications for <paramref name="record"/>'s check are held at <paramref name="now"/>: a maintenance window or
    /// silence (<paramref name="maintenance"/> true), flapping, or a parent; null when not held.
    /// </summary>
    public string? HeldBecause(AlertRecord record, Func<string, AlertRecord?> others, DateTimeOffset now, out bool maintenance)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(others);
        maintenance = true;
        var check = _findCheck(record.CheckName);
        var tags = check?.Tags ?? [];
        foreach (var w in _maintenance)
        {
            if (w.Covers(record.CheckName, tags) && w.IsActive(now, out var until))
            {
                return $"maintenance \"{w.Name}\" until {until:yyyy-MM-dd HH:mm} UTC";
            }
        }

        if (Silences.TryGetValue(record.CheckName, out var s) && s.EndsAt > now)
        {
            return $"silenced until {s.EndsAt:yyyy-MM-dd HH:mm} UTC{(s.Author is null ? "" : " by " + s.Author)}";
        }

        maintenance = false;
        if (record.Flapping)
        {
            return "flapping";
        }

        foreach (string parent in check?.Alerting.DependsOn ?? [])
        {
            if (others(parent) is { Hard: not CheckState.OK } p)
            {
                return $"parent \"{parent}\" is {p.Hard}";
            }
        }

        return null;
    }

    /// <summary>
    /// The notifications due now for <paramref name="record"/>, updating it to say they were made. <paramref name="others"/>
    /// finds other checks' records (for <c>dependsOn</c>).
    /// </summary>
    public List<Notification> Reconcile(AlertRecord record, Func<string, AlertRecord?> others, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(record);
        var due = new List<Notification>();
        var check = _findCheck(record.CheckName);
        if (check is null)
        {
            return due;
        }

        var policy = check.Alerting;
        string? held = HeldBecause(record, others, now, out bool maintenance);

        if (record.Flapping != record.NotifiedFlapping && !maintenance)
        {
            var type = record.Flapping ? NotificationType.FlappingStart : NotificationType.FlappingStop;
            string key = $"{record.FlapEventId:D}:{type.Name()}";
            Add(due, policy.Notify, record, type, key, 0, record.Notified, now);
            record.NotifiedFlapping = record.Flapping;
        }

        if (held is null && record.Hard != CheckState.OK && record.Notified == CheckState.OK && policy.DependsOn.Count > 0 && record.HardAt is { } at)
        {
            var wait = policy.DependsOn.Select(p => _findCheck(p)).Where(p => p is not null).Select(p => p!.Interval + p.Timeout).DefaultIfEmpty(TimeSpan.Zero).Max();
            if (now < at + (wait < MaxDependencyWait ? wait : MaxDependencyWait))
            {
                held = "waiting for the parent's state";
            }
        }

        record.HeldBecause = held;
        if (held is not null)
        {
            return due;
        }

        if (record.Hard != record.Notified)
        {
            var before = record.Notified;
            if (record.Hard == CheckState.OK)
            {
                Add(due, policy.Notify, record, NotificationType.Recovery, $"{record.HardEventId:D}:recovery", 0, before, now);
                record.ProblemEventId = null;
                record.ProblemNotifiedAt = null;
                record.Reminders = 0;
                record.EscalationSteps = 0;
                record.AcknowledgedAt = null;
                record.AcknowledgedBy = null;
                record.AcknowledgeComment = null;
            }
            else
            {
                Add(due, policy.Notify, record, NotificationType.Problem, $"{record.HardEventId:D}:problem", 0, before, now);
                if (before == CheckState.OK)
                {
                    record.ProblemEventId = record.HardEventId;
                    record.ProblemNotifiedAt = now;
                    record.Reminders = 0;
                    record.EscalationSteps = 0;
                }
            }

            record.Notified = record.Hard;
            record.LastNotifiedAt = now;
            return due;
        }

        if (record.Hard == CheckState.OK || record.AcknowledgedAt is not null)
        {
            return due;
        }

        if (policy.RenotifyInterval is { } every && record.LastNotifiedAt is { } last && now >= last + every)
        {
            record.Reminders++;
            Add(due, policy.Notify, record, NotificationType.Reminder, $"{record.ProblemEventId:D}:reminder:{record.Reminders}", record.Reminders, record.Notified, now);
            record.LastNotifiedAt = now;
        }

        while (record.EscalationSteps < policy.Escalation.Count && record.ProblemNotifiedAt is { } first
            && now >= first + policy.Escalation[record.EscalationSteps].After)
        {
            var step = policy.Escalation[record.EscalationSteps];
            record.EscalationSteps++;
            Add(due, step.Notify, record, NotificationType.Escalation, $"{record.ProblemEventId:D}:escalation:{record.EscalationSteps}", record.EscalationSteps, record.Notified, now);
        }

        return due;
    }

    /// <summary>
    /// Acknowledges <paramref name="record"/>'s current problem: reminders and escalation stop; an <c>acknowledged</c>
    /// notification goes to the check's channels when the problem had been notified. False (nothing changes) when the
    /// check is OK or already acknowledged.
    /// </summary>
    public bool Acknowledge(AlertRecord record, string? by, string? comment, DateTimeOffset now, Guid commandId, List<Notification> due)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(due);
        if (record.Hard == CheckState.OK || record.AcknowledgedAt is not null)
        {
            return false;
        }

        record.AcknowledgedAt = now;
        record.AcknowledgedBy = by;
        record.AcknowledgeComment = comment;
        if (record.Notified != CheckState.OK && _findCheck(record.CheckName) is { } check)
        {
            int before = due.Count;
            Add(due, check.Alerting.Notify, record, NotificationType.Acknowledged, $"{commandId:D}:acknowledged", 0, record.Notified, now);
            for (int i = before; i < due.Count; i++)
            {
                due[i] = due[i] with { AcknowledgedBy = by, Comment = comment };
            }
        }

        return true;
    }

    private static void Add(
        List<Notification> due, IReadOnlyList<string> channels, AlertRecord r, NotificationType type, string key, int sequence, CheckState previous, DateTimeOffset now)
    {
        foreach (string channel in channels)
        {
            due.Add(new Notification(
                Guid.CreateVersion7(now), $"{key}:{channel}", type, channel, r.CheckName, r.Kind, r.Hard, previous, r.HardAt ?? now,
                r.Hard == CheckState.OK ? null : r.Since, r.Message, r.IncidentId, sequence, null));
        }
    }
}
