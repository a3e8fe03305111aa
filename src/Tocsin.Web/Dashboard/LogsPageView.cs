using System.Globalization;
using Tocsin.Ingestion;

namespace Tocsin.Web.Dashboard;

/// <summary>The filters of the logs page (<c>/logs?identity=&amp;kind=&amp;window=&amp;sender=&amp;level=&amp;q=&amp;follow=1&amp;before=</c>).</summary>
/// <param name="Identity">Whose rows (an identity that has a token).</param>
/// <param name="Kind"><c>logs</c> or <c>notifications</c>.</param>
/// <param name="Window">How far back: one of <see cref="LogsPageView.Windows"/>.</param>
/// <param name="Sender">Only this sender, or null.</param>
/// <param name="MaxLevel">Only levels at most this, or null.</param>
/// <param name="Text">Only messages containing this, or null.</param>
/// <param name="Follow">Whether the page refreshes itself every <see cref="LogsPageView.FollowSeconds"/> s.</param>
public sealed record LogFilter(string? Identity, string Kind, string Window, string? Sender, int? MaxLevel, string? Text, bool Follow)
{
    /// <summary>The rows this filter reads.</summary>
    public RowKind RowKind => Kind == "notifications" ? RowKind.Notifications : RowKind.Logs;

    /// <summary>The query string of these filters with the paging cursor of <paramref name="before"/> (the API's, see
    /// <see cref="IngestionProtocol.EncodeCursor"/>).</summary>
    public string Query(RowCursor before)
    {
        ArgumentNullException.ThrowIfNull(before);
        var parts = new List<string> { "kind=" + Kind, "window=" + Window };
        if (Identity is not null)
        {
            parts.Insert(0, "identity=" + Uri.EscapeDataString(Identity));
        }

        if (Sender is not null)
        {
            parts.Add("sender=" + Uri.EscapeDataString(Sender));
        }

        if (MaxLevel is { } level)
        {
            parts.Add("level=" + level.ToString(CultureInfo.InvariantCulture));
        }

        if (Text is not null)
        {
            parts.Add("q=" + Uri.EscapeDataString(Text));
        }

        parts.Add("before=" + IngestionProtocol.EncodeCursor(RowKind, before));
        return "?" + string.Join("&", parts);
    }
}

/// <summary>Everything the logs page shows.</summary>
/// <param name="Identities">The identities that have tokens, sorted.</param>
/// <param name="Filter">The filters applied.</param>
/// <param name="Rows">One page of rows, newest first.</param>
/// <param name="Older">The query string of the next (older) page, or null.</param>
/// <param name="Unavailable">Why the ingestion store could not be read, or null.</param>
/// <param name="Now">When the page was made.</param>
public sealed record LogsModel(IReadOnlyList<string> Identities, LogFilter Filter, IReadOnlyList<StoredRow> Rows, string? Older, string? Unavailable, DateTimeOffset Now);

/// <summary>Constants and formatting of the logs page.</summary>
public static class LogsPageView
{
    /// <summary>Rows per page.</summary>
    public const int PageSize = 200;

    /// <summary>Seconds between refreshes when following.</summary>
    public const int FollowSeconds = 2;

    /// <summary>The windows offered, shortest first; the default is the second.</summary>
    public static readonly IReadOnlyList<string> Windows = ["5m", "15m", "1h", "6h", "24h", "7d", "30d"];
}
