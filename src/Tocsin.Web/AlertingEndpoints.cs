using System.Data.Common;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Status;

namespace Tocsin.Web;

/// <summary>
/// The alerting part of <c>/api/v1</c>, mapped by <see cref="ApiEndpoints.MapTocsinApi"/> (errors are RFC 9457 problem
/// details, as everywhere in the API):
/// <list type="bullet">
/// <item><c>GET /notifications?check=&amp;channel=&amp;status=pending|delivered|failed&amp;limit=&amp;cursor=</c>: array of
/// <see cref="NotificationView"/>, newest first (limit 1–1000, default 100; next page as for results).</item>
/// <item><c>GET /channels</c>: array of <see cref="ChannelView"/>: each configured channel with its delivery counts.</item>
/// <item><c>GET /alerts</c>: an <see cref="AlertsView"/>: the notifier's record of every check, and whether this agent leads.</item>
/// <item><c>GET /silences?check=</c>: array of <see cref="SilenceView"/>, the active silences; <c>GET /silences/{id}</c>: one (404 when not active).</item>
/// <item>Write endpoints (the write group: credentials when <c>web.auth</c> is set, and no cross-origin posts):
/// <c>POST /checks/{name}/acknowledge</c> with an optional JSON body <c>{"comment": "…"}</c>: 202 with an
/// <see cref="AcknowledgeAccepted"/>, 404 unknown check, 409 when the check is OK or its problem is acknowledged already;
/// <c>POST /checks/{name}/silence</c> with <c>{"for": "30m", "comment": "…"}</c> (1m–30d): 201 with a <see cref="SilenceView"/>
/// and a <c>Location</c>; <c>DELETE /silences/{id}</c>: 204, or 404 when no active silence has that id.</item>
/// </list>
/// Acknowledgements and silences are stored in the alert store and applied by the leader's notifier on its next pass
/// (about a second); this agent's notifier is woken at once. The author is the authenticated user's or token's name, else
/// <c>api</c>. A store that cannot be read or written (the central database down) answers 503.
/// </summary>
public static class AlertingEndpoints
{
    /// <summary>Longest request body of the write endpoints, in bytes.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The author recorded for an acknowledgement or silence asked anonymously through the API.</summary>
    public const string AnonymousAuthor = "api";

    /// <summary>Values of the <c>status</c> filter of <c>GET /notifications</c>.</summary>
    public static readonly IReadOnlyList<string> StatusFilters = ["pending", "delivered", "failed"];

