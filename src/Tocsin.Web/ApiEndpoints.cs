using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using System.Globalization;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Scheduling;
using Tocsin.Export;
using Tocsin.State;
using Tocsin.Status;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>Maps Tocsin's HTTP API.</summary>
public static class ApiEndpoints
{
    /// <summary>Most results one request may ask for.</summary>
    public const int MaxResultsLimit = 1000;

    /// <summary>Response header saying where check states and results were read from: <c>central</c> or <c>local</c>.</summary>
    public const string SourceHeader = "X-Tocsin-Source";

    /// <summary>Default number of items of a list endpoint (results, incidents, state changes).</summary>
    public const int DefaultLimit = 100;

    /// <summary>Response header holding the cursor of the next page of a list endpoint (absent on the last page).</summary>
    public const string NextCursorHeader = "X-Tocsin-Next-Cursor";

    /// <summary>
    /// Maps the API under <c>/api/v1</c>, every answer JSON and every error RFC 9457 <c>application/problem+json</c>
    /// (<c>{"type","title","status","detail"}</c>, plus <c>"parameter"</c> naming a bad query parameter):
    /// <list type="bullet">
    /// <item><c>GET /checks</c>: array of <see cref="CheckStatusView"/> (one per check of the <see cref="CheckCatalog"/>: configured ones in configuration order, then promises);
    /// <c>GET /checks/{name}</c>: one (404 for an unknown name).</item>
    /// <item><c>GET /checks/{name}/results?from=&amp;to=&amp;limit=&amp;cursor=</c>: array of <see cref="ResultView"/>, newest first;
    /// <c>from</c> (inclusive) and <c>to</c> (exclusive) ISO-8601 times, <c>limit</c> 1–1000 (default 100), <c>cursor</c> from the
    /// previous page. <c>GET /checks/{name}/results/{id}</c>: one result of this agent's outbox (404 until it is written).</item>
    /// <item><c>GET /incidents?check=&amp;open=true|false&amp;limit=&amp;cursor=</c>: array of <see cref="IncidentView"/>, newest opened first.</item>
    /// <item><c>GET /state-changes?check=&amp;since=&amp;limit=&amp;cursor=</c>: array of <see cref="StateChangeView"/>, newest first.</item>
    /// <item><c>POST /checks/{name}/run</c>: runs the check now; 202 with <c>{"id","check","location"}</c> and a <c>Location</c>
    /// header naming the result to come; 404 unknown check, 409 when a run of it is going or it is disabled, 503 while stopping.</item>
    /// <item><c>GET /export</c>: an <see cref="ExportStatusView"/>; and <c>GET /healthz</c> outside the group.</item>
    /// <item>Alerting: <c>GET /notifications</c>, <c>/channels</c>, <c>/alerts</c>, <c>/silences</c>; <c>POST /checks/{name}/acknowledge</c>,
    /// <c>POST /checks/{name}/silence</c>, <c>DELETE /silences/{id}</c> (see <see cref="AlertingEndpoints"/>).</item>
    /// </list>
    /// A list answer that may have more items carries the next page's cursor in <see cref="NextCursorHeader"/> and in a
    /// <c>Link: &lt;…&gt;; rel="next"</c> header. Check states and results come from the <see cref="CheckStatusReader"/> in
    /// services (the central database when configured, with the local outbox as fallback; <see cref="SourceHeader"/> says
    /// which); state tracking, incidents and state changes from this agent's outbox. Needs <see cref="TocsinConfig"/>,
    /// <see cref="SqliteOutbox"/> and <see cref="ResultWriter"/> in services, and the <see cref="Scheduler"/> for the run endpoint.
    /// </summary>
    /// <param name="endpoints">Where to map.</param>
    /// <param name="configureWrite">Applied to the route group of the write endpoints, or null: <c>tocsin start</c> passes
    /// <c>write =&gt; write.RequireAuthorization(AuthSetup.WritePolicy)</c>, so they need credentials when <c>web.auth</c> is set.</param>
    public static IEndpointRouteBuilder MapTocsinApi(this IEndpointRouteBuilder endpoints, Action<RouteGroupBuilder>? configureWrite = null)
    {
        var api = endpoints.MapGroup("/api/v1");
        api.MapGet("/checks", async Task<IResult> (HttpContext context) =>
        {
            // The same bytes for every request of the snapshot's second: serialized once, gzipped once, with an ETag.
            var snapshot = await Snapshots(context).GetAsync(context.RequestAborted).ConfigureAwait(false);
            var headers = context.Response.Headers;
            headers[SourceHeader] = snapshot.Reading.Source;
            headers.ETag = snapshot.ETag;
            headers.CacheControl = "no-cache";
            headers.Vary = "Accept-Encoding";
            var request = context.Request.GetTypedHeaders();
            if (request.IfNoneMatch.Any(t => t.Equals(Microsoft.Net.Http.Headers.EntityTagHeaderValue.Any) || t.Tag.Equals(snapshot.ETag, StringComparison.Ordinal)))
            {
                return TypedResults.StatusCode(StatusCodes.Status304NotModified);
            }

            if (request.AcceptEncoding.Any(e => e.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase) && (e.Quality ?? 1) > 0))
            {
                headers.ContentEncoding = "gzip";
                return TypedResults.Bytes(snapshot.Gzip, "application/json; charset=utf-8");
            }

            return TypedResults.Bytes(snapshot.Json, "application/json; charset=utf-8");
        }).Produces<IReadOnlyList<CheckStatusView>>(StatusCodes.Status200OK, "application/json");

