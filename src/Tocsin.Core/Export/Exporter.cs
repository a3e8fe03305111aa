using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Export;

/// <summary>Exporter settings.</summary>
public sealed record ExporterOptions
{
    /// <summary>Rows read and sent in the first batch. <value>Default: 1,000.</value></summary>
    public int InitialBatchSize { get; init; } = 1_000;

    /// <summary>Smallest batch after failures shrink it. <value>Default: 100.</value></summary>
    public int MinBatchSize { get; init; } = 100;

    /// <summary>Largest batch; batches double up to it while they come back full and fast. <value>Default: 50,000.</value></summary>
    public int MaxBatchSize { get; init; } = 50_000;

    /// <summary>
    /// Share of a batch (0–0.5) taken from the newest unexported rows while a backlog waits, so new results reach the
    /// centre while an old backlog drains oldest first. <value>Default: 0.1.</value>
    /// </summary>
    public double NewestShare { get; init; } = 0.1;

    /// <summary>A full batch that took less than this lets the next one double. <value>Default: 2 s.</value></summary>
    public TimeSpan FastBatch { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Wait before looking again when the outbox has nothing (more) to export. <value>Default: 1 s.</value></summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Wait after the first failure; it doubles (with jitter) per failure in a row. <value>Default: 1 s.</value></summary>
    public TimeSpan MinRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between attempts while PostgreSQL fails. <value>Default: 60 s.</value></summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long results stay in the central database (whole day partitions are dropped after it). <value>Default: 30 days.</value></summary>
    public TimeSpan CentralRetention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Time between partition upkeep runs (create ahead, drop past retention). <value>Default: 1 hour.</value></summary>
    public TimeSpan MaintenanceInterval { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// What the exporter is doing, for <c>tocsin export status</c> and the API.
/// </summary>
/// <param name="PendingRows">Outbox results not exported yet.</param>
/// <param name="OldestPendingAge">How long ago the oldest pending result started, or null when none wait.</param>
/// <param name="LastSuccessAt">When a batch was last committed centrally and marked (UTC), or null.</param>
/// <param name="LastError">The last failure's reason (passwords redacted), or null; cleared by a success.</param>
/// <param name="LastErrorAt">When the last failure happened (UTC), or null.</param>
/// <param name="ConsecutiveFailures">Failed attempts since the last success.</param>
/// <param name="NextAttemptAt">When the next attempt after a failure is due (UTC), or null when not backing off.</param>
/// <param name="RowsExported">Results exported from this outbox since it was created (re-sent rows counted again;
/// read from the outbox, it may lag a few seconds behind a running agent).</param>
/// <param name="RowsPerSecond">Rate of the last batch (read, send, commit and mark), in rows per second.</param>
/// <param name="BatchSize">The current batch size, in rows.</param>
/// <param name="DroppedRows">Unexported results the collector deleted because the outbox passed <c>maxOutboxSize</c>
/// (lost for the central database), since the outbox was created.</param>
/// <param name="LastDropAt">When that last happened (UTC), or null.</param>
public sealed record ExportStatus(
    long PendingRows,
    TimeSpan? OldestPendingAge,
    DateTimeOffset? LastSuccessAt,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    int ConsecutiveFailures,
    DateTimeOffset? NextAttemptAt,
    long RowsExported,
    double RowsPerSecond,
    int BatchSize,
    long DroppedRows = 0,
    DateTimeOffset? LastDropAt = null);

/// <summary>
/// Exports the outbox to the central PostgreSQL, exactly once at the centre: reads unexported rows oldest
/// first, copies a batch (binary COPY) into a temporary staging table, inserts it into
/// <c>tocsin.results</c> with <c>ON CONFLICT DO NOTHING</c>, commits, and only then marks the rows exported
/// locally. A crash between the commit and the mark re-sends rows the insert then ignores.
/// <para>On failure it backs off exponentially with jitter (<see cref="ExporterOptions.MinRetryDelay"/> to
/// <see cref="ExporterOptions.MaxRetryDelay"/>), shrinks the batch, and keeps trying; nothing is lost since
/// the rows stay in the outbox. The batch doubles while batches come back full and fast.</para>
/// <para>At its first success talking to PostgreSQL it applies the central migrations (see
/// <see cref="CentralDatabase"/>); a database with a newer schema pauses export with a clear error.</para>
/// </summary>
public sealed partial class Exporter : IDisposable
{
    private readonly SqliteOutbox _outbox;
    private readonly NpgsqlDataSource _dataSource;
    private readonly CentralDatabase _central;
    private readonly ExporterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly long _rowsExportedBefore;
    private DateTimeOffset _lastPersisted = DateTimeOffset.MinValue;
    private bool _persistedFailure;
    private readonly Lock _statusLock = new();
    private bool _migrated;
    private DateTimeOffset _nextMaintenance = DateTimeOffset.MinValue;
    private int _batchSize;
    private DateTimeOffset? _lastSuccessAt;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private int _failures;
    private DateTimeOffset? _nextAttemptAt;
    private long _rowsExported;
    private double _rowsPerSecond;
    private readonly TocsinMetrics? _metrics;
    private ExportBacklog? _backlogCache;
    private DateTimeOffset _backlogReadAt;
    private bool _backlog;
    private readonly CopyBatch[] _batches = [new(), new()];
    private CopyBatch? _pending;
    private Task<CopyBatch?>? _lane;
    private int _laneOldest;

    /// <summary>
    /// Creates the exporter on a data source built once by the caller (who disposes it). With
    /// <paramref name="metrics"/>, it counts exported rows and failures and observes the gauges
    /// <c>tocsin.outbox.pending</c> (results waiting) and <c>tocsin.export.lag</c> (seconds since the oldest waiting result started).
    /// </summary>
    public Exporter(SqliteOutbox outbox, NpgsqlDataSource dataSource, ExporterOptions options, TimeProvider time, ILogger<Exporter> logger, TocsinMetrics? metrics = null)
    {
        _metrics = metrics;
        metrics?.ObserveGauge("tocsin.outbox.pending", () => CachedBacklog()?.Pending ?? -1, "{result}", "Results in the outbox waiting for export.");
        metrics?.ObserveGauge(
            "tocsin.export.lag",
            () => CachedBacklog() is { OldestStartedAt: { } oldest } ? Math.Max(0, (time.GetUtcNow() - oldest).TotalSeconds) : 0.0,
            "s",
            "Age of the oldest result waiting for export (0 when none wait).");
        _outbox = outbox;
        _dataSource = dataSource;
        _central = new CentralDatabase(dataSource);
        _options = options;
        _time = time;
        _logger = logger;
        _batchSize = Math.Clamp(options.InitialBatchSize, options.MinBatchSize, options.MaxBatchSize);
        _rowsExportedBefore = ReadPersisted(outbox.ReadAgentValues()).RowsExported;
    }

    /// <summary>Time between two saves of the status to the outbox while batches succeed (failures are saved at once). <value>5 s.</value></summary>
    public static readonly TimeSpan StatusSaveInterval = TimeSpan.FromSeconds(5);

    private const string KeyLastSuccess = "export.last_success_at";
    private const string KeyLastError = "export.last_error";
    private const string KeyLastErrorAt = "export.last_error_at";
    private const string KeyFailures = "export.consecutive_failures";
    private const string KeyNextAttempt = "export.next_attempt_at";
    private const string KeyRowsExported = "export.rows_exported";
    private const string KeyRowsPerSecond = "export.rows_per_second";
    private const string KeyBatchSize = "export.batch_size";

    /// <summary>
    /// The export status as the outbox knows it, without a running exporter (for <c>tocsin export status</c>):
    /// the backlog, and what the agent's exporter last saved (at most <see cref="StatusSaveInterval"/> old while it runs).
    /// </summary>
    /// <exception cref="SqliteException">When the outbox cannot be read.</exception>
    public static ExportStatus ReadStatus(SqliteOutbox outbox, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        var backlog = outbox.ReadExportBacklog();
        var saved = ReadPersisted(outbox.ReadAgentValues());
        return saved with
        {
            PendingRows = backlog.Pending,
            OldestPendingAge = backlog.OldestStartedAt is { } oldest ? (now - oldest < TimeSpan.Zero ? TimeSpan.Zero : now - oldest) : null,
        };
    }

    private static ExportStatus ReadPersisted(IReadOnlyDictionary<string, string> v)
    {
        static DateTimeOffset? Time(IReadOnlyDictionary<string, string> v, string key) =>
            v.TryGetValue(key, out string? s) && DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        static long Number(IReadOnlyDictionary<string, string> v, string key) =>
            v.TryGetValue(key, out string? s) && long.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out long n) ? n : 0;
        return new ExportStatus(
            0, null, Time(v, KeyLastSuccess), v.GetValueOrDefault(KeyLastError), Time(v, KeyLastErrorAt), (int)Number(v, KeyFailures),
            Time(v, KeyNextAttempt), Number(v, KeyRowsExported),
            v.TryGetValue(KeyRowsPerSecond, out string? r) && double.TryParse(r, System.Globalization.CultureInfo.InvariantCulture, out double rate) ? rate : 0,
            (int)Number(v, KeyBatchSize),
            Number(v, Storage.Collector.KeyDroppedRows),
            Time(v, Storage.Collector.KeyLastDropAt));
    }

    /// <summary>Saves the status to the outbox: at once after a failure or the first success after one, else at most every <see cref="StatusSaveInterval"/>.</summary>
    private void SaveStatus(bool failure, bool force = false)
    {
        var now = _time.GetUtcNow();
        if (!force && !failure && !_persistedFailure && now - _lastPersisted < StatusSaveInterval)
        {
            return;
        }

        static string? Iso(DateTimeOffset? t) => t?.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        Dictionary<string, string?> values;
        bool failing;
        lock (_statusLock)
        {
            failing = _failures > 0;
            values = new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                [KeyLastSuccess] = Iso(_lastSuccessAt),
                [KeyLastError] = _lastError,
                [KeyLastErrorAt] = Iso(_lastErrorAt),
                [KeyFailures] = _failures.ToString(System.Globalization.CultureInfo.InvariantCulture),
                [KeyNextAttempt] = Iso(_nextAttemptAt),
                [KeyRowsExported] = (_rowsExportedBefore + _rowsExported).ToString(System.Globalization.CultureInfo.InvariantCulture),
                [KeyRowsPerSecond] = _rowsPerSecond.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture),
                [KeyBatchSize] = _batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        try
        {
            _outbox.WriteAgentValues(values);
            _lastPersisted = now;
            _persistedFailure = failing;
        }
        catch (SqliteException ex)
        {
            LogStatusNotSaved(_logger, ex.SqliteErrorCode);
        }
    }

    /// <summary>Results exported by this exporter so far.</summary>
    public long RowsExported => Interlocked.Read(ref _rowsExported);

    /// <summary>Rows the next batch reads at most (adapts between the options' minimum and maximum).</summary>
    public int CurrentBatchSize => Volatile.Read(ref _batchSize);

    /// <summary>The current status; reads the backlog from the outbox.</summary>
    /// <exception cref="SqliteException">When the outbox cannot be read.</exception>
    public ExportStatus GetStatus()
    {
        var backlog = _outbox.ReadExportBacklog();
        var saved = ReadPersisted(_outbox.ReadAgentValues());
        var now = _time.GetUtcNow();
        lock (_statusLock)
        {
            return new ExportStatus(
                backlog.Pending,
                backlog.OldestStartedAt is { } oldest ? (now - oldest < TimeSpan.Zero ? TimeSpan.Zero : now - oldest) : null,
                _lastSuccessAt, _lastError, _lastErrorAt, _failures, _nextAttemptAt, _rowsExportedBefore + RowsExported, _rowsPerSecond, _batchSize,
                saved.DroppedRows, saved.LastDropAt);
        }
    }

    /// <summary>
    /// Longest age of the backlog the gauges report: a read counts the unexported rows' index (about 50–100 ms with a
    /// million rows waiting), so scrapes share one read per period. <value>10 s.</value>
    /// </summary>
    public static readonly TimeSpan BacklogGaugeRefresh = TimeSpan.FromSeconds(10);

    /// <summary>The backlog, read at most once per <see cref="BacklogGaugeRefresh"/> for the gauges.</summary>
    private ExportBacklog? CachedBacklog()
    {
        var now = _time.GetUtcNow();
        lock (_statusLock)
        {
            if (_backlogCache is { } cached && now - _backlogReadAt < BacklogGaugeRefresh)
            {
                return cached;
            }
        }

        ExportBacklog backlog;
        try
        {
            backlog = _outbox.ReadExportBacklog();
        }
        catch (SqliteException)
        {
            return null;
        }

        lock (_statusLock)
        {
            _backlogCache = backlog;
            _backlogReadAt = now;
        }

        return backlog;
    }

    /// <summary>
    /// Exports until <paramref name="stoppingToken"/> is cancelled: batch after batch while rows wait, then
    /// every <see cref="ExporterOptions.PollInterval"/>; after a failure, waits the back-off delay. Never throws
    /// for a failure of PostgreSQL or of the outbox.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                await ExportBatchAsync(stoppingToken).ConfigureAwait(false);
                wait = _backlog ? TimeSpan.Zero : _options.PollInterval;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (IsExportFailure(ex))
            {
                wait = RecordFailure(ex);
            }

            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await CompletePendingAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Copies the alert events state tracking wrote (up to 1,000 per call, oldest first) to <c>tocsin.alert_events</c>, where the
    /// leader's notifier reads them, then deletes them locally. An event copied twice (a crash before the delete) is kept once.
    /// </summary>
    private async Task ExportAlertEventsAsync(CancellationToken cancellationToken)
    {
        var events = _outbox.ReadUnexportedAlertEvents(1_000);
        if (events.Count == 0)
        {
            return;
        }

        await using (var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            await PostgresAlertStore.InsertEventsAsync(c, _outbox.AgentId, [.. events.Select(e => e.Event)], cancellationToken).ConfigureAwait(false);
        }

        _outbox.MarkAlertEventsExported([.. events.Select(e => e.Seq)]);
        if (events.Count == 1_000)
        {
            _backlog = true;
        }
    }

    /// <summary>
    /// Exports what waits, batch after batch, for at most <paramref name="budget"/> (used at shutdown, after the
    /// writer drained). Stops at the first failure (recorded in the status). Returns the rows exported.
    /// </summary>
    public async Task<long> FlushAsync(TimeSpan budget)
    {
        using var cts = new CancellationTokenSource(budget, _time);
        long total = 0;
        try
        {
            while (true)
            {
                total += await ExportBatchAsync(cts.Token).ConfigureAwait(false);
                if (!_backlog)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            LogFlushTimedOut(_logger, budget, total);
        }
        catch (Exception ex) when (IsExportFailure(ex))
        {
            RecordFailure(ex);
        }

        await CompletePendingAsync().ConfigureAwait(false);
        SaveStatus(failure: false, force: true);
        return total;
    }

    /// <summary>
    /// Exports one batch (up to the current batch size); returns how many rows it held (0 when nothing waits).
    /// A batch holds the oldest unexported rows and, while a backlog waits (the oldest rows fill their share),
    /// also up to <see cref="ExporterOptions.NewestShare"/> of the newest ones, so new results reach the centre
    /// while an old backlog drains. Applies the central migrations first when not done yet.
    /// <para>While a backlog drains, batches overlap: during the sending of this batch the previous one is marked
    /// exported and the next one is read, and this batch is marked during the next call (or when the exporter
    /// stops). A batch that does not fill its share is marked before this returns. Either way a batch is marked
    /// only after its central commit.</para>
    /// </summary>
    /// <exception cref="NpgsqlException">When PostgreSQL fails; the batch is not marked exported.</exception>
    /// <exception cref="SqliteException">When the outbox fails.</exception>
    /// <exception cref="CentralSchemaTooNewException">When the central schema is newer than this build's.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public async Task<int> ExportBatchAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _backlog = false;
            await PrepareCentralAsync(cancellationToken).ConfigureAwait(false);
            await ExportAlertEventsAsync(cancellationToken).ConfigureAwait(false);
            int size = _batchSize;
            int newest = _options.NewestShare > 0 ? Math.Max(1, (int)(size * Math.Min(0.5, _options.NewestShare))) : 0;
            int oldest = Math.Max(1, size - newest);
            long started = _time.GetTimestamp();

            // The previous call's lane marked the batch before it and may have read this one meanwhile
            // (with the shares of the size then).
            int readOldest = _laneOldest;
            var batch = await TakeLaneAsync().ConfigureAwait(false);
            if (batch is null || batch.Rows == 0)
            {
                MarkPending();
                batch = _batches[0];
                batch.Fill(_outbox, _outbox.AgentId, oldest, newest, inFlight: null);
                readOldest = oldest;
            }

            if (batch.Rows == 0)
            {
                RecordSuccess(0, TimeSpan.Zero, full: false);
                if (_persistedFailure)
                {
                    SaveStatus(failure: false);
                }

                return 0;
            }

            // The oldest rows filled their share: more wait behind them.
            bool backlog = batch.Read!.OldestCount >= readOldest;
            await _central.EnsurePartitionsAsync(batch.Days, cancellationToken).ConfigureAwait(false);

            // While this batch is sent: mark the previous one (committed), then read the next one past this one
            // into the other buffer (the previous batch's, once marked).
            var pending = _pending;
            _pending = null;
            var spare = ReferenceEquals(batch, _batches[0]) ? _batches[1] : _batches[0];
            _laneOldest = oldest;
            var inFlight = batch.Read;
            // On a thread of its own: it is seconds of SQLite work that must not hold a thread-pool thread the
            // scheduler and the runners need.
            var lane = pending is null && !backlog
                ? null
                : Task.Factory.StartNew<CopyBatch?>(() =>
                {
                    if (pending is not null)
                    {
                        _outbox.MarkExported(pending.Ids);
                    }

                    if (!backlog)
                    {
                        return null;
                    }

                    spare.Fill(_outbox, _outbox.AgentId, oldest, newest, inFlight);
                    return spare;
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            int inserted;
            try
            {
                inserted = await SendAsync(batch, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The previous batch is committed: let its mark finish; drop what was read ahead.
                await DrainLaneAsync(lane).ConfigureAwait(false);
                throw;
            }

            // Committed centrally: from here a crash only re-sends rows the insert ignores.
            Diagnostics.FailPoints.Hit(Diagnostics.FailPoints.ExportAfterCentralCommit);
            _pending = batch;
            _lane = lane;
            if (!backlog)
            {
                await TakeLaneAsync().ConfigureAwait(false);
                MarkPending();
            }

            int count = batch.Rows;
            var elapsed = _time.GetElapsedTime(started);
            if (inserted < count)
            {
                LogResent(_logger, count - inserted, count);
            }

            _backlog = backlog;
            RecordSuccess(count, elapsed, full: backlog);
            SaveStatus(failure: false);
            return count;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Waits for the lane (mark of the previous batch, read of the next) and returns what it read, or null.</summary>
    private async Task<CopyBatch?> TakeLaneAsync()
    {
        var lane = _lane;
        _lane = null;
        return lane is null ? null : await lane.ConfigureAwait(false);
    }

    /// <summary>Waits for a lane after a failure, keeping the failure that is being thrown.</summary>
    private async Task DrainLaneAsync(Task<CopyBatch?>? lane)
    {
        if (lane is null)
        {
            return;
        }

        try
        {
            await lane.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            // Its batch stays unmarked and is sent again later (ignored centrally).
            LogMarkFailed(_logger, ex.GetType().Name);
        }
    }

    /// <summary>Marks the batch committed last, when it is not marked yet.</summary>
    private void MarkPending()
    {
        var pending = _pending;
        _pending = null;
        if (pending is not null)
        {
            _outbox.MarkExported(pending.Ids);
        }
    }

    /// <summary>
    /// Marks the batch committed last when its mark still waits (it overlaps the next batch while a backlog
    /// drains). <see cref="RunAsync"/> and <see cref="FlushAsync"/> call it before they return.
    /// </summary>
    private async Task CompletePendingAsync()
    {
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await DrainLaneAsync(Interlocked.Exchange(ref _lane, null)).ConfigureAwait(false);
            MarkPending();
        }
        catch (SqliteException ex)
        {
            LogMarkFailed(_logger, ex.GetType().Name);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task PrepareCentralAsync(CancellationToken cancellationToken)
    {
        if (!_migrated)
        {
            int version = await _central.MigrateAsync(cancellationToken).ConfigureAwait(false);
            _migrated = true;
            LogMigrated(_logger, version);
        }

        var now = _time.GetUtcNow();
        if (now >= _nextMaintenance)
        {
            var dropped = await _central.MaintainPartitionsAsync(now, _options.CentralRetention, cancellationToken).ConfigureAwait(false);
            _nextMaintenance = now + _options.MaintenanceInterval;
            if (dropped.Count > 0)
            {
                LogPartitionsDropped(_logger, dropped.Count, dropped);
            }
        }
    }

    private async Task<int> SendAsync(CopyBatch batch, CancellationToken cancellationToken)
    {
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var create = new NpgsqlCommand(PostgresSchema.CreateStaging, c, tx))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // The batch is already in COPY's binary format (encoded while reading the outbox): it goes as it is,
        // straight into tocsin.results, which costs PostgreSQL about a third of staging it and inserting from
        // there. Rows already there (a batch sent again after a crash before the local mark) make it fail; then
        // the batch goes through the staging table with ON CONFLICT DO NOTHING.
        int inserted;
        await tx.SaveAsync("direct", cancellationToken).ConfigureAwait(false);
        try
        {
            await CopyAsync(c, PostgresSchema.CopyResults, batch.Data, cancellationToken).ConfigureAwait(false);
            await tx.ReleaseAsync("direct", cancellationToken).ConfigureAwait(false);
            inserted = batch.Rows;

            // The batch, without details, for the statements that follow in this transaction.
            await CopyAsync(c, PostgresSchema.CopyStaging, batch.StagingData, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await tx.RollbackAsync("direct", cancellationToken).ConfigureAwait(false);
            await CopyAsync(c, PostgresSchema.CopyStaging, batch.Data, cancellationToken).ConfigureAwait(false);
            await using var insert = new NpgsqlCommand(PostgresSchema.InsertFromStaging, c, tx);
            inserted = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // The fleet view's newest state per check, committed with the rows it comes from.
        await using (var states = new NpgsqlCommand(PostgresSchema.UpsertCheckStates, c, tx))
        {
            await states.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return inserted;
    }

    private static async Task CopyAsync(NpgsqlConnection c, string copyCommand, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await using var copy = await c.BeginRawBinaryCopyAsync(copyCommand, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(data, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Marks the batch committed last when its mark still waits (after <see cref="ExportBatchAsync"/> calls made without <see cref="RunAsync"/> or <see cref="FlushAsync"/>).</remarks>
    public void Dispose()
    {
        if (_lane is not null || _pending is not null)
        {
            CompletePendingAsync().GetAwaiter().GetResult();
        }

        _gate.Dispose();
    }

    private void RecordSuccess(int rows, TimeSpan elapsed, bool full)
    {
        lock (_statusLock)
        {
            _lastSuccessAt = _time.GetUtcNow();
            _lastError = null;
            _failures = 0;
            _nextAttemptAt = null;
            if (rows > 0)
            {
                _metrics?.ExportedRows.Add(rows);
                _rowsExported += rows;
                _rowsPerSecond = elapsed > TimeSpan.Zero ? rows / elapsed.TotalSeconds : 0;
                if (full && elapsed < _options.FastBatch)
                {
                    _batchSize = Math.Min(_options.MaxBatchSize, _batchSize * 2);
                }
            }
        }
    }

    private TimeSpan RecordFailure(Exception ex)
    {
        _central.ForgetPartitions();
        if (ex is CentralSchemaTooNewException)
        {
            // Not transient: look again only rarely.
            _migrated = false;
        }

        string reason = Describe(ex);
        _metrics?.ExportFailures.Add(1);
        TimeSpan delay;
        lock (_statusLock)
        {
            _failures++;
            _batchSize = Math.Max(_options.MinBatchSize, _batchSize / 2);
            delay = ex is CentralSchemaTooNewException ? _options.MaxRetryDelay : RetryDelay(_failures);
            _lastError = reason;
            _lastErrorAt = _time.GetUtcNow();
            _nextAttemptAt = _lastErrorAt + delay;
        }

        SaveStatus(failure: true);
        if (ex is CentralSchemaTooNewException)
        {
            LogSchemaTooNew(_logger, reason);
        }
        else if (_logger.IsEnabled(LogLevel.Warning))
        {
            LogExportFailed(_logger, reason, ex.GetType().Name, delay);
        }

        return delay;
    }

    /// <summary>The delay after <paramref name="failures"/> failures in a row: doubling from the minimum, capped, with jitter (75–100 %).</summary>
    internal TimeSpan RetryDelay(int failures) => Backoff.Jittered(_options.MinRetryDelay, _options.MaxRetryDelay, failures);

    /// <summary>A one-line reason for a failure, with any password redacted.</summary>
    internal static string Describe(Exception ex)
    {
        string text = ex.Message;
        if (ex is NpgsqlException { InnerException: { } inner } and not PostgresException && inner.Message.Length > 0 && !text.Contains(inner.Message.TrimEnd('.'), StringComparison.Ordinal))
        {
            text += ": " + inner.Message;
        }

        return Secrets.RedactConnectionString(text.ReplaceLineEndings(" "));
    }

    private static bool IsExportFailure(Exception ex) =>
        ex is NpgsqlException or SqliteException or CentralSchemaTooNewException or TimeoutException or IOException or SocketException
            or InvalidOperationException or OperationCanceledException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Export to PostgreSQL failed ({Reason}, {ExceptionType}); rows stay in the outbox; retrying in {Delay}")]
    private static partial void LogExportFailed(ILogger logger, string reason, string exceptionType, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not save the export status to the outbox (SQLite error {Code}); export goes on")]
    private static partial void LogStatusNotSaved(ILogger logger, int code);

    [LoggerMessage(Level = LogLevel.Error, Message = "Export paused: {Reason}")]
    private static partial void LogSchemaTooNew(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Central database schema at version {Version}")]
    private static partial void LogMigrated(ILogger logger, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped {Count} central partition(s) past retention: {Names}")]
    private static partial void LogPartitionsDropped(ILogger logger, int count, IReadOnlyList<string> names);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Duplicates} of {Count} exported row(s) were already in PostgreSQL (re-sent after an interrupted export) and were ignored")]
    private static partial void LogResent(ILogger logger, int duplicates, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not mark an exported batch in the outbox ({ExceptionType}); its rows will be sent again and ignored centrally")]
    private static partial void LogMarkFailed(ILogger logger, string exceptionType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Final export stopped after {Budget} with {Rows} row(s) exported; the rest stays in the outbox for the next start")]
    private static partial void LogFlushTimedOut(ILogger logger, TimeSpan budget, long rows);
}
