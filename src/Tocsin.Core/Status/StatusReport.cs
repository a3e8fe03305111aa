using System.Text.Json.Serialization;
using Tocsin.Checks;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Status;

/// <summary>
/// The latest state of one configured check, as <c>tocsin status --json</c> and <c>GET /api/v1/checks</c>
/// show it: <c>{"name","kind","state","lastRun","durationMs","message","consecutiveFailures"}</c>.
/// </summary>
/// <param name="Name">Check name.</param>
/// <param name="Kind">Check kind.</param>
/// <param name="State"><c>OK</c>, <c>WARNING</c>, <c>CRITICAL</c>, <c>UNKNOWN</c>, or <c>PENDING</c> before the first result.</param>
/// <param name="LastRun">Start of the latest run, ISO-8601 UTC, or <see langword="null"/>.</param>
/// <param name="DurationMs">Latest run's duration in ms, or <see langword="null"/>.</param>
/// <param name="Message">Latest result's message, or <see langword="null"/>.</param>
/// <param name="ConsecutiveFailures">Non-OK results in a row up to the latest.</param>
public sealed record CheckStatusView(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("lastRun")] DateTimeOffset? LastRun,
    [property: JsonPropertyName("durationMs")] double? DurationMs,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("consecutiveFailures")] int ConsecutiveFailures);

/// <summary>Builds the status of the configured checks from the outbox.</summary>
public static class StatusReport
{
    /// <summary>State shown for a check that has no result yet.</summary>
    public const string Pending = "PENDING";

    /// <summary>One entry per configured check, in configuration order.</summary>
    public static IReadOnlyList<CheckStatusView> Build(IReadOnlyList<CheckDefinition> checks, IReadOnlyDictionary<string, CheckStatus> states) =>
        [.. checks.Select(c => states.TryGetValue(c.Name, out var s)
            ? new CheckStatusView(c.Name, c.Kind, s.State.ToString(), s.LastRun, s.DurationMs, s.Message, s.ConsecutiveFailures)
            : new CheckStatusView(c.Name, c.Kind, Pending, null, null, c.Enabled ? null : "disabled", 0))];

    /// <summary>Reads the outbox and builds the report.</summary>
    public static IReadOnlyList<CheckStatusView> Build(IReadOnlyList<CheckDefinition> checks, SqliteOutbox outbox) =>
        Build(checks, outbox.ReadStates());
}
