using System.Text.Json.Nodes;

namespace Tocsin.Checks;

/// <summary>
/// What one run of a check produced. Immutable; written to the local outbox before anything else
/// acts on it.
/// </summary>
/// <param name="Id">UUIDv7 made by the agent from <paramref name="StartedAt"/>; unique across agents.</param>
/// <param name="CheckName">The check's unique name.</param>
/// <param name="Kind">The check kind (<c>http</c>, <c>tcp</c>, …).</param>
/// <param name="State">The outcome.</param>
/// <param name="ScheduledAt">When the scheduler wanted the run to start (UTC); the difference to
/// <paramref name="StartedAt"/> is the schedule lag.</param>
/// <param name="StartedAt">When the run started (UTC).</param>
/// <param name="FinishedAt">When the run finished (UTC).</param>
/// <param name="DurationMs">Run duration in milliseconds, measured with a monotonic clock.</param>
/// <param name="StatusCode">The HTTP status code for HTTP checks, else <see langword="null"/>.</param>
/// <param name="Message">One human-readable line saying what happened.</param>
/// <param name="Details">Kind-specific figures (phase timings in ms, byte counts, …) or <see langword="null"/>.</param>
public sealed record CheckResult(
    Guid Id,
    string CheckName,
    string Kind,
    CheckState State,
    DateTimeOffset ScheduledAt,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    double DurationMs,
    int? StatusCode,
    string Message,
    JsonObject? Details);

/// <summary>
/// What a runner reports for one run; the executor adds identity and timestamps to make a
/// <see cref="CheckResult"/>.
/// </summary>
/// <param name="State">The outcome.</param>
/// <param name="Message">One human-readable line.</param>
/// <param name="StatusCode">HTTP status code, if any.</param>
/// <param name="Details">Kind-specific figures, or <see langword="null"/>.</param>
public sealed record RunOutcome(CheckState State, string Message, int? StatusCode = null, JsonObject? Details = null);
