using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Tocsin.Checks;

namespace Tocsin.Status;

/// <summary>
/// One result as the API answers it: <c>{"id","check","kind","state","scheduledAt","startedAt","finishedAt",
/// "durationMs","statusCode","message","details","agentId","source"}</c>; times ISO-8601 UTC, durations in ms.
/// <c>agentId</c> is the agent that ran it (null when unknown); <c>source</c> is <c>central</c> when the row was
/// read from the central PostgreSQL, <c>local</c> when from this agent's outbox.
/// </summary>
public sealed record ResultView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("scheduledAt")] DateTimeOffset ScheduledAt,
    [property: JsonPropertyName("startedAt")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("finishedAt")] DateTimeOffset FinishedAt,
    [property: JsonPropertyName("durationMs")] double DurationMs,
    [property: JsonPropertyName("statusCode")] int? StatusCode,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("details")] JsonObject? Details,
    [property: JsonPropertyName("agentId")] Guid? AgentId = null,
    [property: JsonPropertyName("source")] string Source = StatusReport.SourceLocal)
{
    /// <summary>Makes the view of a result read from <paramref name="source"/> (<c>local</c> or <c>central</c>), run by <paramref name="agentId"/>.</summary>
    public static ResultView From(CheckResult r, Guid? agentId = null, string source = StatusReport.SourceLocal)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.Id, r.CheckName, r.Kind, r.State.ToString(), r.ScheduledAt, r.StartedAt, r.FinishedAt, r.DurationMs, r.StatusCode, r.Message, r.Details, agentId, source);
    }
}
