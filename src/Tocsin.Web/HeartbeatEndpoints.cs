using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Checks.Heartbeat;
using Tocsin.Scheduling;

namespace Tocsin.Web;

/// <summary>
/// The ping endpoints of <c>heartbeat</c> checks, which jobs (cron, backups) call with curl or wget:
/// <c>GET|POST /api/v1/ping/{token}</c> (success), <c>…/{token}/start</c> and <c>…/{token}/fail</c>. The token is the
/// credential: these endpoints are outside the write policy and the cross-origin protection. A request body (text, the first
/// <see cref="MaxBodyBytes"/> bytes; more is cut) is kept in the result's details and, for a failure, its first line in the
/// message.
/// <para>Answers: 200 <c>{"ok": true, "check": "&lt;name&gt;", "ping": "success"|"start"|"fail", "result": "&lt;id&gt;"|null}</c>
/// (<c>result</c> is the id of the result written, null for a start or when this agent does not run the check); 404
/// <c>{"error": "unknown ping token"}</c> for any wrong token, the same bytes whatever the token (see <see cref="HeartbeatTokens"/>);
/// 503 <c>{"error": "the ping could not be stored; retry"}</c> when the outbox cannot be written.</para>
/// <para>The agent that receives a ping records it in its outbox; it writes the result only when it runs the check (no central
/// database, or it owns the check's shard) and the check is enabled; otherwise the owner's next scheduled run judges the
/// deadline (with several agents, from its own record only: see the heartbeat kind's remarks).</para>
/// </summary>
public static partial class HeartbeatEndpoints
{
    /// <summary>Most bytes of a request body read; the rest is ignored and the result says <c>bodyTruncated</c>.</summary>
    public const int MaxBodyBytes = 10 * 1024;

    /// <summary>
    /// Maps the ping endpoints. Needs the <see cref="CheckCatalog"/>, <see cref="HeartbeatPings"/> and an <see cref="IResultSink"/>
    /// in services; uses <see cref="SchedulerOptions.Owns"/> when registered.
    /// </summary>
    public static IEndpointRouteBuilder MapHeartbeatPings(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup("/api/v1/ping").WithTags("heartbeat");
        string[] methods = [HttpMethods.Get, HttpMethods.Post];
        group.MapMethods("/{token}", methods, (string token, HttpContext context) => PingAsync(context, token, HeartbeatPing.Success));
        group.MapMethods("/{token}/start", methods, (string token, HttpContext context) => PingAsync(context, token, HeartbeatPing.Start));
        group.MapMethods("/{token}/fail", methods, (string token, HttpContext context) => PingAsync(context, token, HeartbeatPing.Fail));
        return endpoints;
    }

    private static async Task<IResult> PingAsync(HttpContext context, string token, HeartbeatPing ping)
    {
        var services = context.RequestServices;
        var check = HeartbeatTokens.Find(services.GetRequiredService<CheckCatalog>().Current, token);
        if (check is null)
        {
            return TypedResults.Json(new PingError("unknown ping token"), statusCode: StatusCodes.Status404NotFound);
        }

        var (body, truncated) = await ReadBodyAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        bool runsHere = check.Enabled && (services.GetService<SchedulerOptions>()?.Owns?.Invoke(check) ?? true);
        var sink = runsHere ? services.GetRequiredService<IResultSink>() : null;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HeartbeatEndpoints).FullName!);
        CheckResult? result;
        try
        {
            result = await services.GetRequiredService<HeartbeatPings>()
                .ReceiveAsync(check, ping, body, truncated, sink, CancellationToken.None).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            LogStoreFailed(logger, ex, check.Name);
            return TypedResults.Json(new PingError("the ping could not be stored; retry"), statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var pings = services.GetRequiredService<HeartbeatPings>();
        if (pings.Share is { } share && pings.Find(check.Name) is { } recorded)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                await share.MergeAsync(recorded, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!runsHere)
            {
                // Another agent runs the check and would never see this ping: ask the sender to retry.
                LogShareFailed(logger, ex, check.Name);
                return TypedResults.Json(new PingError("the ping could not be shared with the agent that runs the check; retry"), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            catch (Exception ex)
            {
                // This agent runs the check and has the ping; the others learn it at the next run.
                LogShareFailed(logger, ex, check.Name);
            }
        }

        string pingName = Name(ping);
        LogPing(logger, pingName, check.Name, runsHere);
        return TypedResults.Ok(new PingAccepted(true, check.Name, pingName, runsHere ? result?.Id : null));
    }

    private static string Name(HeartbeatPing ping) => ping switch
    {
        HeartbeatPing.Start => "start",
        HeartbeatPing.Fail => "fail",
        _ => "success",
    };

    /// <summary>The body as UTF-8 text (invalid bytes replaced), at most <see cref="MaxBodyBytes"/> bytes of it; null when empty.</summary>
    private static async Task<(string? Body, bool Truncated)> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength == 0)
        {
            return (null, false);
        }

        byte[] buffer = new byte[MaxBodyBytes + 1];
        int length = 0;
        try
        {
            int n;
            while (length < buffer.Length && (n = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
            {
                length += n;
            }
        }
        catch (Exception ex) when (ex is IOException or BadHttpRequestException or OperationCanceledException)
        {
            // A sender that goes away mid-body still pinged: keep what came.
        }

        bool truncated = length > MaxBodyBytes;
        if (truncated)
        {
            length = MaxBodyBytes;
            // Do not cut a UTF-8 sequence in two: step back over continuation bytes to the start of the last character.
            int start = length;
            while (start > 0 && (buffer[start] & 0xC0) == 0x80)
            {
                start--;
            }

            length = start;
        }

        return length == 0 ? (null, truncated) : (Encoding.UTF8.GetString(buffer, 0, length), truncated);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Heartbeat ping {Ping} for {Check} (result written here: {RunsHere})")]
    private static partial void LogPing(ILogger logger, string ping, string check, bool runsHere);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A heartbeat ping for {Check} could not be written to the central database")]
    private static partial void LogShareFailed(ILogger logger, Exception ex, string check);

    [LoggerMessage(Level = LogLevel.Error, Message = "A heartbeat ping for {Check} could not be stored in the outbox; the sender was asked to retry")]
    private static partial void LogStoreFailed(ILogger logger, Exception ex, string check);
}

/// <summary>The answer to an accepted ping.</summary>
/// <param name="Ok">Always true.</param>
/// <param name="Check">The check's name.</param>
/// <param name="Ping"><c>success</c>, <c>start</c> or <c>fail</c>.</param>
/// <param name="Result">The id of the result written by this agent, or null (a start, or another agent runs the check).</param>
public sealed record PingAccepted(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("ping")] string Ping,
    [property: JsonPropertyName("result")] Guid? Result);

/// <summary>The answer to a refused ping: <c>{"error": "…"}</c>.</summary>
/// <param name="Error">Why.</param>
public sealed record PingError([property: JsonPropertyName("error")] string Error);
