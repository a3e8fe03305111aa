using System.Text.Json.Serialization;
using Tocsin.Checks;
using Tocsin.State;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Status;

/// <summary>
/// The latest state of one configured check, as <c>tocsin status --json</c> and <c>GET /api/v1/checks</c>
/// show it: <c>{"name","kind","state","lastRun","durationMs","message","consecutiveFailures","lastChange","agentId","source"}</c>
/// and this agent's state tracking: <c>"softState","hardState","stateType","consecutiveSuccesses","lastHardChange",
/// "failingSince","flapping","percentStateChange","openIncidentId","uptime24h","uptime7d","uptime30d","averageDurationMs24h",
/// "failureThreshold","successThreshold","public","problem"</c> (null where this agent has no result of the check).
/// </summary>
/// <param name="Name">Check name.</param>
/// <param name="Kind">Check kind.</param>
/// <param name="State"><c>OK</c>, <c>WARNING</c>, <c>CRITICAL</c>, <c>UNKNOWN</c>, or <c>PENDING</c> before the first result.</param>
/// <param name="LastRun">Start of the latest run, ISO-8601 UTC, or <see langword="null"/>.</param>
/// <param name="DurationMs">Latest run's duration in ms, or <see langword="null"/>.</param>
/// <param name="Message">Latest result's message, or <see langword="null"/>.</param>
/// <param name="ConsecutiveFailures">Non-OK results in a row up to the latest (from every agent when <paramref name="Source"/> is <c>central</c>).</param>
/// <param name="LastChange">Start of the first run in the current state, ISO-8601 UTC, or <see langword="null"/> before the first result.</param>
/// <param name="AgentId">Id of the agent that produced the latest result, or <see langword="null"/> before the first result.</param>
/// <param name="Source"><c>central</c> (read from the central PostgreSQL: the whole fleet) or <c>local</c> (this agent's outbox).</param>
public sealed record CheckStatusView(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("lastRun")] DateTimeOffset? LastRun,
    [property: JsonPropertyName("durationMs")] double? DurationMs,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("consecutiveFailures")] int ConsecutiveFailures,
    [property: JsonPropertyName("lastChange")] DateTimeOffset? LastChange = null,
    [property: JsonPropertyName("agentId")] Guid? AgentId = null,
    [property: JsonPropertyName("source")] string Source = StatusReport.SourceLocal)
{
    /// <summary>State of this agent's latest result of the check (the soft state), or null before its first result here.</summary>
    [JsonPropertyName("softState")]
    public string? SoftState { get; init; }

    /// <summary>The hard state (<c>OK</c> … <c>UNKNOWN</c>) this agent tracks, after the thresholds; null before its first result here.</summary>
    [JsonPropertyName("hardState")]
    public string? HardState { get; init; }

    /// <summary><c>SOFT</c> while the soft state differs from the hard state (thresholds not met yet), <c>HARD</c> otherwise; null before the first result.</summary>
    [JsonPropertyName("stateType")]
    public string? StateType { get; init; }

    /// <summary>OK results in a row up to the latest (this agent's), or null before the first result.</summary>
    [JsonPropertyName("consecutiveSuccesses")]
    public int? ConsecutiveSuccesses { get; init; }

    /// <summary>When the hard state last changed (ISO-8601 UTC), or null before the first result.</summary>
    [JsonPropertyName("lastHardChange")]
    public DateTimeOffset? LastHardChange { get; init; }

    /// <summary>Start of the first non-OK result of the current run of failures (ISO-8601 UTC), or null when the latest is OK.</summary>
    [JsonPropertyName("failingSince")]
    public DateTimeOffset? FailingSince { get; init; }

    /// <summary>Whether the check flaps (weighted state change over its last 21 results above 20 %, until below 5 %).</summary>
    [JsonPropertyName("flapping")]
    public bool? Flapping { get; init; }

    /// <summary>The weighted percent state change over the last 21 results (0–100).</summary>
    [JsonPropertyName("percentStateChange")]
    public double? PercentStateChange { get; init; }

    /// <summary>Id of the open incident, or null when none is open.</summary>
    [JsonPropertyName("openIncidentId")]
    public Guid? OpenIncidentId { get; init; }

    /// <summary>Percent of runs up (OK or WARNING) in the current hour and the 23 before it; null without runs.</summary>
    [JsonPropertyName("uptime24h")]
    public double? Uptime24h { get; init; }

    /// <summary>Percent of runs up in the current UTC day and the 6 before it; null without runs.</summary>
    [JsonPropertyName("uptime7d")]
    public double? Uptime7d { get; init; }

    /// <summary>Percent of runs up in the current UTC day and the 29 before it; null without runs.</summary>
    [JsonPropertyName("uptime30d")]
    public double? Uptime30d { get; init; }

    /// <summary>Mean run duration over the same 24 h as <see cref="Uptime24h"/>, ms; null without runs.</summary>
    [JsonPropertyName("averageDurationMs24h")]
    public double? AverageDurationMs24h { get; init; }

    /// <summary>The check's <c>failureThreshold</c> (1–100).</summary>
    [JsonPropertyName("failureThreshold")]
    public int? FailureThreshold { get; init; }

    /// <summary>The check's <c>successThreshold</c> (1–100).</summary>
    [JsonPropertyName("successThreshold")]
    public int? SuccessThreshold { get; init; }

    /// <summary>Whether the check is marked <c>"public": true</c> (shown on the public status page).</summary>
    [JsonPropertyName("public")]
    public bool? Public { get; init; }

    /// <summary>
    /// Why the check is disabled when it was not by choice (e.g. a promise whose <c>.cfg</c> has an invalid cron:
    /// <see cref="CheckDefinition.DisabledReason"/>), else null.
    /// </summary>
    [JsonPropertyName("problem")]
    public string? Problem { get; init; }
}

