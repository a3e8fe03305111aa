using System.Data.Common;
using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Ingestion;
using Tocsin.Scheduling;
using Tocsin.Status;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web.Dashboard;

/// <summary>
/// The dashboard: server-rendered HTML pages (Razor components rendered per request, usable without JavaScript; a small
/// script refreshes the content every <see cref="RefreshSeconds"/> s while the tab is visible).
/// <list type="bullet">
/// <item><c>GET /</c>: every check grouped by its first tag, with state, latest result, uptime 24 h/7 d/30 d and a
/// response-time sparkline; filters <c>?q=&amp;state=&amp;tag=</c>, <see cref="PageSize"/> checks a page (<c>&amp;page=</c>).</item>
/// <item><c>GET /checks/{name}</c>: one check: state, a response-time chart (p50/p95 per bucket, <c>?range=1h|6h|24h|7d</c>),
/// recent results, incidents, its definition (secrets hidden) and a run-now button (<c>POST /checks/{name}/run</c>, a form
/// post, behind the write policy when <c>web.auth</c> is set; answers 303 to the check's page
/// with <c>?ran={result id}</c>; a post from another site's page is refused with 403, see <see cref="CrossOriginProtection"/>).
/// The check's page also has an alerting section: the channels it notifies, why its notifications are held, who
/// acknowledged its problem, its recent notifications (<c>table#notifications</c>), an acknowledge form
/// (<c>form#acknowledge</c>, <c>POST /checks/{name}/acknowledge</c> with an optional <c>comment</c>, shown while the check is
/// not OK and not acknowledged) and a silence form (<c>form#silence</c>, <c>POST /checks/{name}/silence</c> with
/// <c>for</c> = 15m, 1h, 4h or 1d and an optional <c>comment</c>; <c>form#end-silence</c>, <c>POST /checks/{name}/silence/end</c>
/// with the silence's <c>id</c>, ends it). They answer 303 to the check's page and have the same protections as run-now.</item>
/// <item><c>GET /incidents</c>: incidents, newest first; <c>?open=true|false&amp;check=&amp;before=</c>.</item>
/// <item><c>GET /notifications</c>: stored notifications, newest first (<c>table#notifications</c>), with filters
/// <c>?check=&amp;channel=&amp;status=pending|delivered|failed&amp;before=</c>, and each channel's delivery counts (<c>table#channels</c>).</item>
/// <item><c>GET /logs</c>: the logs or notifications agents uploaded (<c>/ws</c>, seed 002), one identity at a time, newest
/// first (<c>table#rows</c>), <see cref="LogsPageView.PageSize"/> a page; filters <c>?identity=&amp;kind=logs|notifications&amp;window=
/// 5m|15m|1h|6h|24h|7d|30d&amp;sender=&amp;level=&amp;q=&amp;before=</c>; <c>&amp;follow=1</c> refreshes the content every
/// <see cref="LogsPageView.FollowSeconds"/> s (a live tail). Needs an <see cref="Tocsin.Ingestion.IIngestionStore"/> in services.</item>
/// <item><c>GET /status</c>: the public status page: only checks with <c>"public": true</c>, their state, 30-day uptime and
/// one bar per day; no messages, targets or definitions.</item>
/// </list>
/// A bad query parameter answers 400 with a page naming the parameter and what is allowed; an unknown check 404.
/// States come from the <see cref="CheckStatusReader"/> (central database when configured, else this agent's outbox);
/// charts, sparklines, incidents and daily bars from this agent's outbox.
/// </summary>
public static class DashboardEndpoints
{
    /// <summary>Checks per overview page.</summary>
    public const int PageSize = 100;

    /// <summary>Runs per sparkline.</summary>
    public const int SparklineRuns = 30;

    /// <summary>Buckets of the check page's chart.</summary>
    public const int ChartBuckets = 60;

    /// <summary>Results listed on a check's page.</summary>
    public const int RecentResults = 20;

    /// <summary>Incidents per page of the incidents page (and on a check's page).</summary>
    public const int IncidentsPageSize = 50;

    /// <summary>Notifications per page of the notifications page.</summary>
    public const int NotificationsPageSize = 50;

    /// <summary>Notifications listed on a check's page.</summary>
    public const int RecentNotifications = 10;

    /// <summary>The silence lengths the check page offers.</summary>
    public static readonly IReadOnlyList<string> SilenceChoices = ["15m", "1h", "4h", "1d"];