    internal static void Map(RouteGroupBuilder api, RouteGroupBuilder write)
    {
        api.MapGet("/notifications", async Task<Results<Ok<IReadOnlyList<NotificationView>>, ProblemHttpResult>> (
            string? check, string? channel, string? status, string? limit, string? cursor, HttpContext context) =>
        {
            if (ApiEndpoints.ParseLimit(limit) is not { } n)
            {
                return ApiEndpoints.BadParameter("limit", limit, $"must be an integer from 1 to {ApiEndpoints.MaxResultsLimit}");
            }

            if (ParseStatus(status, out var statusFilter) is { } bad)
            {
                return bad;
            }

            long? before = null;
            if (cursor is not null)
            {
                if (ApiCursor.DecodeSeq(ApiCursor.NotificationPrefix, cursor) is not { } seq)
                {
                    return ApiEndpoints.BadCursor(cursor);
                }

                before = seq;
            }

            try
            {
                var rows = await State(context).Store.ReadNotificationsAsync(
                    new NotificationQuery(NullIfEmpty(check), NullIfEmpty(channel), statusFilter, before, n), context.RequestAborted).ConfigureAwait(false);
                if (rows.Count == n)
                {
                    SetNextPage(context, ApiCursor.EncodeSeq(ApiCursor.NotificationPrefix, rows[^1].Seq));
                }

                return TypedResults.Ok<IReadOnlyList<NotificationView>>([.. rows.Select(NotificationView.Of)]);
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }
        });

        api.MapGet("/channels", async Task<Results<Ok<IReadOnlyList<ChannelView>>, ProblemHttpResult>> (HttpContext context, TocsinConfig config) =>
        {
            try
            {
                var stats = await State(context).Store.ReadChannelStatsAsync(context.RequestAborted).ConfigureAwait(false);
                return TypedResults.Ok(ChannelView.Of(config.Notifications, stats, Describe(context)));
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }
        });

        api.MapGet("/alerts", async Task<Results<Ok<AlertsView>, ProblemHttpResult>> (HttpContext context) =>
        {
            var state = State(context);
            try
            {
                var snapshot = await state.GetAsync(context.RequestAborted).ConfigureAwait(false);
                return TypedResults.Ok(View(snapshot, state));
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }
        });

        api.MapGet("/silences", async Task<Results<Ok<IReadOnlyList<SilenceView>>, ProblemHttpResult>> (string? check, HttpContext context) =>
        {
            try
            {
                var silences = await ActiveSilencesAsync(context).ConfigureAwait(false);
                return TypedResults.Ok<IReadOnlyList<SilenceView>>(
                    [.. silences.Where(s => string.IsNullOrEmpty(check) || s.CheckName == check).Select(SilenceView.Of)]);
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }
        });

        api.MapGet("/silences/{id}", async Task<Results<Ok<SilenceView>, ProblemHttpResult>> (string id, HttpContext context) =>
        {
            if (!Guid.TryParse(id, out var silenceId))
            {
                return ApiEndpoints.BadParameter("id", id, "must be a silence id (a UUID), as POST …/silence or GET /api/v1/silences gives it");
            }

            try
            {
                var silences = await ActiveSilencesAsync(context).ConfigureAwait(false);
                return silences.FirstOrDefault(s => s.Id == silenceId) is { } found
                    ? TypedResults.Ok(SilenceView.Of(found))
                    : NoSuchSilence(silenceId);
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }
        });

        write.MapPost("/checks/{name}/acknowledge", async Task<Results<Accepted<AcknowledgeAccepted>, ProblemHttpResult>> (string name, HttpContext context, CheckCatalog catalog) =>
        {
            name = ApiEndpoints.CheckName(context, name);
            var check = catalog.Current.Find(name);
            if (check is null)
            {
                return ApiEndpoints.UnknownCheck(name);
            }

            var (body, error) = await ReadBodyAsync(context, ["comment"]).ConfigureAwait(false);
            if (error is not null)
            {
                return error;
            }

            if (Comment(body, out string? comment) is { } badComment)
            {
                return badComment;
            }

            var state = State(context);
            try
            {
                var reading = await ApiEndpoints.Snapshots(context).ReadOneAsync(check, context.RequestAborted).ConfigureAwait(false);
                CheckState? tracked = Enum.TryParse<CheckState>(reading.Checks[0].HardState, out var hard) ? hard : null;
                var snapshot = await state.GetAsync(context.RequestAborted).ConfigureAwait(false);
                var record = snapshot.Records.GetValueOrDefault(name);
                if (AlertCommands.AcknowledgeRefusal(name, record, tracked) is { } refusal)
                {
                    return ApiEndpoints.Problem(StatusCodes.Status409Conflict, "nothing to acknowledge", refusal);
                }

                var command = AlertCommands.Acknowledge(
                    name, record is { Hard: not CheckState.OK } ? record.IncidentId : null, Author(context), comment, Time(context).GetUtcNow());
                await state.AddCommandAsync(command, context.RequestAborted).ConfigureAwait(false);
                return TypedResults.Accepted("/api/v1/alerts", AcknowledgeAccepted.Of(command));
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }
        });

        write.MapPost("/checks/{name}/silence", async Task<Results<Created<SilenceView>, ProblemHttpResult>> (string name, HttpContext context, CheckCatalog catalog) =>
        {
            name = ApiEndpoints.CheckName(context, name);
            if (catalog.Current.Find(name) is null)
            {
                return ApiEndpoints.UnknownCheck(name);
            }

            var (body, error) = await ReadBodyAsync(context, ["for", "comment"]).ConfigureAwait(false);
            if (error is not null)
            {
                return error;
            }

            string? length = null;
            if (body is { } b && b.TryGetProperty("for", out var f))
            {
                if (f.ValueKind != JsonValueKind.String)
                {
                    return BadField("for", $"must be a string: {AlertCommands.SilenceAllowed}");
                }

                length = f.GetString();
            }

            if (AlertCommands.CheckSilenceLength(length, out var duration) is { } badLength)
            {
                return BadField("for", badLength);
            }

            if (Comment(body, out string? comment) is { } badComment)
            {
                return badComment;
            }

            var command = AlertCommands.Silence(name, duration, Author(context), comment, Time(context).GetUtcNow());
            try
            {
                await State(context).AddCommandAsync(command, context.RequestAborted).ConfigureAwait(false);
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }

            return TypedResults.Created($"/api/v1/silences/{command.Id:D}", SilenceView.Of(command));
        });

        write.MapDelete("/silences/{id}", async Task<Results<NoContent, ProblemHttpResult>> (string id, HttpContext context) =>
        {
            if (!Guid.TryParse(id, out var silenceId))
            {
                return ApiEndpoints.BadParameter("id", id, "must be a silence id (a UUID), as POST …/silence or GET /api/v1/silences gives it");
            }

            try
            {
                return await State(context).EndSilenceAsync(silenceId, context.RequestAborted).ConfigureAwait(false)
                    ? TypedResults.NoContent()
                    : NoSuchSilence(silenceId);
            }
            catch (DbException ex)
            {
                return StoreUnavailable(ex);
            }
        });
    }

    /// <summary>The <see cref="AlertsView"/> of <paramref name="snapshot"/>.</summary>
    internal static AlertsView View(AlertingSnapshot snapshot, AlertingState state)
    {
        bool leader = state.IsLeader;
        string? note = leader
            ? null
            : state.Notifier is null
                ? "this process runs no notifier: these are the records last saved in the alert store"
                : "this agent is not the leader: these are the records the leader's notifier last saved in the central database";
        return new AlertsView(
            leader,
            note,
            [.. snapshot.Records.Values.OrderBy(r => r.CheckName, StringComparer.Ordinal).Select(r => AlertView.Of(r, snapshot.Silences.GetValueOrDefault(r.CheckName)))]);
    }

