using System.Text.Json.Serialization;
using Tocsin.State;

namespace Tocsin.Status;

/// <summary>
/// One incident as the API answers it: <c>{"id","check","open","openedAt","closedAt","durationSeconds","failingSince",
/// "worstState","firstMessage","lastMessage","openedResultId","closedResultId","failedRuns"}</c>; times ISO-8601 UTC,
/// <c>durationSeconds</c> null while open.
/// </summary>
public sealed record IncidentView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("open")] bool Open,
    [property: JsonPropertyName("openedAt")] DateTimeOffset OpenedAt,
    [property: JsonPropertyName("closedAt")] DateTimeOffset? ClosedAt,
    [property: JsonPropertyName("durationSeconds")] double? DurationSeconds,
    [property: JsonPropertyName("failingSince")] DateTimeOffset FailingSince,
    [property: JsonPropertyName("worstState")] string WorstState,
    [property: JsonPropertyName("firstMessage")] string FirstMessage,
    [property: JsonPropertyName("lastMessage")] string LastMessage,
    [property: JsonPropertyName("openedResultId")] Guid OpenedResultId,
    [property: JsonPropertyName("closedResultId")] Guid? ClosedResultId,
    [property: JsonPropertyName("failedRuns")] int FailedRuns)
{
    /// <summary>Makes the view of an incident.</summary>
    public static IncidentView Of(Incident i)
    {
        ArgumentNullException.ThrowIfNull(i);
        return new(i.Id, i.CheckName, i.IsOpen, i.OpenedAt, i.ClosedAt, i.Duration?.TotalSeconds, i.FailingSince, i.WorstState.ToString(),
            i.FirstMessage, i.LastMessage, i.OpenedResultId, i.ClosedResultId, i.FailedRuns);
    }
}

/// <summary>
/// One hard state change as the API answers it: <c>{"id","check","from","to","at","message","resultId","incidentId"}</c>;
/// <c>at</c> ISO-8601 UTC (the start of the result that made the change).
/// </summary>
public sealed record StateChangeView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("from")] string From,
    [property: JsonPropertyName("to")] string To,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("resultId")] Guid ResultId,
    [property: JsonPropertyName("incidentId")] Guid? IncidentId)
{
    /// <summary>Makes the view of a hard state change.</summary>
    public static StateChangeView Of(HardStateChange c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new(c.Id, c.CheckName, c.From.ToString(), c.To.ToString(), c.At, c.Message, c.ResultId, c.IncidentId);
    }
}
