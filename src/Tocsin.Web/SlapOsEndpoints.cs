using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Scheduling;
using Tocsin.Status;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>
/// SlapOS monitor compatibility (seed 003): <c>GET /monitor.haljson</c>, the index of every check, and
/// <c>GET /public/{name}.status.json</c>, one check's state in SlapOS' status file format. Both are rendered from the
/// configuration and the check states (the same source as <c>/api/v1/checks</c>), not read from files; only
/// <c>GET /public/{name}/…</c>, a promise's <c>public-path-list</c>, reads files (<see cref="PromiseFiles"/>).
/// </summary>
public static class SlapOsEndpoints
{
    /// <summary>Content type of <c>/monitor.haljson</c>.</summary>
    public const string HalJson = "application/hal+json";

    /// <summary>Suffix of status file names.</summary>
    public const string StatusSuffix = ".status.json";

    private const string PublicPrefix = "/public/";

    /// <summary>
    /// Maps <c>GET /monitor.haljson</c> (a <see cref="HalIndex"/>, <c>application/hal+json</c>) and
    /// <c>GET /public/{name}.status.json</c> (a <see cref="SlapOsStatus"/>). The name is the check's name
    /// percent-encoded as one path segment (as the index links it). 404 when no check has that name; 400 when the
    /// decoded name is not a configured check and holds <c>/</c>, <c>\</c>, <c>..</c> or a control character. A path of more
    /// segments, <c>/public/&lt;check&gt;/…</c>, is a file of the check's <c>public-path-list</c>, served by
    /// <see cref="PromiseFiles"/> (a single segment is always a status file, so those never shadow one). Needs <see cref="TocsinConfig"/> and
    /// <see cref="SqliteOutbox"/> in services (and uses the <see cref="CheckStatusReader"/> when registered).
    /// </summary>
    /// <param name="endpoints">Where to map.</param>
    /// <param name="configureWrite">Applied to <c>POST /cgi-bin/monitor-run-promise.cgi</c> (it runs a check), or null:
    /// <c>tocsin start</c> passes <c>write =&gt; write.RequireAuthorization(AuthSetup.WritePolicy)</c>.</param>
    /// <remarks>
    /// Also maps seed 003's rerun, <c>POST /cgi-bin/monitor-run-promise.cgi?service={name}</c>: runs the check now
    /// (<see cref="Scheduler.RunNow"/>) and answers 204, also when a run of it is already going (that run brings the
    /// fresh result, as seed 003 skipped a promise whose pid was alive); 400 when <c>service</c> is missing or, for a
    /// name no check has, holds <c>/</c>, <c>\</c>, <c>..</c> or a control character; 404 for another unknown name;
    /// 409 for a disabled check; 503 while the agent stops.
    /// </remarks>
    public static IEndpointRouteBuilder MapSlapOs(this IEndpointRouteBuilder endpoints, Action<IEndpointConventionBuilder>? configureWrite = null)
    {
        var rerun = endpoints.MapPost("/cgi-bin/monitor-run-promise.cgi", IResult (HttpContext context, CheckCatalog catalog) =>
        {
            string? name = context.Request.Query["service"];
            if (string.IsNullOrEmpty(name))
            {
                return TypedResults.BadRequest(new ProblemBody("service is required", "POST /cgi-bin/monitor-run-promise.cgi?service=<check name>"));
            }

            var check = catalog.Checks.FirstOrDefault(c => c.Name == name);
            if (check is null)
            {
                return IsSuspicious(name)
                    ? TypedResults.BadRequest(new ProblemBody("invalid check name", "a check name here cannot hold '/', '\\', '..' or control characters unless a check is named so"))
                    : TypedResults.NotFound(ProblemBody.UnknownCheck(name));
            }

            var scheduler = context.RequestServices.GetService<Scheduler>();
            return scheduler?.RunNow(name).Status switch
            {
                RunNowStatus.Started or RunNowStatus.AlreadyRunning => TypedResults.NoContent(),
                RunNowStatus.Disabled => TypedResults.Conflict(new ProblemBody("check is disabled", check.DisabledReason ?? $"\"{name}\" has \"enabled\": false in the configuration")),
                _ => TypedResults.Json(new ProblemBody("not running checks", "the agent is stopping or has no scheduler"), statusCode: StatusCodes.Status503ServiceUnavailable),
            };
        }).WithMetadata(new WriteEndpointAttribute());
        configureWrite?.Invoke(rerun);

        endpoints.MapGet("/monitor.haljson", (HttpContext context, TocsinConfig config, CheckCatalog catalog) =>
            TypedResults.Json(BuildIndex(config, catalog.Checks, context.Request.PathBase), contentType: HalJson));

        endpoints.MapGet("/public/{**path}", async Task<IResult> (HttpContext context, CheckCatalog catalog) =>
        {
            string segment = PromiseFiles.RawPathAfter(context, PublicPrefix);
            if (segment.Contains('/', StringComparison.Ordinal))
            {
                // /public/<check>/…: a path the check's promise lists in public-path-list.
                return PromiseFiles.Serve(context, catalog, isPrivate: false, segment);
            }

            if (!segment.EndsWith(StatusSuffix, StringComparison.Ordinal))
            {
                return TypedResults.NotFound(new ProblemBody("not found", "expected /public/<check name, percent-encoded>.status.json or /public/<check name>/<base name of a path in its public-path-list>/…"));
            }

            string name = Uri.UnescapeDataString(segment[..^StatusSuffix.Length]);
            var check = catalog.Checks.FirstOrDefault(c => c.Name == name);
            if (check is null)
            {
                return IsSuspicious(name)
                    ? TypedResults.BadRequest(new ProblemBody("invalid check name", "a check name here cannot hold '/', '\\', '..' or control characters unless a check is named so"))
                    : TypedResults.NotFound(ProblemBody.UnknownCheck(name));
            }

            var reading = await ApiEndpoints.Snapshots(context).ReadOneAsync(check, context.RequestAborted).ConfigureAwait(false);
            context.Response.Headers[ApiEndpoints.SourceHeader] = reading.Source;
            return TypedResults.Json(ToStatus(reading.Checks[0], check.Enabled));
        });
        return endpoints;
    }

