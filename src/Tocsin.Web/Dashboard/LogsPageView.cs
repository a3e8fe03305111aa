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
    /// <summary>The query string of these filters with the paging cursor <paramref name="before"/> (<c>{time µs}.{id}</c>).</summary>
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

        parts.Add("before=" + LogsPageView.Cursor(before));
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

    /// <summary>The named levels (Python logging's numbers, as seed 002's agents send them).</summary>
    public static readonly IReadOnlyList<(string Name, int Value)> Levels = [("debug", 10), ("info", 20), ("warning", 30), ("error", 40), ("critical", 50)];

    /// <summary>A level's name when it has one (<c>warning</c>), else its number.</summary>
    public static string LevelName(int level) =>
        Levels.FirstOrDefault(l => l.Value == level).Name ?? level.ToString(CultureInfo.InvariantCulture);

    /// <summary>A paging cursor as text: <c>{time in µs since the epoch}.{id}</c>.</summary>
    public static string Cursor(RowCursor c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return ((c.Time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10).ToString(CultureInfo.InvariantCulture) + "." + c.Id.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Reads <see cref="Cursor"/>'s text; false when it is not one.</summary>
    public static bool TryParseCursor(string text, out RowCursor? cursor)
    {
        cursor = null;
        string[] parts = (text ?? "").Split('.');
        if (parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long us) && us < 253402300800000000
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long id))
        {
            cursor = new RowCursor(DateTimeOffset.UnixEpoch.AddTicks(us * 10), id);
            return true;
        }

        return false;
    }
}
