using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;
using Tocsin.Scheduling;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>Maps <c>/metrics</c> (Prometheus) and <c>/readyz</c> (readiness).</summary>
public static class MetricsEndpoints
{
    /// <summary>
    /// Maps <c>GET /metrics</c>: Prometheus text format (<c>text/plain; version=0.0.4</c>) of the
    /// <see cref="PrometheusMetrics"/> registry in services; and <c>GET /readyz</c>: 200 with a
    /// <see cref="ReadinessView"/> when the outbox answers a read (<see cref="OutboxProbe"/>) and the
    /// <see cref="Scheduler"/> is running (<see cref="Scheduler.IsRunning"/>), else 503 with the same body naming
    /// what failed. Needs <see cref="PrometheusMetrics"/>, <see cref="SqliteOutbox"/> and <see cref="Scheduler"/> in services.
    /// </summary>
    public static IEndpointRouteBuilder MapTocsinMetrics(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var metrics = endpoints.ServiceProvider.GetRequiredService<PrometheusMetrics>();
        endpoints.MapMetrics("/metrics", metrics.Registry);
        endpoints.MapGet("/readyz", (SqliteOutbox outbox, Scheduler scheduler) =>
        {
            var view = Readiness(outbox, scheduler);
            return TypedResults.Json(view, statusCode: view.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return endpoints;
    }

    /// <summary>Reads the outbox and the scheduler's state now.</summary>
    public static ReadinessView Readiness(SqliteOutbox outbox, Scheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        ArgumentNullException.ThrowIfNull(scheduler);
        string? outboxError = OutboxProbe.Check(outbox.Path);
        string? schedulerError = scheduler.IsRunning ? null : "the scheduler is not running (stopped, not started yet, or its loop failed)";
        var failed = new List<string>();
        if (outboxError is not null)
        {
            failed.Add("outbox");
        }

        if (schedulerError is not null)
        {
            failed.Add("scheduler");
        }

        return new ReadinessView(
            failed.Count == 0 ? "ready" : "not ready",
            failed,
            new ReadinessPart(outboxError is null, outboxError, null),
            new ReadinessPart(schedulerError is null, schedulerError, scheduler.LastLoopAt));
    }
}

/// <summary>
/// The <c>/readyz</c> answer: <c>{"status":"ready"|"not ready","failed":["outbox"|"scheduler",…],
/// "outbox":{"ok","error"},"scheduler":{"ok","error","lastLoopAt"}}</c>.
/// </summary>
/// <param name="Status"><c>ready</c> or <c>not ready</c>.</param>
/// <param name="Failed">Names of the parts that failed, empty when ready.</param>
/// <param name="Outbox">Whether the outbox file answered a read.</param>
/// <param name="Scheduler">Whether the scheduler is running, and when its loop last woke (UTC).</param>
public sealed record ReadinessView(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("failed")] IReadOnlyList<string> Failed,
    [property: JsonPropertyName("outbox")] ReadinessPart Outbox,
    [property: JsonPropertyName("scheduler")] ReadinessPart Scheduler)
{
    /// <summary>Whether every part is fine.</summary>
    [JsonIgnore]
    public bool Ready => Failed.Count == 0;
}

/// <summary>One part of <see cref="ReadinessView"/>.</summary>
/// <param name="Ok">Whether it is fine.</param>
/// <param name="Error">Why not, or null.</param>
/// <param name="LastLoopAt">For the scheduler: when its loop last woke (UTC), or null.</param>
public sealed record ReadinessPart(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("lastLoopAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? LastLoopAt);