        api.MapGet("/checks/{name}", async Task<Results<Ok<CheckStatusView>, ProblemHttpResult>> (string name, HttpContext context, CheckCatalog catalog) =>
        {
            name = CheckName(context, name);
            var check = catalog.Checks.FirstOrDefault(c => c.Name == name);
            if (check is null)
            {
                return UnknownCheck(name);
            }

            var reading = await Snapshots(context).ReadOneAsync(check, context.RequestAborted).ConfigureAwait(false);
            context.Response.Headers[SourceHeader] = reading.Source;
            return TypedResults.Ok(reading.Checks[0]);
        });

        api.MapGet("/checks/{name}/results", async Task<Results<Ok<IReadOnlyList<ResultView>>, ProblemHttpResult>> (
            string name, string? limit, string? from, string? to, string? cursor, HttpContext context, CheckCatalog catalog, SqliteOutbox outbox) =>
        {
            name = CheckName(context, name);
            if (ParseLimit(limit) is not { } n)
            {
                return BadParameter("limit", limit, $"must be an integer from 1 to {MaxResultsLimit}");
            }

            if (!TryParseTime(from, out var fromTime))
            {
                return BadParameter("from", from, "must be an ISO-8601 time with a date, e.g. 2026-01-31T12:00:00Z");
            }

            if (!TryParseTime(to, out var toTime))
            {
                return BadParameter("to", to, "must be an ISO-8601 time with a date, e.g. 2026-01-31T12:00:00Z");
            }

            if (fromTime is { } f && toTime is { } t && f >= t)
            {
                return BadParameter("to", to, $"must be later than from ({from})");
            }

            ResultPosition? before = null;
            if (cursor is not null)
            {
                if (ApiCursor.DecodeResult(cursor) is not { } position)
                {
                    return BadCursor(cursor);
                }

                before = position;
            }

            if (!catalog.Checks.Any(c => c.Name == name))
            {
                return UnknownCheck(name);
            }

            var reader = Snapshots(context).Reader;
            var reading = await reader.ReadResultsAsync(name, new ResultQuery(n, fromTime, toTime, before), context.RequestAborted).ConfigureAwait(false);
            context.Response.Headers[SourceHeader] = reader.HasCentral && reading.FallbackReason is null ? StatusReport.SourceCentral : StatusReport.SourceLocal;
            if (reading.Results.Count == n)
            {
                var last = reading.Results[^1];
                SetNextPage(context, ApiCursor.EncodeResult(new ResultPosition(last.StartedAt, last.Id)));
            }

            return TypedResults.Ok(reading.Results);
        });

