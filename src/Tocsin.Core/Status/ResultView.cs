using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Tocsin.Checks;

namespace Tocsin.Status;

/// <summary>
/// One result as the API answers it: <c>{"id","check","kind","state","scheduledAt","startedAt","finishedAt",
/// "durationMs","statusCode","message","details"}</c>; times ISO-8601 UTC, durations in ms.
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
    [property: JsonPropertyName("details")] JsonObject? Details)
{
    /// <summary>Makes the view of a result.</summary>
    public static ResultView From(CheckResult r) =>
        new(r.Id, r.CheckName, r.Kind, r.State.ToString(), r.ScheduledAt, r.StartedAt, r.FinishedAt, r.DurationMs, r.StatusCode, r.Message, r.Details);
}
