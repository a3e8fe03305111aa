using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tocsin.Access;
using Tocsin.Ingestion;

namespace Tocsin.Web.Ingestion;

/// <summary>
/// Seed 002's log and notification backend on the web server. Credentials are ingestion tokens only
/// (<see cref="IIngestionStore.FindTokenAsync"/> by SHA-256), never <c>web.auth</c>'s, and these endpoints carry neither
/// the write policy nor the cross-origin filter: a browser page of another site cannot use them, since it can neither attach
/// an <c>Authorization</c> header without a CORS preflight (which is not answered) nor read a token it does not have.
/// <list type="bullet">
/// <item><c>GET /ws</c>: the WebSocket protocol (<see cref="IngestionProtocol"/>, one connection per
/// <see cref="IngestionSocket"/>). Token in <c>Authorization: Bearer &lt;token&gt;</c> on the upgrade or in a first frame
/// <c>{"action":"auth","token":"…"}</c> within 10 s (answered <c>{"success":true,"action":"auth"}</c>). Past
/// <c>maxConnections</c> open sockets the upgrade is refused with 503; a request that is not an upgrade gets 400.</item>
/// <item><c>POST {prefix}/logs</c>, <c>POST {prefix}/notifications</c>: <c>Authorization: Bearer</c>; the body a JSON array of
/// rows (<c>application/json</c>) or one row per line (<c>application/x-ndjson</c>), validated as a frame. Answers 200
/// <c>{"success":true,"inserted":N}</c> after the commit; 400 <c>{"success":false,"comment":…}</c>; 401 no or bad token;
/// 403 a user token; 413 a body over <c>maxFrameBytes</c>; 503 with <c>Retry-After</c> when the store failed (nothing kept).</item>
/// <item><c>GET {prefix}/logs|notifications?timewindow=&amp;sender=&amp;level=&amp;limit=&amp;before=</c>: the token's identity's
/// rows as <see cref="IngestionRowsView"/>, newest first; <c>next</c> is the cursor for <c>before</c>, or null.</item>
/// </list>
/// The HTTP endpoints live under <see cref="DefaultApiPrefix"/> rather than <c>/api/v1</c>: <c>GET /api/v1/notifications</c>
/// lists alert notifications already.
/// </summary>
public static partial class IngestionEndpoints
{
    /// <summary>Where the HTTP endpoints are mapped by default.</summary>
    public const string DefaultApiPrefix = "/api/v1/ingestion";

    /// <summary>Seconds a client is asked to wait (<c>Retry-After</c>) after the store failed.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>
    /// Maps <c>/ws</c> and the HTTP endpoints under <paramref name="apiPrefix"/>. Needs in services: an
    /// <see cref="IngestionHandler"/> (with its store, writer, fan-out, <see cref="IngestionOptions"/> and clock) and an
    /// <see cref="INotificationFanout"/>. The WebSocket middleware is part of the <c>/ws</c> endpoint (no
    /// <c>UseWebSockets</c> needed). Returns <paramref name="endpoints"/>.
    /// </summary>
    public static IEndpointRouteBuilder MapIngestion(this IEndpointRouteBuilder endpoints, string apiPrefix = DefaultApiPrefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var sockets = new OpenSockets();
        var pipeline = endpoints.CreateApplicationBuilder();
        pipeline.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        pipeline.Run(context => AcceptAsync(context, sockets));
        var upgrade = pipeline.Build();
        endpoints.MapMethods("/ws", [HttpMethods.Get, HttpMethods.Connect], upgrade).WithTags("ingestion").WithDisplayName("ingestion WebSocket");

        var api = endpoints.MapGroup(apiPrefix).WithTags("ingestion");
        foreach (var kind in new[] { RowKind.Logs, RowKind.Notifications })
        {
            string path = "/" + IngestionActions.Field(kind);
            api.MapPost(path, (HttpContext context, IngestionHandler handler) => UploadAsync(context, handler, kind));
            api.MapGet(path, (HttpContext context, IngestionHandler handler) => ReadAsync(context, handler, kind));
        }

        return endpoints;
    }