        api.MapGet("/checks/{name}/results/{id}", Results<Ok<ResultView>, ProblemHttpResult> (string name, string id, HttpContext context, CheckCatalog catalog, SqliteOutbox outbox) =>
        {
            name = CheckName(context, name);
            if (!catalog.Checks.Any(c => c.Name == name))
            {
                return UnknownCheck(name);
            }

            if (!Guid.TryParse(id, out var resultId))
            {
                return BadParameter("id", id, "must be a result id (a UUID)");
            }

            return outbox.ReadResult(name, resultId) is { } result
                ? TypedResults.Ok(ResultView.From(result, outbox.AgentId))
                : Problem(StatusCodes.Status404NotFound, "unknown result", $"check \"{name}\" has no result {resultId} in this agent's outbox (yet: a run started with POST …/run is stored when it ends)");
        });

        api.MapGet("/incidents", Results<Ok<IReadOnlyList<IncidentView>>, ProblemHttpResult> (string? check, string? open, string? limit, string? cursor, HttpContext context, SqliteOutbox outbox) =>
        {
            if (ParseLimit(limit) is not { } n)
            {
                return BadParameter("limit", limit, $"must be an integer from 1 to {MaxResultsLimit}");
            }

            bool? openOnly = open switch
            {
                null => null,
                "true" => true,
                "false" => false,
                _ => null,
            };
            if (open is not null && openOnly is null)
            {
                return BadParameter("open", open, "must be true (open incidents only) or false (closed ones only); leave it out for both");
            }

            Guid? before = null;
            if (cursor is not null)
            {
                if (ApiCursor.DecodeId(ApiCursor.IncidentPrefix, cursor) is not { } id)
                {
                    return BadCursor(cursor);
                }

                before = id;
            }

            var incidents = outbox.ReadIncidents(check, openOnly, before, n);
            if (incidents.Count == n)
            {
                SetNextPage(context, ApiCursor.EncodeId(ApiCursor.IncidentPrefix, incidents[^1].Id));
            }

            return TypedResults.Ok<IReadOnlyList<IncidentView>>([.. incidents.Select(IncidentView.Of)]);
        });

        api.MapGet("/state-changes", Results<Ok<IReadOnlyList<StateChangeView>>, ProblemHttpResult> (string? check, string? since, string? limit, string? cursor, HttpContext context, SqliteOutbox outbox) =>
        {
            if (ParseLimit(limit) is not { } n)
            {
                return BadParameter("limit", limit, $"must be an integer from 1 to {MaxResultsLimit}");
            }

            if (!TryParseTime(since, out var sinceTime))
            {
                return BadParameter("since", since, "must be an ISO-8601 time with a date, e.g. 2026-01-31T12:00:00Z");
            }

            Guid? before = null;
            if (cursor is not null)
            {
                if (ApiCursor.DecodeId(ApiCursor.StateChangePrefix, cursor) is not { } id)
                {
                    return BadCursor(cursor);
                }

                before = id;
            }

            var changes = outbox.ReadStateChanges(check, sinceTime, before, n);
            if (changes.Count == n)
            {
                SetNextPage(context, ApiCursor.EncodeId(ApiCursor.StateChangePrefix, changes[^1].Id));
            }

            return TypedResults.Ok<IReadOnlyList<StateChangeView>>([.. changes.Select(StateChangeView.Of)]);
        });

        api.MapGet("/export", (HttpContext context, TocsinConfig config, SqliteOutbox outbox) =>
        {
            var time = context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System;
            var exporter = context.RequestServices.GetService<Exporter>();
            var status = exporter?.GetStatus() ?? Exporter.ReadStatus(outbox, time.GetUtcNow());
            return TypedResults.Ok(ExportStatusView.From(status, config.ExternalDatabaseUri, time.GetUtcNow()));
        });

