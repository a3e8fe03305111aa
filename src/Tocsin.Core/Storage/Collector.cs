using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
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

    /// <summary>
    /// Most bytes the outbox's data may take (see <see cref="OutboxSize.UsedBytes"/>). Past it the collector
    /// deletes the oldest deletable results (exported ones when <see cref="ExportedOnly"/>) whatever their age,
    /// then, only if still over, the oldest unexported ones, until the data is under <see cref="TrimTarget"/> of it.
    /// <value>Default: 1 GiB.</value>
    /// </summary>
    public long MaxOutboxSize { get; init; } = TocsinConfig.DefaultMaxOutboxSize;

    /// <summary>
    /// How long daily aggregates (uptime over 7 and 30 days), hard state changes and closed incidents are kept, whatever
    /// <see cref="LocalRetention"/> is: they are small, and uptime over 30 days needs them. <value>Default: 35 days.</value>
    /// </summary>
    public TimeSpan HistoryRetention { get; init; } = TimeSpan.FromDays(35);

    /// <summary>
    /// How long hourly aggregates (uptime over 24 h, hourly charts) are kept. They take about 50 bytes per check and hour
    /// (10,000 checks: about 100 MB for 8 days, 400 MB for 35) and count toward <see cref="MaxOutboxSize"/>, hence shorter
    /// than <see cref="HistoryRetention"/>. <value>Default: 8 days.</value>
    /// </summary>
    public TimeSpan HourlyRetention { get; init; } = TimeSpan.FromDays(8);

    /// <summary>Fraction of <see cref="MaxOutboxSize"/> a trim brings the outbox down to, so it does not trim at every pass. <value>Default: 0.9.</value></summary>
    public double TrimTarget { get; init; } = 0.9;
}

/// <summary>What one collection did.</summary>
/// <param name="Expired">Results deleted because they were past the local retention.</param>
/// <param name="Trimmed">Results deleted because the outbox was over its size limit (exported ones, or any when nothing is exported).</param>
/// <param name="Dropped">Unexported results deleted because the outbox was still over its size limit: lost for the central database.</param>
/// <param name="UsedBytes">The outbox's used bytes after the collection.</param>
public sealed record CollectionReport(long Expired, long Trimmed, long Dropped, long UsedBytes);

/// <summary>
/// Keeps the local outbox small. Every <see cref="CollectorOptions.Interval"/>:
/// <list type="number">
/// <item>deletes results older than <see cref="CollectorOptions.LocalRetention"/> (only exported ones when
/// <see cref="CollectorOptions.ExportedOnly"/>), in short batches, oldest first;</item>
/// <item>when the outbox's data is over <see cref="CollectorOptions.MaxOutboxSize"/>, deletes the oldest
/// deletable results whatever their age, and then, if it is still over, the oldest unexported results. That is
/// the only way a result is ever lost: it is logged at error level with the count and the time span, counted in
/// the <c>tocsin.outbox.dropped</c> metric, and added to the total in the outbox that <c>tocsin export status</c>
/// shows.</item>
/// </list>
/// The latest state of every check is kept whatever happens to the results; the hourly and daily aggregates, state
/// changes and closed incidents are not results: they stay <see cref="CollectorOptions.HistoryRetention"/> (35 days).
/// </summary>
public sealed partial class Collector
{
    /// <summary>Outbox key of the total number of unexported results dropped by the size limit.</summary>
    public const string KeyDroppedRows = "outbox.dropped_rows";

    /// <summary>Outbox key of the time (ISO 8601, UTC) of the last drop.</summary>
    public const string KeyLastDropAt = "outbox.last_drop_at";

    private readonly SqliteOutbox _outbox;
    private readonly CollectorOptions _options;
    private readonly TimeProvider _time;
    private readonly TocsinMetrics? _metrics;
    private readonly ILogger _logger;

    /// <summary>Creates the collector; <paramref name="metrics"/> receives the dropped-rows counter and the outbox size gauge.</summary>
    public Collector(SqliteOutbox outbox, CollectorOptions options, TimeProvider time, ILogger<Collector> logger, TocsinMetrics? metrics = null)
    {
        _outbox = outbox;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        metrics?.ObserveGauge("tocsin.outbox.size", ReadUsedBytes, "By", "Bytes the local outbox's data takes (free pages excluded); limited by maxOutboxSize.");
    }