    private static async Task AcceptAsync(HttpContext context, OpenSockets sockets)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("GET /ws expects a WebSocket upgrade (seed 002's protocol).", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var services = context.RequestServices;
        var handler = services.GetRequiredService<IngestionHandler>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IngestionSocket).FullName!);
        if (!sockets.TryOpen(handler.Options.MaxConnections))
        {
            LogTooMany(logger, handler.Options.MaxConnections);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            await context.Response.WriteAsync("Too many open ingestion sockets (maxConnections); retry later.", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        try
        {
            string? token = BearerToken(context.Request);
            IngestionPrincipal? principal = null;
            if (token is not null)
            {
                try
                {
                    principal = await handler.AuthenticateAsync(token, context.RequestAborted).ConfigureAwait(false);
                }
                catch (IngestionStoreException ex)
                {
                    LogTokenStoreFailed(logger, ex);
                    context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                    return;
                }
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
            using var connection = new IngestionSocket(socket, handler, services.GetRequiredService<INotificationFanout>(), logger);
            if (token is not null && principal is null)
            {
                LogBadToken(logger);
                await connection.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation, "invalid token").ConfigureAwait(false);
                return;
            }

            await connection.RunAsync(principal, token is null ? null : AccessTokens.Sha256(token), context.RequestAborted).ConfigureAwait(false);
        }
        finally
        {
            sockets.Close();
        }
    }

    private static async Task<IResult> UploadAsync(HttpContext context, IngestionHandler handler, RowKind kind)
    {
        var (principal, refused) = await AuthenticateAsync(context, handler).ConfigureAwait(false);
        if (principal is null)
        {
            return refused!;
        }

        if (IngestionHandler.UploadRefusal(principal, kind) is { } refusal)
        {
            return Failure(StatusCodes.Status403Forbidden, refusal);
        }

        long max = handler.Options.MaxFrameBytes;
        if (context.Request.ContentLength > max)
        {
            return TooLarge(max);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = max + 1;
        }

        byte[]? body = await ReadBodyAsync(context.Request, max, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            return TooLarge(max);
        }

        bool ndjson = MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var type)
            && type.MediaType is "application/x-ndjson" or "application/jsonl" or "application/jsonlines";
        var rows = IngestionProtocol.ReadRows(kind, body, ndjson, handler.Options, handler.Time.GetUtcNow(), out string? comment);
        if (rows is null)
        {
            var logger = Logger(context);
            LogBadUpload(logger, principal.Identity, comment!);
            return Failure(StatusCodes.Status400BadRequest, comment!);
        }

        // Per HTTP connection, as per socket: a client that keeps its connection open is held to the rate.
        await ConnectionRate(context, handler).WaitAsync(rows.Count, context.RequestAborted).ConfigureAwait(false);
        try
        {
            var stored = await handler.UploadAsync(principal, kind, rows, context.RequestAborted).ConfigureAwait(false);
            return TypedResults.Ok(new IngestionUploaded(true, stored.Count));
        }
        catch (IngestionStoreException ex)
        {
            return Unavailable(context, $"not stored: {ex.Message}");
        }
    }

    private static async Task<IResult> ReadAsync(HttpContext context, IngestionHandler handler, RowKind kind)
    {
        var (principal, refused) = await AuthenticateAsync(context, handler).ConfigureAwait(false);
        if (principal is null)
        {
            return refused!;
        }

        var request = IngestionProtocol.ParseRead(kind, QueryFields(context.Request.Query));
        if (request is not ReadRequest read)
        {
            return Failure(StatusCodes.Status400BadRequest, ((InvalidRequest)request).Comment);
        }

        try
        {
            var (rows, next) = await handler.ReadAsync(principal, read, context.RequestAborted).ConfigureAwait(false);
            return TypedResults.Ok(new IngestionRowsView(
                [.. rows.Select(r => new IngestionRowView(r.Sender, r.Message, r.Level, IngestionReplies.EpochSeconds(r.Time)))], next));
        }
        catch (IngestionStoreException ex)
        {
            return Unavailable(context, $"not read: {ex.Message}");
        }
    }

    /// <summary>
    /// The query string as the fields of a read frame: numbers where the text is one (so that <c>timewindow=10</c> reads as
    /// the frame's <c>10</c> and <c>timewindow=ten</c> is refused naming <c>"ten"</c>), strings otherwise.
    /// </summary>
    private static JsonElement QueryFields(IQueryCollection query)
    {
        var fields = new JsonObject();
        foreach (string name in new[] { "timewindow", "sender", "level", "limit", "before" })
        {
            if (query[name].FirstOrDefault() is not { } text)
            {
                continue;
            }

            fields[name] = (name is "timewindow" or "level" or "limit" ? JsonNumber(text) : null) ?? JsonValue.Create(text);
        }

        return JsonSerializer.SerializeToElement(fields);
    }

    /// <summary><paramref name="text"/> as a JSON number when it is one, else null.</summary>
    private static JsonValue? JsonNumber(string text)
    {
        try
        {
            return JsonNode.Parse(text) is JsonValue value && value.GetValueKind() == JsonValueKind.Number ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The principal of the request's Bearer token, or the answer refusing it (401, or 503 when the store failed).</summary>
    private static async Task<(IngestionPrincipal?, IResult?)> AuthenticateAsync(HttpContext context, IngestionHandler handler)
    {
        if (BearerToken(context.Request) is not { } token)
        {
            return (null, Unauthorized(context, "Authorization: Bearer <ingestion token> is required."));
        }

        try
        {
            return await handler.AuthenticateAsync(token, context.RequestAborted).ConfigureAwait(false) is { } principal
                ? (principal, null)
                : (null, Unauthorized(context, "The token is unknown or revoked."));
        }
        catch (IngestionStoreException ex)
        {
            var logger = Logger(context);
            LogTokenStoreFailed(logger, ex);
            return (null, Unavailable(context, "The token store cannot be read; retry."));
        }
    }

    /// <summary>The token of <c>Authorization: Bearer &lt;token&gt;</c>, or null (no header, another scheme, empty).</summary>
    private static string? BearerToken(HttpRequest request) =>
        AuthenticationHeaderValue.TryParse(request.Headers.Authorization.ToString(), out var header)
        && string.Equals(header.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase)
        && !string.IsNullOrEmpty(header.Parameter)
            ? header.Parameter
            : null;

    /// <summary>The body, or null when it is longer than <paramref name="max"/> bytes.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, long max, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int n;
        try
        {
            while ((n = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + n > max)
                {
                    return null;
                }

                buffer.Write(chunk, 0, n);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }

        return buffer.ToArray();
    }

    private static RowRateLimiter ConnectionRate(HttpContext context, IngestionHandler handler)
    {
        var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is null)
        {
            return RowRateLimiter.For(handler.Options, handler.Time);
        }

        if (items.TryGetValue(typeof(RowRateLimiter), out object? found) && found is RowRateLimiter limiter)
        {
            return limiter;
        }

        limiter = RowRateLimiter.For(handler.Options, handler.Time);
        items[typeof(RowRateLimiter)] = limiter;
        return limiter;
    }

    private static JsonHttpResult<IngestionFailure> Failure(int status, string comment) => TypedResults.Json(new IngestionFailure(false, comment), statusCode: status);

    private static JsonHttpResult<IngestionFailure> TooLarge(long max) =>
        Failure(StatusCodes.Status413PayloadTooLarge, string.Create(CultureInfo.InvariantCulture, $"The body is over maxFrameBytes ({max} bytes); send fewer rows per request."));

    private static JsonHttpResult<IngestionFailure> Unauthorized(HttpContext context, string comment)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"tocsin-ingestion\"";
        return Failure(StatusCodes.Status401Unauthorized, comment);
    }

    private static JsonHttpResult<IngestionFailure> Unavailable(HttpContext context, string comment)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Failure(StatusCodes.Status503ServiceUnavailable, comment);
    }

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IngestionEndpoints).FullName!);

    /// <summary>The count of open sockets, against <c>maxConnections</c>.</summary>
    private sealed class OpenSockets
    {
        private int _open;

        public bool TryOpen(int max)
        {
            if (Interlocked.Increment(ref _open) <= max)
            {
                return true;
            }

            Interlocked.Decrement(ref _open);
            return false;
        }

        public void Close() => Interlocked.Decrement(ref _open);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion: an upgrade was refused with 503, {Max} sockets are open (maxConnections)")]
    private static partial void LogTooMany(ILogger logger, int max);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ingestion socket refused: unknown or revoked token in the Authorization header")]
    private static partial void LogBadToken(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ingestion upload of {Identity} refused: {Comment}")]
    private static partial void LogBadUpload(ILogger logger, string identity, string comment);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion: the token store cannot be read")]
    private static partial void LogTokenStoreFailed(ILogger logger, Exception ex);
}

/// <summary>The answer to an accepted HTTP upload: <c>{"success": true, "inserted": N}</c>.</summary>
/// <param name="Success">Always true.</param>
/// <param name="Inserted">Rows committed.</param>
public sealed record IngestionUploaded(
    [property: JsonPropertyName("success")] bool Success,
    [property: JsonPropertyName("inserted")] int Inserted);

/// <summary>A refused HTTP request: <c>{"success": false, "comment": "…"}</c>.</summary>
/// <param name="Success">Always false.</param>
/// <param name="Comment">What was wrong and what is allowed.</param>
public sealed record IngestionFailure(
    [property: JsonPropertyName("success")] bool Success,
    [property: JsonPropertyName("comment")] string Comment);

/// <summary>An HTTP read's answer: <c>{"rows": [{"sender", "message", "level", "time"}, …], "next": "&lt;cursor&gt;"|null}</c>.</summary>
/// <param name="Rows">Newest first.</param>
/// <param name="Next">Pass as <c>before</c> for the next page; null on the last one.</param>
public sealed record IngestionRowsView(
    [property: JsonPropertyName("rows")] IReadOnlyList<IngestionRowView> Rows,
    [property: JsonPropertyName("next")] string? Next);

/// <summary>One row of <see cref="IngestionRowsView"/>.</summary>
/// <param name="Sender">Who in the agent sent it.</param>
/// <param name="Message">The text.</param>
/// <param name="Level">0–100.</param>
/// <param name="Time">Epoch seconds (microsecond precision), as uploaded.</param>
public sealed record IngestionRowView(
    [property: JsonPropertyName("sender")] string Sender,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("level")] int Level,
    [property: JsonPropertyName("time")] decimal Time);