        // Write endpoints: one group, so authorization is required of all of them at once (configureWrite, AuthSetup.WritePolicy).
        var write = api.MapGroup("").WithMetadata(new WriteEndpointAttribute());
        configureWrite?.Invoke(write);
        write.MapPost("/checks/{name}/run", Results<Accepted<RunAccepted>, ProblemHttpResult> (string name, HttpContext context, CheckCatalog catalog) =>
        {
            name = CheckName(context, name);
            var scheduler = context.RequestServices.GetService<Scheduler>();
            if (scheduler is null)
            {
                return Problem(StatusCodes.Status503ServiceUnavailable, "not running checks", "this process has no scheduler");
            }

            var outcome = scheduler.RunNow(name);
            switch (outcome.Status)
            {
                case RunNowStatus.Started:
                    string location = $"/api/v1/checks/{Uri.EscapeDataString(name)}/results/{outcome.ResultId}";
                    return TypedResults.Accepted(location, new RunAccepted(outcome.ResultId!.Value, name, location));
                case RunNowStatus.UnknownCheck:
                    return UnknownCheck(name);
                case RunNowStatus.AlreadyRunning:
                    return Problem(StatusCodes.Status409Conflict, "check is running", $"a run of \"{name}\" is going; checks never overlap themselves. Try again when it ends");
                case RunNowStatus.Disabled:
                    return Problem(StatusCodes.Status409Conflict, "check is disabled", catalog.Current.Find(name)?.DisabledReason ?? $"\"{name}\" has \"enabled\": false in the configuration");
                default:
                    return Problem(StatusCodes.Status503ServiceUnavailable, "agent is stopping", "the agent is stopping and starts no new run");
            }
        });

        AlertingEndpoints.Map(api, write);

