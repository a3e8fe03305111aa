using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tocsin.Diagnostics;

namespace Tocsin.Ingestion;

/// <summary>
/// Retention that runs (seed 002's cleanup task was never reached): every <see cref="IngestionOptions.CleanupInterval"/>,
/// from start, deletes logs older than <see cref="IngestionOptions.LogRetention"/> and notifications older than
/// <see cref="IngestionOptions.NotificationRetention"/> (by their <c>time</c>). A failed purge is logged and tried again at
/// the next interval; it never stops the server. With PostgreSQL every replica purges: the work is idempotent.
/// </summary>
public sealed partial class IngestionRetention : BackgroundService
{
    private readonly IIngestionStore _store;
    private readonly IngestionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TocsinMetrics? _metrics;

    /// <summary>Creates the purger; it starts with the host.</summary>
    public IngestionRetention(IIngestionStore store, IngestionOptions options, TimeProvider time, ILogger<IngestionRetention> logger, TocsinMetrics? metrics = null)
    {
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Purges both kinds once, now; returns the rows deleted per kind. Errors are logged, not thrown.</summary>
    public async Task<(long Logs, long Notifications)> PurgeOnceAsync(CancellationToken cancellationToken)
    {
        long logs = await PurgeAsync(RowKind.Logs, cancellationToken).ConfigureAwait(false);
        long notifications = await PurgeAsync(RowKind.Notifications, cancellationToken).ConfigureAwait(false);
        return (logs, notifications);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.CleanupInterval, _time);
        try
        {
            do
            {
                await PurgeOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task<long> PurgeAsync(RowKind kind, CancellationToken ct)
    {
        var retention = _options.RetentionOf(kind);
        var limit = _time.GetUtcNow() - retention;
        string name = kind == RowKind.Logs ? "logs" : "notifications";
        try
        {
            long deleted = await _store.PurgeAsync(kind, limit, ct).ConfigureAwait(false);
            if (deleted > 0)
            {
                _metrics?.IngestPurgedRows.Add(deleted, IngestionMetricTags.Of(kind));
                LogPurged(_logger, deleted, name, retention);
            }

            return deleted;
        }
        catch (IngestionStoreException ex)
        {
            LogPurgeFailed(_logger, name, ex.Message);
            return 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ingestion retention: deleted {Count} {Kind} older than {Retention}")]
    private static partial void LogPurged(ILogger logger, long count, string kind, TimeSpan retention);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion retention: purging {Kind} failed, trying again at the next interval: {Reason}")]
    private static partial void LogPurgeFailed(ILogger logger, string kind, string reason);
}