    private static bool IsSuspicious(string name) =>
        name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal)
        || name.Contains("..", StringComparison.Ordinal) || name.Any(char.IsControl);

    /// <summary>
    /// The HAL index of <paramref name="checks"/> (the catalog's), links relative to the server root (<paramref name="pathBase"/>); a
    /// service's title is its promise's <c>.cfg</c> <c>title</c> when it has one, else its name.
    /// </summary>
    public static HalIndex BuildIndex(TocsinConfig config, IReadOnlyList<CheckDefinition> checks, PathString pathBase)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(checks);
        string root = pathBase.Value ?? "";
        var services = checks.Select(c =>
        {
            string escaped = Uri.EscapeDataString(c.Name);
            return new HalService(c.Name, c.Promise?.Title ?? c.Name, new HalServiceLinks(
                new HalLink($"{root}{PublicPrefix}{escaped}{StatusSuffix}"),
                new HalLink($"{root}/api/v1/checks/{escaped}")));
        }).ToList();
        return new HalIndex(
            config.WebTitle,
            new HalIndexLinks(new HalLink($"{root}/monitor.haljson"), [.. config.RelatedMonitors.Select(u => new HalLink(u.AbsoluteUri))]),
            new HalEmbedded(services));
    }

    /// <summary>
    /// Renders a check's state in SlapOS' status format. <c>status</c>: <c>OK</c> for Tocsin's OK; <c>ERROR</c> for
    /// WARNING, CRITICAL and UNKNOWN (what a SlapOS promise exiting 1, 2 or 3 gives), the message then starting
    /// with the state (<c>WARNING: …</c>); a check with no result yet (PENDING) is <c>ERROR</c> with
    /// <c>PENDING: no result yet</c> (it is not known to be OK), unless disabled (<c>OK</c>, <c>disabled</c>).
    /// </summary>
    public static SlapOsStatus ToStatus(CheckStatusView view, bool enabled)
    {
        ArgumentNullException.ThrowIfNull(view);
        string status;
        string message;
        if (view.State == StatusReport.Pending)
        {
            status = enabled ? "ERROR" : "OK";
            message = enabled ? "PENDING: no result yet" : "disabled";
        }
        else
        {
            status = view.State == "OK" ? "OK" : "ERROR";
            message = view.State == "OK" ? view.Message ?? "" : $"{view.State}: {view.Message}";
        }

        return new SlapOsStatus(
            status, message, view.Name, SlapOsDate(view.LastRun),
            view.LastChange is { } change ? change.ToUnixTimeMilliseconds() / 1000.0 : null,
            SlapOsDate(view.LastChange), view.State);
    }

    /// <summary><c>yyyy-MM-dd HH:mm:ss</c> in UTC, as SlapOS' promise runner writes dates; null stays null.</summary>
    public static string? SlapOsDate(DateTimeOffset? at) =>
        at?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}

