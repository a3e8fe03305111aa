namespace Tocsin.Alerting;

/// <summary>
/// How one check alerts (config fields of a check, with defaults from <c>defaults</c>): <c>notify</c>,
/// <c>renotifyInterval</c>, <c>escalation</c>, <c>dependsOn</c>.
/// </summary>
public sealed record AlertPolicy
{
    /// <summary>No channels: the check's state changes are tracked and shown, never sent.</summary>
    public static AlertPolicy None { get; } = new();

    /// <summary>Names of the channels that get the check's problems, recoveries and reminders (config <c>notify</c>). <value>Default: none.</value></summary>
    public IReadOnlyList<string> Notify { get; init; } = [];

    /// <summary>
    /// Time between reminders while the check stays non-OK and unacknowledged (config <c>renotifyInterval</c>, 1 m – 30 d),
    /// or null for no reminders. <value>Default: null.</value>
    /// </summary>
    public TimeSpan? RenotifyInterval { get; init; }

    /// <summary>Steps of escalation, by increasing <see cref="EscalationStep.After"/> (config <c>escalation</c>). <value>Default: none.</value></summary>
    public IReadOnlyList<EscalationStep> Escalation { get; init; } = [];

    /// <summary>
    /// Names of parent checks (config <c>dependsOn</c>, a name or a list): while one of them is in a hard non-OK state
    /// this check's problems are not sent (the parent's alert covers them). <value>Default: none.</value>
    /// </summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>Every channel name this policy can send to (notify and escalation), distinct.</summary>
    public IEnumerable<string> AllChannels => Notify.Concat(Escalation.SelectMany(e => e.Notify)).Distinct(StringComparer.Ordinal);
}

/// <summary>One escalation step: when a problem stays unacknowledged for <paramref name="After"/> after its first
/// notification, an <c>escalation</c> notification goes to <paramref name="Notify"/> (once per step).</summary>
/// <param name="After">Time after the problem's first notification (1 m – 30 d).</param>
/// <param name="Notify">Channel names.</param>
public sealed record EscalationStep(TimeSpan After, IReadOnlyList<string> Notify);

/// <summary>
/// A planned maintenance window from configuration's <c>maintenance</c> array: no problem, reminder or escalation is sent
/// for the checks it covers while it is active (state is still tracked; whatever is still wrong when it ends is sent then).
/// Either recurring (<see cref="Schedule"/> + <see cref="Duration"/>) or one-off (<see cref="From"/>–<see cref="To"/>).
/// </summary>
public sealed record MaintenanceWindow
{
    /// <summary>Name shown in the dashboard and API (config <c>name</c>). <value>Default: <c>maintenance[i]</c>.</value></summary>
    public required string Name { get; init; }

    /// <summary>Check names it covers (config <c>checks</c>); with <see cref="Tags"/> empty too, it covers every check.</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];

    /// <summary>Tags it covers (config <c>tags</c>): a check with any of them is covered.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>A cron expression (5 or 6 fields, in the config's <c>timeZone</c>) at whose occurrences the window opens (config <c>schedule</c>).</summary>
    public Scheduling.CronSchedule? Schedule { get; init; }

    /// <summary>How long a recurring window stays open (config <c>duration</c>, 1 m – 7 d).</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Start of a one-off window (config <c>from</c>, ISO 8601 with offset).</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>End of a one-off window (config <c>to</c>), after <see cref="From"/>.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Whether the window covers <paramref name="checkName"/> with <paramref name="tags"/>.</summary>
    public bool Covers(string checkName, IReadOnlyList<string> tags) =>
        (Checks.Count == 0 && Tags.Count == 0)
        || Checks.Contains(checkName, StringComparer.Ordinal)
        || tags.Any(t => Tags.Contains(t, StringComparer.Ordinal));

    /// <summary>Whether the window is open at <paramref name="now"/>; for a recurring one, the end of the open occurrence.</summary>
    public bool IsActive(DateTimeOffset now, out DateTimeOffset until)
    {
        if (From is { } from && To is { } to)
        {
            until = to;
            return now >= from && now < to;
        }

        if (Schedule is { } cron)
        {
            // The latest occurrence at or before now, found from (now - duration): if one opened within the duration it is active.
            var start = cron.Next(now - Duration - TimeSpan.FromTicks(1));
            while (start is { } s && s <= now)
            {
                if (now < s + Duration)
                {
                    until = s + Duration;
                    return true;
                }

                start = cron.Next(s);
            }
        }

        until = default;
        return false;
    }
}
