using Tocsin.Checks;

namespace Tocsin.State;

/// <summary>
/// What state tracking knows about one check after its latest result: the soft state (the latest result's),
/// the hard state (what alerting and incidents follow), consecutive counts, flapping and the open incident.
/// Kept in the outbox's <c>check_states</c> table and in memory by the writer.
/// </summary>
/// <param name="CheckName">The check's name.</param>
/// <param name="Kind">The check kind of the latest result.</param>
/// <param name="SoftState">State of the latest result.</param>
/// <param name="HardState">The hard state: changes only after the thresholds are met (see <see cref="StateMachine"/>).</param>
/// <param name="LastResultId">Id of the latest result applied (UUIDv7, so older results sort below it).</param>
/// <param name="LastStartedAt">When the latest result's run started (UTC).</param>
/// <param name="DurationMs">Duration of the latest run, ms.</param>
/// <param name="Message">Message of the latest result.</param>
/// <param name="ConsecutiveFailures">Non-OK results in a row up to the latest (0 when it is OK).</param>
/// <param name="ConsecutiveSuccesses">OK results in a row up to the latest (0 when it is not OK).</param>
/// <param name="SoftChangeAt">Start of the first result in the current soft state (UTC).</param>
/// <param name="HardChangeAt">When the hard state last changed (UTC); the first result's start before any change.</param>
/// <param name="FailingSince">Start of the first non-OK result of the current run of failures (UTC), or null when the latest is OK.</param>
/// <param name="FlapHistory">The last up to 21 states, 2 bits each, newest in the lowest bits (for flap detection).</param>
/// <param name="FlapCount">How many states <paramref name="FlapHistory"/> holds (0–21).</param>
/// <param name="Flapping">Whether the check is flapping (see <see cref="StateMachine.PercentStateChange"/>).</param>
/// <param name="OpenIncident">The incident open now (hard state non-OK), or null.</param>
public sealed record TrackedState(
    string CheckName,
    string Kind,
    CheckState SoftState,
    CheckState HardState,
    Guid LastResultId,
    DateTimeOffset LastStartedAt,
    double DurationMs,
    string Message,
    int ConsecutiveFailures,
    int ConsecutiveSuccesses,
    DateTimeOffset SoftChangeAt,
    DateTimeOffset HardChangeAt,
    DateTimeOffset? FailingSince,
    long FlapHistory,
    int FlapCount,
    bool Flapping,
    Incident? OpenIncident)
{
    /// <summary><c>SOFT</c> while the latest result's state differs from the hard state (thresholds not met yet), else <c>HARD</c>.</summary>
    public string StateType => SoftState == HardState ? "HARD" : "SOFT";

    /// <summary>Weighted percent state change over <see cref="FlapHistory"/>, 0–100 (see <see cref="StateMachine.PercentStateChange"/>).</summary>
    public double PercentStateChange => StateMachine.PercentStateChange(FlapHistory, FlapCount);
}

/// <summary>
/// One change of a check's hard state (stored in <c>state_changes</c>; the feed and notifications read these).
/// </summary>
/// <param name="Id">UUIDv7 made from <paramref name="At"/>, so ids sort by time.</param>
/// <param name="CheckName">The check.</param>
/// <param name="From">Hard state before.</param>
/// <param name="To">Hard state after.</param>
/// <param name="At">Start of the result that made the change (UTC).</param>
/// <param name="Message">That result's message.</param>
/// <param name="ResultId">That result's id.</param>
/// <param name="IncidentId">The incident this change opened, continued or closed; null for none (a change between two OK states never happens).</param>
public sealed record HardStateChange(
    Guid Id, string CheckName, CheckState From, CheckState To, DateTimeOffset At, string Message, Guid ResultId, Guid? IncidentId);

/// <summary>
/// A period in a hard non-OK state: opened by the hard change to non-OK, closed by the hard change back to OK
/// (stored in <c>incidents</c>).
/// </summary>
/// <param name="Id">UUIDv7 made from <paramref name="OpenedAt"/>.</param>
/// <param name="CheckName">The check.</param>
/// <param name="OpenedAt">Start of the result that made the hard state non-OK (UTC).</param>
/// <param name="ClosedAt">Start of the result that made the hard state OK again (UTC), or null while open.</param>
/// <param name="FailingSince">Start of the first non-OK result of the failures that opened it (UTC); earlier than
/// <paramref name="OpenedAt"/> when <c>failureThreshold</c> &gt; 1.</param>
/// <param name="WorstState">The most severe state of its results (CRITICAL &gt; UNKNOWN &gt; WARNING).</param>
/// <param name="FirstMessage">Message of the result that opened it.</param>
/// <param name="LastMessage">Message of its latest non-OK result.</param>
/// <param name="OpenedResultId">Id of the result that opened it.</param>
/// <param name="ClosedResultId">Id of the result that closed it, or null while open.</param>
/// <param name="FailedRuns">Non-OK results counted in it (the ones that opened it included).</param>
public sealed record Incident(
    Guid Id, string CheckName, DateTimeOffset OpenedAt, DateTimeOffset? ClosedAt, DateTimeOffset FailingSince, CheckState WorstState,
    string FirstMessage, string LastMessage, Guid OpenedResultId, Guid? ClosedResultId, int FailedRuns)
{
    /// <summary>Whether it is still open.</summary>
    public bool IsOpen => ClosedAt is null;

    /// <summary>How long it lasted (closed − opened), or null while open.</summary>
    public TimeSpan? Duration => ClosedAt - OpenedAt;
}