/// <summary>
/// <c>/monitor.haljson</c>, after seed 003's <c>monitor.haljson</c>:
/// <c>{"title", "_links": {"self": {"href"}, "related_monitor": [{"href"}]}, "_embedded": {"service": [{"id", "title", "_links": {"status": {"href"}, "interface": {"href"}}}]}}</c>.
/// </summary>
/// <param name="Title">The monitor's title (<c>web.title</c>).</param>
/// <param name="Links">Self and related monitors (<c>web.relatedMonitors</c>).</param>
/// <param name="Embedded">One service per configured check, in configuration order.</param>
public sealed record HalIndex(
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("_links")] HalIndexLinks Links,
    [property: JsonPropertyName("_embedded")] HalEmbedded Embedded);

/// <summary>Links of <see cref="HalIndex"/>.</summary>
/// <param name="Self">This document.</param>
/// <param name="RelatedMonitor">Other monitors, absolute URLs.</param>
public sealed record HalIndexLinks(
    [property: JsonPropertyName("self")] HalLink Self,
    [property: JsonPropertyName("related_monitor")] IReadOnlyList<HalLink> RelatedMonitor);

/// <summary>Embedded resources of <see cref="HalIndex"/>.</summary>
/// <param name="Service">The checks.</param>
public sealed record HalEmbedded([property: JsonPropertyName("service")] IReadOnlyList<HalService> Service);

/// <summary>One check in <see cref="HalIndex"/>.</summary>
/// <param name="Id">The check's name.</param>
/// <param name="Title">The check's name (checks have no separate title yet).</param>
/// <param name="Links">Its status file and its interface (for now the check's JSON at <c>/api/v1/checks/{name}</c>).</param>
public sealed record HalService(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("_links")] HalServiceLinks Links);

/// <summary>Links of one <see cref="HalService"/>.</summary>
/// <param name="Status"><c>/public/{name}.status.json</c>, name percent-encoded.</param>
/// <param name="Interface">The check's page.</param>
public sealed record HalServiceLinks(
    [property: JsonPropertyName("status")] HalLink Status,
    [property: JsonPropertyName("interface")] HalLink Interface);

/// <summary>A HAL link; hrefs of Tocsin's own resources are relative to the server root (e.g. <c>/public/x.status.json</c>).</summary>
/// <param name="Href">The URL.</param>
public sealed record HalLink([property: JsonPropertyName("href")] string Href);

/// <summary>
/// A SlapOS status file (<c>public/&lt;name&gt;.status.json</c>, later versions of the seed 003 promise runner):
/// <c>{"status": "OK"|"ERROR", "message", "title", "start-date", "change-time", "change-date", "tocsin-state"}</c>.
/// See <see cref="SlapOsEndpoints.ToStatus"/> for the state mapping.
/// </summary>
/// <param name="Status"><c>OK</c> or <c>ERROR</c>.</param>
/// <param name="Message">The latest result's message (prefixed with the state when not OK).</param>
/// <param name="Title">The check's name.</param>
/// <param name="StartDate">Start of the latest run, <c>yyyy-MM-dd HH:mm:ss</c> UTC, or null.</param>
/// <param name="ChangeTime">When the current state began, Unix time in seconds, or null.</param>
/// <param name="ChangeDate">The same as <c>yyyy-MM-dd HH:mm:ss</c> UTC, or null.</param>
/// <param name="TocsinState">Tocsin's own state: OK, WARNING, CRITICAL, UNKNOWN or PENDING (an extra field SlapOS readers ignore).</param>
public sealed record SlapOsStatus(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("start-date")] string? StartDate,
    [property: JsonPropertyName("change-time")] double? ChangeTime,
    [property: JsonPropertyName("change-date")] string? ChangeDate,
    [property: JsonPropertyName("tocsin-state")] string TocsinState);
