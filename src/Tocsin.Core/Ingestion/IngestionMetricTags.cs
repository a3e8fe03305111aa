namespace Tocsin.Ingestion;

/// <summary>The <c>kind</c> tag of the ingestion instruments of <see cref="Diagnostics.TocsinMetrics"/>: <c>logs</c> or <c>notifications</c>.</summary>
public static class IngestionMetricTags
{
    private static readonly KeyValuePair<string, object?> LogsTag = new("kind", "logs");
    private static readonly KeyValuePair<string, object?> NotificationsTag = new("kind", "notifications");

    /// <summary>The tag of <paramref name="kind"/>.</summary>
    public static KeyValuePair<string, object?> Of(RowKind kind) => kind == RowKind.Logs ? LogsTag : NotificationsTag;
}
