using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Configuration;
using Tocsin.Export;
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

    /// <summary>
    /// Maps <c>GET /api/v1/checks</c> (array of <see cref="CheckStatusView"/>),
    /// <c>GET /api/v1/checks/{name}</c>, <c>GET /api/v1/checks/{name}/results?limit=N</c>
    /// (newest first, 1 ≤ N ≤ 1000, default 100; array of <see cref="ResultView"/>), <c>GET /api/v1/export</c>
    /// (an <see cref="ExportStatusView"/>, live from the <see cref="Exporter"/> when one is registered) and <c>GET /healthz</c>.
    /// Check states and results come from the <see cref="CheckStatusReader"/> in services (the central database
    /// when configured, with the local outbox as fallback; <see cref="SourceHeader"/> says which), else from the outbox.
    /// Needs <see cref="TocsinConfig"/>, <see cref="SqliteOutbox"/> and <see cref="ResultWriter"/> in services.
    /// </summary>
    public static IEndpointRouteBuilder MapTocsinApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1");
        api.MapGet("/checks", async (HttpContext context, TocsinConfig config, SqliteOutbox outbox) =>
        {
            var reading = await StatusReader(context, outbox).ReadChecksAsync(config.Checks, context.RequestAborted).ConfigureAwait(false);
            context.Response.Headers[SourceHeader] = reading.Source;
            return TypedResults.Ok(reading.Checks);
        });

        api.MapGet("/checks/{name}", async Task<Results<Ok<CheckStatusView>, NotFound<ProblemBody>>> (string name, HttpContext context, TocsinConfig config, SqliteOutbox outbox) =>
        {
            name = CheckName(context, name);
            var check = config.Checks.FirstOrDefault(c => c.Name == name);
            if (check is null)
            {
                return TypedResults.NotFound(ProblemBody.UnknownCheck(name));
            }

            var reading = await StatusReader(context, outbox).ReadChecksAsync([check], context.RequestAborted).ConfigureAwait(false);
            context.Response.Headers[SourceHeader] = reading.Source;
            return TypedResults.Ok(reading.Checks[0]);
        });

        api.MapGet("/checks/{name}/results", async Task<Results<Ok<IReadOnlyList<ResultView>>, NotFound<ProblemBody>, BadRequest<ProblemBody>>> (
            string name, string? limit, HttpContext context, TocsinConfig config, SqliteOutbox outbox) =>
        {
            name = CheckName(context, name);
            int n = 100;
            if (limit is not null && (!int.TryParse(limit, out n) || n < 1 || n > MaxResultsLimit))
            {
                return TypedResults.BadRequest(new ProblemBody("invalid limit", $"limit = \"{limit}\": must be an integer from 1 to {MaxResultsLimit}"));
            }

            if (!config.Checks.Any(c => c.Name == name))
            {
                return TypedResults.NotFound(ProblemBody.UnknownCheck(name));
            }

            var reader = StatusReader(context, outbox);
            var reading = await reader.ReadResultsAsync(name, n, context.RequestAborted).ConfigureAwait(false);
            context.Response.Headers[SourceHeader] = reader.HasCentral && reading.FallbackReason is null ? StatusReport.SourceCentral : StatusReport.SourceLocal;
            return TypedResults.Ok(reading.Results);
        });

        api.MapGet("/export", (HttpContext context, TocsinConfig config, SqliteOutbox outbox) =>
        {
            var time = context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System;
            var exporter = context.RequestServices.GetService<Exporter>();
            var status = exporter?.GetStatus() ?? Exporter.ReadStatus(outbox, time.GetUtcNow());
            return TypedResults.Ok(ExportStatusView.From(status, config.ExternalDatabaseUri, time.GetUtcNow()));
        });

        endpoints.MapGet("/healthz", (TocsinConfig config, ResultWriter writer) =>
            TypedResults.Ok(new { status = "ok", version = VersionInfo.Version, checks = config.Checks.Count, resultsQueued = writer.Queued, resultsWritten = writer.Written }));
        return endpoints;
    }

    private static CheckStatusReader StatusReader(HttpContext context, SqliteOutbox outbox) =>
        context.RequestServices.GetService<CheckStatusReader>() ?? new CheckStatusReader(outbox, null, NullLogger<CheckStatusReader>.Instance);

    /// <summary>
    /// The check name of a <c>/api/v1/checks/{name}…</c> request, fully percent-decoded. Kestrel decodes the
    /// path except <c>%2F</c>, so a route value holds an encoded slash as the text <c>%2F</c> (and an
    /// encoded <c>%2F</c>, <c>%252F</c>, the same way): names such as seed 004's <c>GET http://host/path</c>
    /// would never match. The segment is decoded once from the raw request target instead.
    /// </summary>
    internal static string CheckName(HttpContext context, string routeValue)
    {
        const string Prefix = "/api/v1/checks/";
        string? raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!routeValue.Contains('%', StringComparison.Ordinal) || raw is null)
        {
            return routeValue;
        }

        int query = raw.IndexOf('?', StringComparison.Ordinal);
        string path = query < 0 ? raw : raw[..query];
        int start = path.IndexOf(Prefix, StringComparison.OrdinalIgnoreCase);
        if (start < 0)
        {
            return routeValue;
        }

        string segment = path[(start + Prefix.Length)..];
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