/// <summary>Builds the status of the configured checks from the outbox.</summary>
public static class StatusReport
{
    /// <summary>State shown for a check that has no result yet.</summary>
    public const string Pending = "PENDING";

    /// <summary><see cref="CheckStatusView.Source"/> of a view read from this agent's outbox.</summary>
    public const string SourceLocal = "local";

    /// <summary><see cref="CheckStatusView.Source"/> of a view read from the central PostgreSQL.</summary>
    public const string SourceCentral = "central";

    /// <summary>
    /// One entry per configured check, in configuration order, from this agent's outbox states; checks
    /// without a state are <see cref="Pending"/>. <paramref name="agentId"/> is the outbox's agent id.
    /// </summary>
    public static IReadOnlyList<CheckStatusView> Build(IReadOnlyList<CheckDefinition> checks, IReadOnlyDictionary<string, CheckStatus> states, Guid? agentId = null) =>
        [.. checks.Select(c => states.TryGetValue(c.Name, out var s)
            ? FromLocal(s, agentId)
            : PendingView(c, SourceLocal))];

    /// <summary>The view of a check that has a result in this agent's outbox (<paramref name="state"/>), as <see cref="Build(IReadOnlyList{CheckDefinition}, IReadOnlyDictionary{string, CheckStatus}, Guid?)"/> makes it.</summary>
    public static CheckStatusView FromLocal(CheckStatus state, Guid? agentId = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new CheckStatusView(state.Name, state.Kind, state.State.ToString(), state.LastRun, state.DurationMs, state.Message, state.ConsecutiveFailures, state.LastChange, agentId, SourceLocal);
    }

    /// <summary>Reads the outbox and builds the report.</summary>
    public static IReadOnlyList<CheckStatusView> Build(IReadOnlyList<CheckDefinition> checks, SqliteOutbox outbox)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        return Build(checks, outbox.ReadStates(), outbox.AgentId);
    }

    /// <summary>
    /// One entry per configured check, in configuration order, from the central states (source <c>central</c>);
    /// checks no agent has exported a result of yet are <see cref="Pending"/>.
    /// </summary>
    public static IReadOnlyList<CheckStatusView> Build(IReadOnlyList<CheckDefinition> checks, IReadOnlyDictionary<string, CentralCheckState> states) =>
        [.. checks.Select(c => states.TryGetValue(c.Name, out var s)
            ? new CheckStatusView(c.Name, c.Kind, s.State.ToString(), s.LastRun, s.DurationMs, s.Message, s.ConsecutiveFailures, s.LastChange, s.AgentId, SourceCentral)
            : PendingView(c, SourceCentral))];

    /// <summary>
    /// Adds this agent's state tracking to <paramref name="view"/>: the check's thresholds and <c>public</c> flag, and
    /// when known its soft and hard states, counts, flapping, open incident (<paramref name="tracked"/>) and uptime
    /// (<paramref name="uptime"/>). The view's own fields are kept (with a central database they describe the fleet).
    /// </summary>
    public static CheckStatusView WithTracking(CheckStatusView view, CheckDefinition check, TrackedState? tracked, Uptime? uptime)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(check);
        view = view with { FailureThreshold = check.Thresholds.FailureThreshold, SuccessThreshold = check.Thresholds.SuccessThreshold, Public = check.Public, Problem = check.DisabledReason };
        if (tracked is not null)
        {
            view = view with
            {
                SoftState = tracked.SoftState.ToString(),
                HardState = tracked.HardState.ToString(),
                StateType = tracked.StateType,
                ConsecutiveSuccesses = tracked.ConsecutiveSuccesses,
                LastHardChange = tracked.HardChangeAt,
                FailingSince = tracked.FailingSince,
                Flapping = tracked.Flapping,
                PercentStateChange = tracked.PercentStateChange,
                OpenIncidentId = tracked.OpenIncident?.Id,
            };
        }

        if (uptime is not null)
        {
            view = view with
            {
                Uptime24h = uptime.Percent24h,
                Uptime7d = uptime.Percent7d,
                Uptime30d = uptime.Percent30d,
                AverageDurationMs24h = uptime.AverageDurationMs24h,
            };
        }

        return view;
    }

    private static CheckStatusView PendingView(CheckDefinition c, string source) =>
        new(c.Name, c.Kind, Pending, null, null, c.Enabled ? null : c.DisabledReason is { } why ? "disabled: " + why : "disabled", 0, null, null, source);
}