    /// <summary>The author recorded for an acknowledgement or silence asked anonymously from the dashboard.</summary>
    public const string AnonymousAuthor = "dashboard";

    /// <summary>Seconds between the script's refreshes of a page's content.</summary>
    public const int RefreshSeconds = 10;

    /// <summary>The group of checks without tags (also its <c>tag</c> filter value).</summary>
    public const string Untagged = "untagged";

    /// <summary>Values of the overview's <c>state</c> filter.</summary>
    public static readonly IReadOnlyList<string> StateFilters = ["problems", "OK", "WARNING", "CRITICAL", "UNKNOWN", "PENDING"];

    private static readonly string[] SeverityOrder = ["CRITICAL", "UNKNOWN", "WARNING", "OK", "PENDING"];

    /// <summary>Registers what the pages need: Razor component rendering.</summary>
    public static IServiceCollection AddTocsinDashboard(this IServiceCollection services)
    {
        services.AddRazorComponents();
        return services;
    }

    /// <summary>
    /// Maps the pages (see the class remarks) and their assets (<c>/assets/tocsin.css</c>, <c>/assets/tocsin.js</c>).
    /// <paramref name="configureWrite"/> is applied to the form posts (<c>POST /checks/{name}/run</c>, <c>…/acknowledge</c>,
    /// <c>…/silence</c>, <c>…/silence/end</c>; <c>tocsin start</c> requires the write policy there). Needs the <see cref="CheckCatalog"/> and <see cref="SqliteOutbox"/> in services, the <see cref="Scheduler"/> for run-now.
    /// </summary>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints, Action<IEndpointConventionBuilder>? configureWrite = null)
    {
        var pages = endpoints.MapGroup("").ExcludeFromDescription().AddEndpointFilter(async (context, next) =>
        {
            SetPageHeaders(context.HttpContext.Response.Headers);
            return await next(context).ConfigureAwait(false);
        });
        pages.MapGet("/", OverviewAsync);
        pages.MapGet("/checks/{name}", CheckAsync);
        var run = pages.MapPost("/checks/{name}/run", RunNow);
        configureWrite?.Invoke(run);
        var acknowledge = pages.MapPost("/checks/{name}/acknowledge", AcknowledgeAsync);
        configureWrite?.Invoke(acknowledge);
        var silence = pages.MapPost("/checks/{name}/silence", SilenceAsync);
        configureWrite?.Invoke(silence);
        var endSilence = pages.MapPost("/checks/{name}/silence/end", EndSilenceAsync);
        configureWrite?.Invoke(endSilence);
        pages.MapGet("/incidents", Incidents);
        pages.MapGet("/notifications", NotificationsAsync);
        pages.MapGet("/logs", LogsAsync);
        pages.MapGet("/status", StatusPage);
        pages.MapGet("/assets/{file}", Asset);
        return endpoints;
    }

    /// <summary>
    /// The Content-Security-Policy of the pages: only this server's own stylesheet, script and forms, no framing
    /// (the pages carry no inline script or style), plus <c>nosniff</c> and a same-origin referrer.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    private static void SetPageHeaders(IHeaderDictionary headers)
    {
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "same-origin";
    }

    private static async Task<IResult> OverviewAsync(HttpContext context, SqliteOutbox outbox, string? q, string? state, string? tag, string? page)
    {
        var time = Time(context);
        if (state is { Length: > 0 } && !StateFilters.Contains(state, StringComparer.OrdinalIgnoreCase))
        {
            return BadParameter("state", state, $"one of {string.Join(", ", StateFilters)}, or empty for every state");
        }

        int pageNumber = 1;
        if (page is { Length: > 0 } && (!int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out pageNumber) || pageNumber < 1))
        {
            return BadParameter("page", page, "a page number from 1");
        }

        var filter = new OverviewFilter(
            string.IsNullOrWhiteSpace(q) ? null : q.Trim(),
            string.IsNullOrEmpty(state) ? null : StateFilters.First(s => s.Equals(state, StringComparison.OrdinalIgnoreCase)),
            string.IsNullOrEmpty(tag) ? null : tag,
            pageNumber);
        var snapshot = await ApiEndpoints.Snapshots(context).GetAsync(context.RequestAborted).ConfigureAwait(false);