    /// <summary>Deletes every result past retention now, then enforces the size limit; returns what it did.</summary>
    /// <exception cref="SqliteException">When a read or delete fails.</exception>
    public CollectionReport CollectOnce()
    {
        var cutoff = _time.GetUtcNow() - _options.LocalRetention;
        long expired = 0;
        int n;
        do
        {
            n = _outbox.DeleteResultsBefore(cutoff, _options.ExportedOnly, _options.BatchSize);
            expired += n;
        }
        while (n == _options.BatchSize);

        if (expired > 0)
        {
            LogCollected(_logger, expired, cutoff);
        }

        _outbox.DeleteHistoryBefore(_time.GetUtcNow() - _options.HistoryRetention, _time.GetUtcNow() - _options.HourlyRetention);
        var (trimmed, dropped, used) = EnforceSize();
        return new CollectionReport(expired, trimmed, dropped, used);
    }

    private (long Trimmed, long Dropped, long UsedBytes) EnforceSize()
    {
        long used = _outbox.ReadSize().UsedBytes;
        if (used <= _options.MaxOutboxSize)
        {
            return (0, 0, used);
        }

        long before = used;
        long target = (long)(_options.MaxOutboxSize * Math.Clamp(_options.TrimTarget, 0.1, 1.0));
        long rows = Math.Max(1, _outbox.CountResults());

        // First what may go anyway (exported rows, or any row when nothing is exported), oldest first.
        var farFuture = _time.GetUtcNow().AddYears(100);
        long trimmed = 0;
        while (used > target)
        {
            int d = _outbox.DeleteResultsBefore(farFuture, _options.ExportedOnly, RowsToFree(used, target, rows - trimmed));
            if (d == 0)
            {
                break;
            }

            trimmed += d;
            used = _outbox.ReadSize().UsedBytes;
        }

        if (trimmed > 0)
        {
            LogTrimmed(_logger, trimmed, new Bytes(before), new Bytes(_options.MaxOutboxSize), new Bytes(used));
        }

        // Then, only when still over, the oldest unexported rows: a loss.
        long dropped = 0;
        DateTimeOffset? first = null, last = null;
        while (_options.ExportedOnly && used > target)
        {
            var d = _outbox.DropOldestUnexported(RowsToFree(used, target, rows - trimmed - dropped));
            if (d.Count == 0)
            {
                break;
            }

            dropped += d.Count;
            first ??= d.FirstStartedAt;
            last = d.LastStartedAt ?? last;
            used = _outbox.ReadSize().UsedBytes;
        }

        if (dropped > 0)
        {
            RecordDrop(dropped, first, last, used);
        }

        return (trimmed, dropped, used);
    }

    /// <summary>Rows to delete next: the share of <paramref name="rows"/> that the excess is of the used bytes, at least 1, at most a batch.</summary>
    private int RowsToFree(long used, long target, long rows)
    {
        double perRow = (double)used / Math.Max(1, rows);
        long want = (long)Math.Ceiling((used - target) / Math.Max(1.0, perRow));
        return (int)Math.Clamp(want, 1, _options.BatchSize);
    }

    private void RecordDrop(long dropped, DateTimeOffset? first, DateTimeOffset? last, long used)
    {
        _metrics?.OutboxDropped.Add(dropped);
        LogDropped(_logger, dropped, first, last, new Bytes(_options.MaxOutboxSize), new Bytes(used));

        try
        {
            var values = _outbox.ReadAgentValues();
            long total = values.TryGetValue(KeyDroppedRows, out string? s) && long.TryParse(s, CultureInfo.InvariantCulture, out long t) ? t : 0;
            _outbox.WriteAgentValues(new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                [KeyDroppedRows] = (total + dropped).ToString(CultureInfo.InvariantCulture),
                [KeyLastDropAt] = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            });
        }
        catch (SqliteException ex)
        {
            LogFailed(_logger, ex);
        }
    }

    private long ReadUsedBytes()
    {
        try
        {
            return _outbox.ReadSize().UsedBytes;
        }
        catch (SqliteException)
        {
            return -1;
        }
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox data at {Before}, over maxOutboxSize {Max}: deleted the {Count} oldest result(s) that were already exported or need no export; now {After}")]
    private static partial void LogTrimmed(ILogger logger, long count, Bytes before, Bytes max, Bytes after);

    [LoggerMessage(Level = LogLevel.Error, Message = "RESULTS LOST: the outbox is over maxOutboxSize {Max} with results the central database has not received; dropped the {Count} oldest unexported result(s), started {First:O} to {Last:O}; now {After}. Fix the export (tocsin export status) or raise maxOutboxSize")]
    private static partial void LogDropped(ILogger logger, long count, DateTimeOffset? first, DateTimeOffset? last, Bytes max, Bytes after);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collector could not delete old results; retrying at the next interval")]
    private static partial void LogFailed(ILogger logger, Exception ex);
}

/// <summary>A byte count that logs as a size with a unit (e.g. <c>1GiB</c>), formatted only when the line is written.</summary>
internal readonly record struct Bytes(long Value)
{
    public override string ToString() => ByteSize.Format(Value);
}
