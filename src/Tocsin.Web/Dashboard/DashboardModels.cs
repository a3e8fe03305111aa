using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Status;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web.Dashboard;

/// <summary>The overview's filters, from the query string: <c>?q=&amp;state=&amp;tag=&amp;page=</c>.</summary>
/// <param name="Text">Case-insensitive text looked for in the name, kind, tags and latest message, or null.</param>
/// <param name="State">One of <see cref="DashboardEndpoints.StateFilters"/> (<c>problems</c>: any state but OK and PENDING), or null.</param>
/// <param name="Tag">Only checks with this tag (<c>untagged</c>: checks without tags), or null.</param>
/// <param name="Page">1-based page of <see cref="DashboardEndpoints.PageSize"/> checks.</param>
public sealed record OverviewFilter(string? Text, string? State, string? Tag, int Page)
{
    /// <summary>Whether any filter is set.</summary>
    public bool Any => Text is not null || State is not null || Tag is not null;

    /// <summary>The query string of these filters on another page (<c>?q=…&amp;page=N</c>), for links.</summary>
    public string Query(int page)
    {
        var parts = new List<string>();
        if (Text is not null)
        {
            parts.Add("q=" + Uri.EscapeDataString(Text));
        }

        if (State is not null)
        {
            parts.Add("state=" + Uri.EscapeDataString(State));
        }

        if (Tag is not null)
        {
            parts.Add("tag=" + Uri.EscapeDataString(Tag));
        }

        if (page > 1)
        {
            parts.Add("page=" + page.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }
}

/// <summary>One check on the overview.</summary>
/// <param name="Definition">Its configuration.</param>
/// <param name="Status">Its state (from the central database or this agent's outbox).</param>
/// <param name="Recent">Its latest runs on this agent, oldest first, for the sparkline (empty without results here).</param>
public sealed record CheckRow(CheckDefinition Definition, CheckStatusView Status, IReadOnlyList<DurationPoint> Recent)
{
    /// <summary>Whether its problem is acknowledged, and until when it is silenced (from the alert store), or null for neither.</summary>
    public AlertMark? Alert { get; init; }
}

/// <summary>What the overview marks on a check's row about alerting.</summary>
/// <param name="AcknowledgedBy">Who acknowledged its current problem (empty when unknown), or null when not acknowledged.</param>
/// <param name="SilencedUntil">When its active silence ends, or null when not silenced.</param>
public sealed record AlertMark(string? AcknowledgedBy, DateTimeOffset? SilencedUntil);

/// <summary>The checks of one tag on one page of the overview.</summary>
/// <param name="Tag">The group's tag (a check's first tag), or <see cref="DashboardEndpoints.Untagged"/>.</param>
/// <param name="Checks">Its checks on this page, in configuration order.</param>
public sealed record CheckGroup(string Tag, IReadOnlyList<CheckRow> Checks);

/// <summary>Everything the overview page shows.</summary>
/// <param name="Groups">The page's checks, grouped by tag.</param>
/// <param name="Counts">Checks per state, over all checks (not only the filtered ones), in severity order.</param>
/// <param name="Filter">The filters applied.</param>
/// <param name="Tags">Every tag of the configuration, sorted, for the filter.</param>
/// <param name="Total">Checks configured.</param>
/// <param name="Matching">Checks the filters keep.</param>
/// <param name="Pages">Pages of matching checks (at least 1).</param>
/// <param name="Reading">Where states were read from, and why the central database was not used if it was not.</param>
/// <param name="Now">When the page was made.</param>
public sealed record OverviewModel(
    IReadOnlyList<CheckGroup> Groups,
    IReadOnlyList<KeyValuePair<string, int>> Counts,
    OverviewFilter Filter,
    IReadOnlyList<string> Tags,
    int Total,
    int Matching,
    int Pages,
    SourceNote Reading,
    DateTimeOffset Now);

/// <summary>Where a page's states came from: <c>central</c> or <c>local</c>, with the reason when the central database was configured but not read.</summary>
/// <param name="Source"><see cref="StatusReport.SourceCentral"/> or <see cref="StatusReport.SourceLocal"/>.</param>
/// <param name="FallbackReason">Why the central database was not used although configured, or null.</param>
public sealed record SourceNote(string Source, string? FallbackReason);

/// <summary>The response-time ranges a check page offers: <c>1h</c>, <c>6h</c>, <c>24h</c> (default), <c>7d</c>.</summary>
/// <param name="Name">Its name in the query string (<c>?range=</c>).</param>
/// <param name="Length">How far back it reaches.</param>
public sealed record ChartRange(string Name, TimeSpan Length)
{
    /// <summary>The ranges, shortest first.</summary>
    public static readonly IReadOnlyList<ChartRange> All =
    [
        new("1h", TimeSpan.FromHours(1)),
        new("6h", TimeSpan.FromHours(6)),
        new("24h", TimeSpan.FromHours(24)),
        new("7d", TimeSpan.FromDays(7)),
    ];

    /// <summary>The default range.</summary>
    public static ChartRange Default => All[2];

    /// <summary>The range named <paramref name="name"/>, or null.</summary>
    public static ChartRange? Find(string? name) => All.FirstOrDefault(r => r.Name == name);
}

/// <summary>Everything a check's page shows.</summary>
/// <param name="Definition">The check's configuration.</param>
/// <param name="Status">Its state.</param>
/// <param name="Range">The chart's range.</param>
/// <param name="Buckets">The chart: p50/p95 per bucket over the range, from this agent's results.</param>
/// <param name="Recent">Its newest results, newest first.</param>
/// <param name="Incidents">Its newest incidents, newest first.</param>
/// <param name="DefinitionLines">Its definition, secrets hidden.</param>
/// <param name="Ran">The id of a run just asked for with the run-now button, or null.</param>
/// <param name="RunError">Why run-now did not start a run, or null.</param>
/// <param name="Reading">Where the state and results were read from.</param>
/// <param name="Now">When the page was made.</param>
public sealed record CheckPageModel(
    CheckDefinition Definition,
    CheckStatusView Status,
    ChartRange Range,
    IReadOnlyList<DurationBucket> Buckets,
    IReadOnlyList<ResultView> Recent,
    IReadOnlyList<IncidentView> Incidents,
    IReadOnlyList<KeyValuePair<string, string>> DefinitionLines,
    Guid? Ran,
    string? RunError,
    SourceNote Reading,
    DateTimeOffset Now)
{
    /// <summary>The check's alerting section, or null when alerting is not set up in this process.</summary>
    public CheckAlertingModel? Alerting { get; init; }
}

/// <summary>The alerting section of a check's page.</summary>
/// <param name="Policy">The check's alert policy (<c>notify</c>, <c>escalation</c>, <c>dependsOn</c>).</param>
/// <param name="Record">The notifier's record of the check (hard state it knows, held because, acknowledgement), or null when it has none.</param>
/// <param name="Silence">The check's active silence ending last, or null.</param>
/// <param name="Notifications">Its newest notifications, newest first.</param>
/// <param name="CanAcknowledge">Whether the acknowledge form is shown: the check is not OK and its problem not acknowledged.</param>
/// <param name="Notice">What an acknowledgement or silence just asked did, or null.</param>
/// <param name="Error">Why it was refused, or why the alert store could not be read, or null.</param>
public sealed record CheckAlertingModel(
    AlertPolicy Policy,
    AlertRecord? Record,
    Silence? Silence,
    IReadOnlyList<NotificationView> Notifications,
    bool CanAcknowledge,
    string? Notice,
    string? Error);

/// <summary>The notifications page's filters, from the query string: <c>?check=&amp;channel=&amp;status=&amp;before=</c>.</summary>
/// <param name="Check">Only this check's, or null.</param>
/// <param name="Channel">Only this channel's, or null.</param>
/// <param name="Status"><c>pending</c>, <c>delivered</c>, <c>failed</c>, or null for all.</param>
public sealed record NotificationFilter(string? Check, string? Channel, string? Status)
{
    /// <summary>The query string of these filters with <paramref name="before"/> (a notification's position) for the next page.</summary>
    public string Query(long? before)
    {
        var parts = new List<string>();
        if (Check is not null)
        {
            parts.Add("check=" + Uri.EscapeDataString(Check));
        }

        if (Channel is not null)
        {
            parts.Add("channel=" + Uri.EscapeDataString(Channel));
        }

        if (Status is not null)
        {
            parts.Add("status=" + Uri.EscapeDataString(Status));
        }

        if (before is { } b)
        {
            parts.Add("before=" + b.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }
}

/// <summary>Everything the notifications page shows.</summary>
/// <param name="Notifications">One page of notifications, newest first.</param>
/// <param name="Channels">Each configured channel with its delivery counts.</param>
/// <param name="Filter">The filters applied.</param>
/// <param name="Older">The query string of the next (older) page, or null on the last page.</param>
/// <param name="Unavailable">Why the alert store could not be read, or null.</param>
/// <param name="Now">When the page was made.</param>
public sealed record NotificationsModel(
    IReadOnlyList<NotificationView> Notifications,
    IReadOnlyList<ChannelView> Channels,
    NotificationFilter Filter,
    string? Older,
    string? Unavailable,
    DateTimeOffset Now);

/// <summary>Everything the incidents page shows.</summary>
/// <param name="Incidents">One page of incidents, newest opened first.</param>
/// <param name="Open"><c>true</c>: open ones only; <c>false</c>: closed ones only; null: all.</param>
/// <param name="Check">Only this check's, or null.</param>
/// <param name="Older">The query string of the next (older) page, or null on the last page.</param>
/// <param name="Now">When the page was made.</param>
public sealed record IncidentsModel(IReadOnlyList<IncidentView> Incidents, bool? Open, string? Check, string? Older, DateTimeOffset Now);

/// <summary>One check on the public status page.</summary>
/// <param name="Name">The check's name.</param>
/// <param name="State">Its state (OK, WARNING, CRITICAL, UNKNOWN or PENDING).</param>
/// <param name="Uptime30d">Percent of runs up over 30 days, or null.</param>
/// <param name="Days">Its last 30 UTC days, oldest first (a day without runs has <see cref="AggregateBucket.Runs"/> 0).</param>
public sealed record PublicCheck(string Name, string State, double? Uptime30d, IReadOnlyList<AggregateBucket> Days);

/// <summary>Everything the public status page shows: only checks with <c>"public": true</c>, no messages or targets.</summary>
/// <param name="Checks">The public checks, in configuration order.</param>
/// <param name="Now">When the page was made.</param>
public sealed record StatusPageModel(IReadOnlyList<PublicCheck> Checks, DateTimeOffset Now);
