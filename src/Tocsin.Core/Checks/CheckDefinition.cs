namespace Tocsin.Checks;

/// <summary>
/// One check as loaded and validated from configuration.
/// </summary>
/// <param name="Name">Unique name.</param>
/// <param name="Kind">Check kind name, e.g. <c>http</c>.</param>
/// <param name="Interval">Time between scheduled runs (1 s – 24 h).</param>
/// <param name="Timeout">Longest a run may take; always shorter than <paramref name="Interval"/>.</param>
/// <param name="Options">Kind-specific options (e.g. <see cref="Http.HttpCheckOptions"/>).</param>
public sealed record CheckDefinition(string Name, string Kind, TimeSpan Interval, TimeSpan Timeout, object Options)
{
    /// <summary>Free-form labels used to group checks. Empty when none.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Zero-based position in the configuration's <c>checks</c> (or seed 004 <c>services</c>) array.</summary>
    public int Index { get; init; }

    /// <summary>
    /// Where the check runs when several agents share a central database: on every agent
    /// (<see cref="CheckPlacement.All"/>) or on exactly one live agent (<see cref="CheckPlacement.Shard"/>, the default).
    /// Without a central database the single agent runs every check.
    /// </summary>
    public CheckPlacement Placement { get; init; } = CheckPlacement.Shard;

    /// <summary>Whether the scheduler runs the check. Disabled checks are listed but never run.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// Results in a row that make a soft state hard (config <c>failureThreshold</c>, <c>successThreshold</c>, 1–100).
    /// <value>Default: 1 and 1.</value>
    /// </summary>
    public State.StateThresholds Thresholds { get; init; } = State.StateThresholds.Default;

    /// <summary>Whether the check may be shown on the public status page (config <c>public</c>). <value>Default: false.</value></summary>
    public bool Public { get; init; }

    /// <summary>
    /// A cron schedule replacing the fixed-rate grid (a promise's <c>frequency</c>): runs are due at its occurrences, and
    /// <see cref="Interval"/> is then only nominal (the gap between two occurrences, for the timeout cap and the slot-wait
    /// rule). <value>Default: null, runs every <see cref="Interval"/>.</value>
    /// </summary>
    public Scheduling.CronSchedule? Schedule { get; init; }

    /// <summary>
    /// Why the check is disabled when it was not by choice (e.g. a promise whose <c>.cfg</c> has an invalid cron), shown
    /// by <c>tocsin status</c>, the API (<c>problem</c>) and the dashboard; null otherwise. Set together with
    /// <see cref="Enabled"/> = false. <value>Default: null.</value>
    /// </summary>
    public string? DisabledReason { get; init; }

    /// <summary>How the check alerts: channels, reminders, escalation, parents (config <c>notify</c>, <c>renotifyInterval</c>,
    /// <c>escalation</c>, <c>dependsOn</c>; defaults from <c>defaults</c>). <value>Default: <see cref="Alerting.AlertPolicy.None"/>.</value></summary>
    public Alerting.AlertPolicy Alerting { get; init; } = Tocsin.Alerting.AlertPolicy.None;

    /// <summary>A latency objective turning slow OK runs into WARNING (config <c>slowResponse</c>), or null. <value>Default: null.</value></summary>
    public Alerting.SlowResponseRule? SlowResponse { get; init; }

    /// <summary>Where the check came from when a promise directory made it, or null for a check of the configuration file.</summary>
    public Command.PromiseSource? Promise { get; init; }
}

/// <summary>Where a check runs among agents sharing a central database (config field <c>placement</c>).</summary>
public enum CheckPlacement
{
    /// <summary><c>"shard"</c>: exactly one live agent runs it, chosen by rendezvous hashing.</summary>
    Shard,
    /// <summary><c>"all"</c>: every agent runs it (checks from several locations).</summary>
    All,
    /// <summary>
    /// <c>"leader"</c>: only the leader runs it — for checks that act on what they find (remediation), so exactly one agent
    /// fixes and the others stay out of its way. While the central database has not answered for two heartbeats every agent
    /// runs it (as for sharded checks), and only one still holding the leader lock acts.
    /// </summary>
    Leader,
}

/// <summary>
/// Runs checks of one kind. Implementations are shared by all checks of that kind and must be
/// safe for concurrent use. A runner reports failures of the watched thing as a
/// <see cref="RunOutcome"/>; an exception it throws becomes an <c>UNKNOWN</c> result.
/// </summary>
public interface ICheckRunner
{
    /// <summary>Runs <paramref name="check"/> once.</summary>
    /// <param name="check">The check, whose <see cref="CheckDefinition.Options"/> are of this runner's kind.</param>
    /// <param name="cancellationToken">Cancelled when the check's timeout passes or the agent stops.</param>
    Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken);
}
