using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Storage;

/// <summary>Collector settings.</summary>
public sealed record CollectorOptions
{
    /// <summary>How long results stay in the local outbox. <value>Default: 7 days.</value></summary>
    public TimeSpan LocalRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Time between collections. <value>Default: 1 minute.</value></summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Rows deleted per transaction, so writers never wait long. <value>Default: 5,000.</value></summary>
    public int BatchSize { get; init; } = 5_000;

    /// <summary>
    /// Whether only exported rows may be deleted (when a central database is configured, unexported
    /// rows wait for the export). <value>Default: false.</value>
    /// </summary>
    public bool ExportedOnly { get; init; }
}

/// <summary>
/// Keeps the local outbox small: every <see cref="CollectorOptions.Interval"/> deletes results older
/// than <see cref="CollectorOptions.LocalRetention"/>, in short batches, oldest first. The latest state
/// of every check is kept whatever its age.
/// </summary>
public sealed partial class Collector
{
    private readonly SqliteOutbox _outbox;
    private readonly CollectorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the collector.</summary>
    public Collector(SqliteOutbox outbox, CollectorOptions options, TimeProvider time, ILogger<Collector> logger)
    {
        _outbox = outbox;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Deletes every result past retention now; returns how many were deleted.</summary>
    /// <exception cref="SqliteException">When a delete fails.</exception>
    public long CollectOnce()
    {
        var cutoff = _time.GetUtcNow() - _options.LocalRetention;
        long total = 0;
        int n;
        do
        {
            n = _outbox.DeleteResultsBefore(cutoff, _options.ExportedOnly, _options.BatchSize);
            total += n;
        }
        while (n == _options.BatchSize);

        if (total > 0)
        {
            LogCollected(_logger, total, cutoff);
        }

        return total;
    }

    /// <summary>Collects every interval until <paramref name="stoppingToken"/> is cancelled; failures are logged and retried next time.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    CollectOnce();
                }
                catch (SqliteException ex)
                {
                    LogFailed(_logger, ex);
                }

                await Task.Delay(_options.Interval, _time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Collector deleted {Count} result(s) started before {Cutoff:O}")]
    private static partial void LogCollected(ILogger logger, long count, DateTimeOffset cutoff);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collector could not delete old results; retrying at the next interval")]
    private static partial void LogFailed(ILogger logger, Exception ex);
}
