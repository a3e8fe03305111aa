using System.Text.Json.Serialization;
using Tocsin.Checks;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Status;

/// <summary>
/// The latest state of one configured check, as <c>tocsin status --json</c> and <c>GET /api/v1/checks</c>
/// show it: <c>{"name","kind","state","lastRun","durationMs","message","consecutiveFailures","lastChange","agentId","source"}</c>.
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
    [property: JsonPropertyName("source")] string Source = StatusReport.SourceLocal);

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
            ? new CheckStatusView(c.Name, c.Kind, s.State.ToString(), s.LastRun, s.DurationMs, s.Message, s.ConsecutiveFailures, s.LastChange, agentId, SourceLocal)
            : PendingView(c, SourceLocal))];

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

    private static CheckStatusView PendingView(CheckDefinition c, string source) =>
        new(c.Name, c.Kind, Pending, null, null, c.Enabled ? null : "disabled", 0, null, null, source);
}