        endpoints.MapGet("/healthz", (CheckCatalog catalog, ResultWriter writer) =>
            TypedResults.Ok(new { status = "ok", version = VersionInfo.Version, checks = catalog.Checks.Count, resultsQueued = writer.Queued, resultsWritten = writer.Written }));
        return endpoints;
    }

    /// <summary>
    /// Registers what the API needs beyond the engine: the shared <see cref="StatusSnapshots"/> and <see cref="AlertingState"/>, the OpenAPI document (served by <c>MapOpenApi()</c> at
    /// <c>/openapi/v1.json</c>) and problem details.
    /// </summary>
    public static IServiceCollection AddTocsinApi(this IServiceCollection services)
    {
        services.AddSingleton(sp => new StatusSnapshots(
            sp.GetRequiredService<CheckCatalog>(),
            sp.GetService<CheckStatusReader>() ?? new CheckStatusReader(sp.GetRequiredService<SqliteOutbox>(), null, NullLogger<CheckStatusReader>.Instance),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions));
        services.AddSingleton(AlertingState.Create);
        services.AddOpenApi();
        services.AddProblemDetails();
        return services;
    }

    /// <summary>Parses a <c>limit</c> parameter: null gives <see cref="DefaultLimit"/>; not an integer from 1 to <see cref="MaxResultsLimit"/> gives null.</summary>
    internal static int? ParseLimit(string? limit)
    {
        if (limit is null)
        {
            return DefaultLimit;
        }

        return int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= MaxResultsLimit ? n : null;
    }

    /// <summary>Parses an ISO-8601 time (a time without an offset is UTC); null stays null. False when not a time.</summary>
    internal static bool TryParseTime(string? text, out DateTimeOffset? time)
    {
        time = null;
        if (text is null)
        {
            return true;
        }

        if (text.Length >= 10 && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
        {
            time = t;
            return true;
        }

        return false;
    }

    internal static void SetNextPage(HttpContext context, string cursor)
    {
        context.Response.Headers[NextCursorHeader] = cursor;
        var query = context.Request.Query.Where(q => q.Key != "cursor").Select(q => KeyValuePair.Create(q.Key, q.Value.ToString()))
            .Append(KeyValuePair.Create("cursor", cursor));
        string path = context.Features.Get<IHttpRequestFeature>()?.RawTarget is { } raw && raw.IndexOf('?', StringComparison.Ordinal) is int q and >= 0
            ? raw[..q]
            : context.Request.Path.ToUriComponent();
        context.Response.Headers.Link = $"<{path}{QueryString.Create(query!)}>; rel=\"next\"";
    }

    internal static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);

    internal static ProblemHttpResult UnknownCheck(string name) =>
        Problem(StatusCodes.Status404NotFound, "unknown check", ProblemBody.UnknownCheck(name).Detail);

    internal static ProblemHttpResult BadParameter(string parameter, string? value, string allowed) =>
        TypedResults.Problem(
            detail: $"{parameter} = \"{value}\": {allowed}",
            statusCode: StatusCodes.Status400BadRequest,
            title: $"invalid {parameter}",
            extensions: new Dictionary<string, object?> { ["parameter"] = parameter });

    internal static ProblemHttpResult BadCursor(string cursor) =>
        BadParameter("cursor", cursor.Length > 100 ? cursor[..100] + "…" : cursor, "must be a cursor this endpoint returned (header " + NextCursorHeader + "), unchanged");

    /// <summary>The shared <see cref="StatusSnapshots"/> (registered by <see cref="AddTocsinApi"/>).</summary>
    internal static StatusSnapshots Snapshots(HttpContext context) => context.RequestServices.GetRequiredService<StatusSnapshots>();


    /// <summary>
    /// The check name of a <c>/api/v1/checks/{name}…</c> request (or of another <paramref name="prefix"/>, such as the
    /// dashboard's <c>/checks/</c>), fully percent-decoded. Kestrel decodes the
    /// path except <c>%2F</c>, so a route value holds an encoded slash as the text <c>%2F</c> (and an
    /// encoded <c>%2F</c>, <c>%252F</c>, the same way): names such as seed 004's <c>GET http://host/path</c>
    /// would never match. The segment is decoded once from the raw request target instead.
    /// </summary>
    internal static string CheckName(HttpContext context, string routeValue, string prefix = "/api/v1/checks/")
    {
        string? raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!routeValue.Contains('%', StringComparison.Ordinal) || raw is null)
        {
            return routeValue;
        }

        int query = raw.IndexOf('?', StringComparison.Ordinal);
        string path = query < 0 ? raw : raw[..query];
        int start = path.IndexOf(prefix, StringComparison.OrdinalIgnoreCase);
        if (start < 0)
        {
            return routeValue;
        }

        string segment = path[(start + prefix.Length)..];
        int end = segment.IndexOf('/', StringComparison.Ordinal);
        return Uri.UnescapeDataString(end < 0 ? segment : segment[..end]);
    }
}

/// <summary>An error answer: <c>{"title": "…", "detail": "…"}</c> (the fields of RFC 9457 problem details).</summary>
/// <param name="Title">Short summary.</param>
/// <param name="Detail">What was wrong and what is allowed.</param>
public sealed record ProblemBody(
    [property: System.Text.Json.Serialization.JsonPropertyName("title")] string Title,
    [property: System.Text.Json.Serialization.JsonPropertyName("detail")] string Detail)
{
    /// <summary>The answer for a check name that is not configured.</summary>
    public static ProblemBody UnknownCheck(string name) => new("unknown check", $"no check is named \"{name}\"");
}

/// <summary>The answer to <c>POST /api/v1/checks/{name}/run</c>: <c>{"id","check","location"}</c>.</summary>
/// <param name="Id">The id the result will have.</param>
/// <param name="Check">The check's name.</param>
/// <param name="Location">Where the result can be read once stored (also the <c>Location</c> header).</param>
public sealed record RunAccepted(
    [property: System.Text.Json.Serialization.JsonPropertyName("id")] Guid Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("check")] string Check,
    [property: System.Text.Json.Serialization.JsonPropertyName("location")] string Location);

/// <summary>Marks an endpoint that changes something (runs a check …): the ones that need write access when auth is configured.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class WriteEndpointAttribute : Attribute;