    /// <summary>A description of each configured channel by its type's <see cref="INotificationChannelType.Describe"/>, or null
    /// when the type is not known to this build or cannot describe it.</summary>
    internal static Func<NotificationChannelDefinition, string?> Describe(HttpContext context)
    {
        var types = context.RequestServices.GetService<NotificationChannelTypeRegistry>() ?? NotificationChannelTypes.CreateDefault();
        return d =>
        {
            if (!types.TryGet(d.Type, out var type))
            {
                return null;
            }

            try
            {
                return type.Describe(d.Options);
            }
            catch (Exception ex) when (ex is InvalidCastException or ArgumentException or InvalidOperationException or NotImplementedException)
            {
                return null;
            }
        };
    }

    /// <summary>Who asks: the authenticated user's or token's name, else <see cref="AnonymousAuthor"/>.</summary>
    internal static string Author(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name : AnonymousAuthor;

    internal static AlertingState State(HttpContext context) => context.RequestServices.GetRequiredService<AlertingState>();

    internal static ProblemHttpResult StoreUnavailable(DbException ex) =>
        ApiEndpoints.Problem(StatusCodes.Status503ServiceUnavailable, "alert store unavailable", "the alert store cannot be read or written now: " + Secrets.RedactConnectionString(ex.Message));

    private static async Task<IReadOnlyList<Silence>> ActiveSilencesAsync(HttpContext context) =>
        await State(context).Store.ReadSilencesAsync(Time(context).GetUtcNow(), context.RequestAborted).ConfigureAwait(false);

    private static ProblemHttpResult NoSuchSilence(Guid id) =>
        ApiEndpoints.Problem(StatusCodes.Status404NotFound, "unknown silence", $"no active silence has the id {id:D} (it may have ended); GET /api/v1/silences lists the active ones");

    private static ProblemHttpResult? ParseStatus(string? status, out DeliveryStatus? filter)
    {
        filter = status switch
        {
            null or "" => null,
            "pending" => DeliveryStatus.Pending,
            "delivered" => DeliveryStatus.Delivered,
            "failed" => DeliveryStatus.Failed,
            _ => null,
        };
        return status is { Length: > 0 } && filter is null
            ? ApiEndpoints.BadParameter("status", status, $"must be one of {string.Join(", ", StatusFilters)}; leave it out for every status")
            : null;
    }

    private static ProblemHttpResult BadField(string field, string reason) =>
        TypedResults.Problem(
            detail: $"{field}: {reason}",
            statusCode: StatusCodes.Status400BadRequest,
            title: $"invalid {field}",
            extensions: new Dictionary<string, object?> { ["parameter"] = field });

    private static ProblemHttpResult? Comment(JsonElement? body, out string? comment)
    {
        comment = null;
        if (body is not { } b || !b.TryGetProperty("comment", out var c) || c.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (c.ValueKind != JsonValueKind.String)
        {
            return BadField("comment", $"must be a string of at most {AlertCommands.MaxCommentLength} characters, or null");
        }

        comment = c.GetString();
        return AlertCommands.CheckComment(comment) is { } reason ? BadField("comment", reason) : null;
    }

    /// <summary>
    /// Reads an optional JSON object body (an empty body is null) with only <paramref name="allowed"/> fields; a body that is
    /// too large, not JSON, not an object or with another field is refused with a problem naming what was wrong.
    /// </summary>
    private static async Task<(JsonElement? Body, ProblemHttpResult? Error)> ReadBodyAsync(HttpContext context, string[] allowed)
    {
        string fields = string.Join(", ", allowed.Select(a => "\"" + a + "\""));
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return (null, ApiEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, "body too large", $"the body may hold at most {MaxBodyBytes} bytes: a JSON object with {fields}"));
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return (null, ApiEndpoints.Problem(StatusCodes.Status413PayloadTooLarge, "body too large", $"the body may hold at most {MaxBodyBytes} bytes: a JSON object with {fields}"));
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0 || buffer.ToArray().All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
        {
            return (null, null);
        }

        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(buffer.ToArray());
            root = doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return (null, BadField("body", $"not JSON ({ex.Message}); send a JSON object with {fields}, e.g. {Example(allowed)}"));
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, BadField("body", $"must be a JSON object with {fields}, e.g. {Example(allowed)}"));
        }

        foreach (var p in root.EnumerateObject())
        {
            if (!allowed.Contains(p.Name, StringComparer.Ordinal))
            {
                return (null, BadField(p.Name, $"unknown field; allowed: {fields}"));
            }
        }

        return (root, null);
    }

    private static string Example(string[] allowed) =>
        "{" + string.Join(", ", allowed.Select(a => a == "for" ? "\"for\": \"30m\"" : $"\"{a}\": \"…\"")) + "}";

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static void SetNextPage(HttpContext context, string cursor) => ApiEndpoints.SetNextPage(context, cursor);

    private static TimeProvider Time(HttpContext context) => context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System;
}
