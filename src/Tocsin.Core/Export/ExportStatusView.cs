using Tocsin.Configuration;

namespace Tocsin.Export;

/// <summary>
/// The export status as shown by <c>tocsin export status --json</c> and <c>GET /api/v1/export</c>:
/// times are UTC (ISO 8601 in JSON), ages in seconds, the target with its password hidden.
/// </summary>
/// <param name="Configured">Whether a central database is configured (<c>externalDatabaseUri</c>).</param>
/// <param name="Target">The central database with its password replaced by <c>***</c>, or null.</param>
/// <param name="PendingRows">Results in the outbox not exported yet.</param>
/// <param name="OldestPendingAt">When the oldest pending result started, or null.</param>
/// <param name="OldestPendingAgeSeconds">Its age in seconds, or null.</param>
/// <param name="LastSuccessAt">When a batch was last exported, or null.</param>
/// <param name="LastError">The last failure's reason (no password), or null after a success.</param>
/// <param name="LastErrorAt">When it happened, or null.</param>
/// <param name="ConsecutiveFailures">Failed attempts since the last success.</param>
/// <param name="NextAttemptAt">When the next attempt is due while backing off, or null.</param>
/// <param name="RowsExported">Results exported from this outbox since it was created.</param>
/// <param name="RowsPerSecond">Rate of the last batch, in rows per second.</param>
/// <param name="BatchSize">The current batch size, in rows.</param>
/// <param name="DroppedRows">Unexported results lost because the outbox passed <c>maxOutboxSize</c>, since it was created.</param>
/// <param name="LastDropAt">When that last happened, or null.</param>
public sealed record ExportStatusView(
    bool Configured,
    string? Target,
    long PendingRows,
    DateTimeOffset? OldestPendingAt,
    double? OldestPendingAgeSeconds,
    DateTimeOffset? LastSuccessAt,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    int ConsecutiveFailures,
    DateTimeOffset? NextAttemptAt,
    long RowsExported,
    double RowsPerSecond,
    int BatchSize,
    long DroppedRows,
    DateTimeOffset? LastDropAt)
{
    /// <summary>The view of <paramref name="status"/> at <paramref name="now"/> for a configured <paramref name="externalDatabaseUri"/> (or null).</summary>
    public static ExportStatusView From(ExportStatus status, string? externalDatabaseUri, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new ExportStatusView(
            externalDatabaseUri is not null,
            externalDatabaseUri is null ? null : Secrets.RedactConnectionString(externalDatabaseUri),
            status.PendingRows,
            status.OldestPendingAge is { } age ? now - age : null,
            status.OldestPendingAge?.TotalSeconds,
            status.LastSuccessAt,
            status.LastError,
            status.LastErrorAt,
            status.ConsecutiveFailures,
            status.NextAttemptAt,
            status.RowsExported,
            status.RowsPerSecond,
            status.BatchSize,
            status.DroppedRows,
            status.LastDropAt);
    }
}