        // Per snapshot (about a second), not per request: every check in display order, the counts and the tags.
        var index = snapshot.Memo("overview", OverviewIndex.Build);
        IReadOnlyList<(CheckDefinition Check, CheckStatusView Status)> ordered = filter.Any ? [.. index.Ordered.Where(m => Matches(filter, m.Check, m.Status))] : index.Ordered;
        int pages = Math.Max(1, (ordered.Count + PageSize - 1) / PageSize);
        filter = filter with { Page = Math.Min(filter.Page, pages) };
        var shown = ordered.Skip((filter.Page - 1) * PageSize).Take(PageSize).ToList();
        var recent = RecentRuns(snapshot, outbox, shown.Select(s => s.Check.Name));
        var alerting = await AlertingOrNullAsync(context).ConfigureAwait(false);
        var groups = shown
            .GroupBy(s => GroupOf(s.Check), StringComparer.Ordinal)
            .Select(g => new CheckGroup(g.Key, [.. g.Select(s => new CheckRow(s.Check, s.Status, recent.GetValueOrDefault(s.Check.Name) ?? []) { Alert = Mark(alerting, s.Check.Name) })]))
            .ToList();
        var model = new OverviewModel(
            groups,
            index.Counts,
            filter,
            index.Tags,
            snapshot.Catalog.Checks.Count,
            ordered.Count,
            pages,
            new SourceNote(snapshot.Reading.Source, snapshot.Reading.FallbackReason),
            time.GetUtcNow());
        return Page<OverviewPage>(model);
    }

    /// <summary>The alert records and silences, or null when the alert store cannot be read now (the pages then show no marks).</summary>
    private static async Task<AlertingSnapshot?> AlertingOrNullAsync(HttpContext context)
    {
        try
        {
            return await Alerting(context).GetAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (DbException)
        {
            return null;
        }
    }

    private static AlertMark? Mark(AlertingSnapshot? alerting, string check)
    {
        if (alerting is null)
        {
            return null;
        }

        var record = alerting.Records.GetValueOrDefault(check);
        string? by = record is { Hard: not CheckState.OK, AcknowledgedAt: not null } ? record.AcknowledgedBy ?? "" : null;
        var until = alerting.Silences.GetValueOrDefault(check)?.EndsAt;
        return by is null && until is null ? null : new AlertMark(by, until);
    }

    private static AlertingState Alerting(HttpContext context) =>
        context.RequestServices.GetService<AlertingState>() ?? AlertingState.Create(context.RequestServices);

    private static string GroupOf(CheckDefinition check) => check.Tags.Count == 0 ? Untagged : check.Tags[0];

    /// <summary>The overview's per-snapshot work: every check in display order (by group, untagged last, then configuration order), counts per state, tags.</summary>
    private sealed record OverviewIndex(
        IReadOnlyList<(CheckDefinition Check, CheckStatusView Status)> Ordered,
        IReadOnlyList<KeyValuePair<string, int>> Counts,
        IReadOnlyList<string> Tags)
    {
        public static OverviewIndex Build(StatusSnapshot snapshot)
        {
            var checks = snapshot.Catalog.Checks;
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            var all = new List<(CheckDefinition Check, CheckStatusView Status)>(checks.Count);
            for (int i = 0; i < checks.Count; i++)
            {
                var status = snapshot.Reading.Checks[i];
                counts[status.State] = counts.GetValueOrDefault(status.State) + 1;
                all.Add((checks[i], status));
            }

            var ordered = all
                .OrderBy(m => m.Check.Tags.Count == 0 ? 1 : 0)
                .ThenBy(m => GroupOf(m.Check), StringComparer.OrdinalIgnoreCase)
                .ThenBy(m => m.Check.Index)
                .ToList();
            return new OverviewIndex(
                ordered,
                [.. SeverityOrder.Where(counts.ContainsKey).Select(s => new KeyValuePair<string, int>(s, counts[s]))],
                [.. checks.SelectMany(c => c.Tags).Distinct(StringComparer.Ordinal).Order(StringComparer.OrdinalIgnoreCase)]);
        }
    }

    /// <summary>The sparkline points of <paramref name="names"/>, read from the outbox at most once per snapshot and check.</summary>
    private static Dictionary<string, IReadOnlyList<DurationPoint>> RecentRuns(StatusSnapshot snapshot, SqliteOutbox outbox, IEnumerable<string> names)
    {
        var cache = snapshot.Memo("sparklines", _ => new System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<DurationPoint>>(StringComparer.Ordinal));
        var answer = new Dictionary<string, IReadOnlyList<DurationPoint>>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (string name in names)
        {
            if (cache.TryGetValue(name, out var points))
            {
                answer[name] = points;
            }
            else
            {
                missing.Add(name);
            }
        }

        if (missing.Count > 0)
        {
            var read = outbox.ReadRecentDurations(missing, SparklineRuns);
            foreach (string name in missing)
            {
                var points = read.GetValueOrDefault(name) ?? [];
                cache[name] = points;
                answer[name] = points;
            }
        }

        return answer;
    }

    private static bool Matches(OverviewFilter filter, CheckDefinition check, CheckStatusView status)
    {
        if (filter.State is { } s)
        {
            bool ok = s == "problems" ? status.State is not ("OK" or "PENDING") : status.State == s;
            if (!ok)
            {
                return false;
            }
        }

        if (filter.Tag is { } t && !(t == Untagged ? check.Tags.Count == 0 : check.Tags.Contains(t, StringComparer.Ordinal)))
        {
            return false;
        }

        if (filter.Text is { } text)
        {
            return check.Name.Contains(text, StringComparison.OrdinalIgnoreCase)
                || check.Kind.Contains(text, StringComparison.OrdinalIgnoreCase)
                || check.Tags.Any(x => x.Contains(text, StringComparison.OrdinalIgnoreCase))
                || (status.Message?.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false);
        }

        return true;
    }

    private static async Task<IResult> CheckAsync(
        HttpContext context, string name, string? range, string? ran, string? error, string? acknowledged, string? silenced, string? alertError,
        CheckCatalog catalog, SqliteOutbox outbox)
    {
        name = ApiEndpoints.CheckName(context, name, "/checks/");
        var check = catalog.Checks.FirstOrDefault(c => c.Name == name);
        if (check is null)
        {
            return NotFound($"No check is named \u201c{name}\u201d.");
        }

        var chartRange = ChartRange.Default;
        if (range is { Length: > 0 })
        {
            if (ChartRange.Find(range) is not { } found)
            {
                return BadParameter("range", range, string.Join(", ", ChartRange.All.Select(r => r.Name)));
            }

            chartRange = found;
        }

        Guid? ranId = Guid.TryParse(ran, out var id) ? id : null;
        var time = Time(context);
        var now = time.GetUtcNow();
        var snapshots = ApiEndpoints.Snapshots(context);
        var reader = snapshots.Reader;
        var reading = await snapshots.ReadOneAsync(check, context.RequestAborted).ConfigureAwait(false);
        var results = await reader.ReadResultsAsync(check.Name, RecentResults, context.RequestAborted).ConfigureAwait(false);
        var points = outbox.ReadDurations(check.Name, now - chartRange.Length, now);
        if (range is not { Length: > 0 } && points.Count > 0)
        {
            // No range asked: a check with a short history gets the shortest range that holds all of it, not a flat day.
            chartRange = ChartRange.All.First(r => r.Length >= chartRange.Length || points[0].StartedAt >= now - r.Length);
        }

        var model = new CheckPageModel(
            check,
            reading.Checks[0],
            chartRange,
            ResponseTimes.Bucket(points, now - chartRange.Length, now, ChartBuckets),
            results.Results,
            [.. outbox.ReadIncidents(check.Name, null, null, 10).Select(IncidentView.Of)],
            DefinitionView.Lines(check),
            ranId,
            RunErrorText(error),
            new SourceNote(reading.Source, reading.FallbackReason),
            now)
        {
            Alerting = await CheckAlertingAsync(context, check, reading.Checks[0], acknowledged, silenced, alertError).ConfigureAwait(false),
        };
        return Page<CheckPage>(model);
    }

    private static async Task<CheckAlertingModel> CheckAlertingAsync(
        HttpContext context, CheckDefinition check, CheckStatusView status, string? acknowledged, string? silenced, string? alertError)
    {
        string? notice = acknowledged is { Length: > 0 }
            ? "Acknowledgement stored: the notifier applies it on its next pass (within a second); reminders and escalation then stop."
            : silenced is { Length: > 0 } ? "Silence stored: this check's problems, reminders and escalations are held until it ends." : null;
        string? error = AlertErrorText(alertError);
        var state = Alerting(context);
        try
        {
            var snapshot = await state.GetAsync(context.RequestAborted).ConfigureAwait(false);
            var record = snapshot.Records.GetValueOrDefault(check.Name);
            var notifications = await state.Store.ReadNotificationsAsync(new NotificationQuery(check.Name, Limit: RecentNotifications), context.RequestAborted).ConfigureAwait(false);
            CheckState? tracked = Enum.TryParse<CheckState>(status.HardState, out var hard) ? hard : null;
            return new CheckAlertingModel(
                check.Alerting, record, snapshot.Silences.GetValueOrDefault(check.Name), [.. notifications.Select(NotificationView.Of)],
                AlertCommands.AcknowledgeRefusal(check.Name, record, tracked) is null, notice, error);
        }
        catch (DbException ex)
        {
            return new CheckAlertingModel(check.Alerting, null, null, [], false, notice,
                "The alert store cannot be read now: " + Secrets.RedactConnectionString(ex.Message));
        }
    }

    private static string? AlertErrorText(string? code) => code switch
    {
        null or "" => null,
        "nothing-to-acknowledge" => "Nothing to acknowledge: this check is OK, or its problem is acknowledged already.",
        "for" => $"Not silenced: the length must be {AlertCommands.SilenceAllowed}.",
        "comment" => $"Not stored: the comment must be at most {AlertCommands.MaxCommentLength} characters of text.",
        "no-silence" => "That silence has ended already.",
        "store" => "Not stored: the alert store cannot be written now. Try again later.",
        _ => null,
    };

    private static async Task<IResult> AcknowledgeAsync(HttpContext context, string name, CheckCatalog catalog)
    {
        name = ApiEndpoints.CheckName(context, name, "/checks/");
        if (CrossOriginProtection.Refusal(context.Request) is { } refusal)
        {
            return ErrorPage(StatusCodes.Status403Forbidden, "Refused: the form did not come from this server", $"Open the check's page here and press \u201cAcknowledge\u201d there ({refusal}).");
        }

        var check = catalog.Current.Find(name);
        if (check is null)
        {
            return NotFound($"No check is named \u201c{name}\u201d.");
        }

        string page = Fmt.CheckHref(name);
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false) : null;
        string? comment = form?["comment"].ToString();
        if (AlertCommands.CheckComment(comment) is not null)
        {
            return new SeeOther(page + "?alertError=comment");
        }

        var state = Alerting(context);
        try
        {
            var reading = await ApiEndpoints.Snapshots(context).ReadOneAsync(check, context.RequestAborted).ConfigureAwait(false);
            CheckState? tracked = Enum.TryParse<CheckState>(reading.Checks[0].HardState, out var hard) ? hard : null;
            var record = (await state.GetAsync(context.RequestAborted).ConfigureAwait(false)).Records.GetValueOrDefault(name);
            if (AlertCommands.AcknowledgeRefusal(name, record, tracked) is not null)
            {
                return new SeeOther(page + "?alertError=nothing-to-acknowledge");
            }

            var command = AlertCommands.Acknowledge(
                name, record is { Hard: not CheckState.OK } ? record.IncidentId : null, Author(context), comment, Time(context).GetUtcNow());
            await state.AddCommandAsync(command, context.RequestAborted).ConfigureAwait(false);
            return new SeeOther(page + "?acknowledged=" + command.Id.ToString("D"));
        }
        catch (DbException)
        {
            return new SeeOther(page + "?alertError=store");
        }
    }

    private static async Task<IResult> SilenceAsync(HttpContext context, string name, CheckCatalog catalog)
    {
        name = ApiEndpoints.CheckName(context, name, "/checks/");
        if (CrossOriginProtection.Refusal(context.Request) is { } refusal)
        {
            return ErrorPage(StatusCodes.Status403Forbidden, "Refused: the form did not come from this server", $"Open the check's page here and press \u201cSilence\u201d there ({refusal}).");
        }

        if (catalog.Current.Find(name) is null)
        {
            return NotFound($"No check is named \u201c{name}\u201d.");
        }

        string page = Fmt.CheckHref(name);
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false) : null;
        if (AlertCommands.CheckSilenceLength(form?["for"].ToString(), out var length) is not null)
        {
            return new SeeOther(page + "?alertError=for");
        }

        string? comment = form?["comment"].ToString();
        if (AlertCommands.CheckComment(comment) is not null)
        {
            return new SeeOther(page + "?alertError=comment");
        }

        var command = AlertCommands.Silence(name, length, Author(context), comment, Time(context).GetUtcNow());
        try
        {
            await Alerting(context).AddCommandAsync(command, context.RequestAborted).ConfigureAwait(false);
        }
        catch (DbException)
        {
            return new SeeOther(page + "?alertError=store");
        }

        return new SeeOther(page + "?silenced=" + command.Id.ToString("D"));
    }

    private static async Task<IResult> EndSilenceAsync(HttpContext context, string name, CheckCatalog catalog)
    {
        name = ApiEndpoints.CheckName(context, name, "/checks/");
        if (CrossOriginProtection.Refusal(context.Request) is { } refusal)
        {
            return ErrorPage(StatusCodes.Status403Forbidden, "Refused: the form did not come from this server", $"Open the check's page here and press \u201cEnd silence\u201d there ({refusal}).");
        }

        if (catalog.Current.Find(name) is null)
        {
            return NotFound($"No check is named \u201c{name}\u201d.");
        }

        string page = Fmt.CheckHref(name);
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false) : null;
        if (!Guid.TryParse(form?["id"].ToString(), out var id))
        {
            return BadParameter("id", form?["id"].ToString() ?? "", "the id of an active silence (a UUID), as the check's page gives it");
        }

        try
        {
            return await Alerting(context).EndSilenceAsync(id, context.RequestAborted).ConfigureAwait(false)
                ? new SeeOther(page)
                : new SeeOther(page + "?alertError=no-silence");
        }
        catch (DbException)
        {
            return new SeeOther(page + "?alertError=store");
        }
    }

    private static string Author(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name : AnonymousAuthor;

    private static async Task<IResult> NotificationsAsync(HttpContext context, TocsinConfig config, string? check, string? channel, string? status, string? before)
    {
        DeliveryStatus? statusFilter = status switch
        {
            null or "" => null,
            "pending" => DeliveryStatus.Pending,
            "delivered" => DeliveryStatus.Delivered,
            "failed" => DeliveryStatus.Failed,
            _ => null,
        };
        if (status is { Length: > 0 } && statusFilter is null)
        {
            return BadParameter("status", status, string.Join(", ", AlertingEndpoints.StatusFilters) + ", or empty for every status");
        }

        long? beforeSeq = null;
        if (before is { Length: > 0 })
        {
            if (!long.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out long b) || b < 1)
            {
                return BadParameter("before", before, "a notification's position (a positive integer), as the \u201cOlder\u201d link gives it");
            }

            beforeSeq = b;
        }

        var filter = new NotificationFilter(
            string.IsNullOrEmpty(check) ? null : check, string.IsNullOrEmpty(channel) ? null : channel, string.IsNullOrEmpty(status) ? null : status);
        var now = Time(context).GetUtcNow();
        var store = Alerting(context).Store;
        try
        {
            var rows = await store.ReadNotificationsAsync(
                new NotificationQuery(filter.Check, filter.Channel, statusFilter, beforeSeq, NotificationsPageSize + 1), context.RequestAborted).ConfigureAwait(false);
            string? older = null;
            if (rows.Count > NotificationsPageSize)
            {
                rows = [.. rows.Take(NotificationsPageSize)];
                older = filter.Query(rows[^1].Seq);
            }

            var stats = await store.ReadChannelStatsAsync(context.RequestAborted).ConfigureAwait(false);
            var channels = ChannelView.Of(config.Notifications, stats, AlertingEndpoints.Describe(context));
            return Page<NotificationsPage>(new NotificationsModel([.. rows.Select(NotificationView.Of)], channels, filter, older, null, now));
        }
        catch (DbException ex)
        {
            return Page<NotificationsPage>(new NotificationsModel([], [], filter, null, "The alert store cannot be read now: " + Secrets.RedactConnectionString(ex.Message), now));
        }
    }

    private static string? RunErrorText(string? code) => code switch
    {
        null or "" => null,
        "running" => "A run of this check is going already; checks never overlap themselves. Its result appears when it ends.",
        "disabled" => "This check is disabled (\"enabled\": false in the configuration, or a problem its definition shows): it is never run.",
        "stopping" => "The agent is stopping and starts no new run.",
        "unavailable" => "This process runs no checks.",
        _ => null,
    };

    private static IResult RunNow(HttpContext context, string name, CheckCatalog catalog)
    {
        name = ApiEndpoints.CheckName(context, name, "/checks/");
        if (CrossOriginProtection.Refusal(context.Request) is { } refusal)
        {
            return ErrorPage(StatusCodes.Status403Forbidden, "Refused: the form did not come from this server", $"Open the check's page here and press \u201cRun now\u201d there ({refusal}).");
        }

        if (!catalog.Checks.Any(c => c.Name == name))
        {
            return NotFound($"No check is named \u201c{name}\u201d.");
        }

        string page = "/checks/" + Uri.EscapeDataString(name);
        var scheduler = context.RequestServices.GetService<Scheduler>();
        if (scheduler is null)
        {
            return TypedResults.Redirect(page + "?error=unavailable", permanent: false, preserveMethod: false);
        }

        var outcome = scheduler.RunNow(name);
        string target = outcome.Status switch
        {
            RunNowStatus.Started => $"{page}?ran={outcome.ResultId}",
            RunNowStatus.AlreadyRunning => page + "?error=running",
            RunNowStatus.Disabled => page + "?error=disabled",
            _ => page + "?error=stopping",
        };
        return new SeeOther(target);
    }

    private static IResult Incidents(HttpContext context, SqliteOutbox outbox, string? open, string? check, string? before)
    {
        if (open is not (null or "" or "all" or "true" or "false"))
        {
            return BadParameter("open", open, "true (open incidents), false (closed ones) or all");
        }

        bool? openOnly = open switch
        {
            "true" => true,
            "false" => false,
            _ => null,
        };

        Guid? beforeId = null;
        if (before is { Length: > 0 })
        {
            if (!Guid.TryParse(before, out var b))
            {
                return BadParameter("before", before, "the id of an incident (a UUID), as the \u201cOlder\u201d link gives it");
            }

            beforeId = b;
        }

        string? checkName = string.IsNullOrEmpty(check) ? null : check;
        var incidents = outbox.ReadIncidents(checkName, openOnly, beforeId, IncidentsPageSize + 1).Select(IncidentView.Of).ToList();
        string? older = null;
        if (incidents.Count > IncidentsPageSize)
        {
            incidents.RemoveAt(incidents.Count - 1);
            var parts = new List<string>();
            if (openOnly is { } o)
            {
                parts.Add("open=" + (o ? "true" : "false"));
            }

            if (checkName is not null)
            {
                parts.Add("check=" + Uri.EscapeDataString(checkName));
            }

            parts.Add("before=" + incidents[^1].Id.ToString("D"));
            older = "?" + string.Join('&', parts);
        }

        return Page<IncidentsPage>(new IncidentsModel(incidents, openOnly, checkName, older, Time(context).GetUtcNow()));
    }

    private static async Task<IResult> StatusPage(HttpContext context, SqliteOutbox outbox)
    {
        var time = Time(context);
        var now = time.GetUtcNow();
        var snapshot = await ApiEndpoints.Snapshots(context).GetAsync(context.RequestAborted).ConfigureAwait(false);
        var publicChecks = snapshot.Catalog.Checks.Where(c => c.Public).ToList();
        var firstDay = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-29);
        var list = new List<PublicCheck>(publicChecks.Count);
        for (int i = 0; i < publicChecks.Count; i++)
        {
            var stored = outbox.ReadDays(publicChecks[i].Name, firstDay).ToDictionary(d => d.Start);
            var days = Enumerable.Range(0, 30)
                .Select(d => firstDay.AddDays(d))
                .Select(d => stored.GetValueOrDefault(d) ?? new AggregateBucket(d, 0, 0, 0, 0, 0))
                .ToList();
            var status = snapshot.Find(publicChecks[i].Name)!;
            list.Add(new PublicCheck(publicChecks[i].Name, status.State, status.Uptime30d, days));
        }

        return Page<StatusPage>(new StatusPageModel(list, now));
    }

    private static IResult Asset(string file)
    {
        var asset = DashboardAssets.Find(file);
        return asset is null
            ? TypedResults.NotFound()
            : TypedResults.Bytes(asset.Content, asset.ContentType, entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue(asset.ETag));
    }

    private static RazorComponentResult<TComponent> Page<TComponent>(object model)
        where TComponent : IComponent =>
        new RazorComponentResult<TComponent>(new Dictionary<string, object?> { ["Model"] = model });

    private static async Task<IResult> LogsAsync(
        HttpContext context, string? identity, string? kind, string? window, string? sender, string? level, string? q, string? follow, string? before)
    {
        kind = string.IsNullOrEmpty(kind) ? "logs" : kind;
        if (kind is not ("logs" or "notifications"))
        {
            return BadParameter("kind", kind, "logs or notifications");
        }

        window = string.IsNullOrEmpty(window) ? LogsPageView.Windows[1] : window;
        if (!LogsPageView.Windows.Contains(window) || !Duration.TryParse(window, out var span))
        {
            return BadParameter("window", window, string.Join(", ", LogsPageView.Windows));
        }

        int? maxLevel = null;
        if (level is { Length: > 0 })
        {
            if (!int.TryParse(level, NumberStyles.None, CultureInfo.InvariantCulture, out int l) || l > 100)
            {
                return BadParameter("level", level, "a level from 0 to 100, or empty for every level");
            }

            maxLevel = l;
        }

        var rowKind = kind == "logs" ? RowKind.Logs : RowKind.Notifications;
        RowCursor? cursor = null;
        if (before is { Length: > 0 } && (cursor = IngestionProtocol.DecodeCursor(rowKind, before)) is null)
        {
            return BadParameter("before", before, "a position as the \u201cOlder\u201d link gives it");
        }

        var now = Time(context).GetUtcNow();
        var filter = new LogFilter(
            string.IsNullOrEmpty(identity) ? null : identity, kind, window, string.IsNullOrEmpty(sender) ? null : sender, maxLevel,
            string.IsNullOrEmpty(q) ? null : q, follow is "1" or "true" or "on");
        if (context.RequestServices.GetService<IIngestionStore>() is not { } store)
        {
            return Page<LogsPage>(new LogsModel([], filter, [], null, "Ingestion is off (ingestion.enabled is false).", now));
        }

        try
        {
            var identities = (await store.ListTokensAsync(context.RequestAborted).ConfigureAwait(false))
                .Select(t => t.Identity).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            filter = filter with { Identity = filter.Identity ?? identities.FirstOrDefault() };
            if (filter.Identity is null)
            {
                return Page<LogsPage>(new LogsModel(identities, filter, [], null, null, now));
            }

            var rows = await store.QueryAsync(
                rowKind,
                new RowQuery(filter.Identity, now - span, filter.Sender, filter.MaxLevel, LogsPageView.PageSize + 1, cursor, filter.Text),
                context.RequestAborted).ConfigureAwait(false);
            string? older = null;
            if (rows.Count > LogsPageView.PageSize)
            {
                rows = [.. rows.Take(LogsPageView.PageSize)];
                older = filter.Query(new RowCursor(rows[^1].Time, rows[^1].Id));
            }

            return Page<LogsPage>(new LogsModel(identities, filter, rows, older, null, now));
        }
        catch (IngestionStoreException ex)
        {
            return Page<LogsPage>(new LogsModel([], filter, [], null, $"The ingestion store cannot be read: {ex.Message}", now));
        }
    }

    private static RazorComponentResult<ErrorPage> BadParameter(string parameter, string value, string allowed) =>
        ErrorPage(StatusCodes.Status400BadRequest, $"Bad value for \u201c{parameter}\u201d", $"\u201c{value}\u201d is not allowed for {parameter}; allowed: {allowed}.");

    private static RazorComponentResult<ErrorPage> NotFound(string detail) => ErrorPage(StatusCodes.Status404NotFound, "Not found", detail);

    private static RazorComponentResult<ErrorPage> ErrorPage(int status, string title, string detail) =>
        new RazorComponentResult<ErrorPage>(new Dictionary<string, object?> { ["Title"] = title, ["Detail"] = detail }) { StatusCode = status };

    private static TimeProvider Time(HttpContext context) => context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System;


    /// <summary>303 See Other to <paramref name="location"/>: after a form post, the browser GETs the page.</summary>
    private sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
            httpContext.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}

/// <summary>The dashboard's stylesheet and script, embedded in the assembly and served with an ETag.</summary>
internal static class DashboardAssets
{
    internal sealed record Asset(byte[] Content, string ContentType, string ETag);

    private static readonly Dictionary<string, Asset> Assets = Load();

    /// <summary>The version stamp put in asset URLs (<c>?v=</c>), so a new build is fetched anew.</summary>
    public static string Version { get; } = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        Assets.Values.SelectMany(a => a.Content).ToArray()))[..12];

    public static Asset? Find(string file) => Assets.GetValueOrDefault(file);

    private static Dictionary<string, Asset> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var (file, type) in new[] { ("tocsin.css", "text/css; charset=utf-8"), ("tocsin.js", "text/javascript; charset=utf-8") })
        {
            using var stream = assembly.GetManifestResourceStream("Tocsin.Web.Dashboard.Assets." + file)
                ?? throw new InvalidOperationException($"the dashboard asset {file} is not embedded");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            byte[] content = buffer.ToArray();
            string etag = "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content))[..16] + "\"";
            assets[file] = new Asset(content, type, etag);
        }

        return assets;
    }
}
