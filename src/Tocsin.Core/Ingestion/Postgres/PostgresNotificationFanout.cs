using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tocsin.Diagnostics;
using Tocsin.Export;

namespace Tocsin.Ingestion.Postgres;

/// <summary>
/// Live fan-out across the replicas sharing one PostgreSQL, in place of seed 002's ZMQ relay. A publish is delivered to this
/// replica's receivers at once (<see cref="LocalNotificationFanout"/>) and announced with <c>NOTIFY tocsin_ingest</c>: the
/// payloads name this replica (<see cref="ReplicaId"/>), the identity and the row ids (<see cref="FanoutPayload"/>: chunks
/// under PostgreSQL's 8000-byte limit, all sent in one statement). Every replica keeps one connection that <c>LISTEN</c>s;
/// on an announcement from another replica for an identity with receivers here, it reads the rows by id
/// (<see cref="IIngestionStore.ReadAsync"/>, notifications) and delivers them, newest first, to those receivers — once per
/// publish. Its own announcements are skipped (delivered locally already).
/// <para>When the listening connection fails it is opened again after a back-off (doubling from
/// <see cref="PostgresFanoutOptions.MinReconnectDelay"/> to <see cref="PostgresFanoutOptions.MaxReconnectDelay"/>, with
/// jitter, timed by the <see cref="TimeProvider"/>); the outage is logged once when it starts and once when it ends.
/// <para><b>Catch-up.</b> NOTIFY is not stored: announcements sent while this replica does not listen never reach it. So the
/// replica keeps a watermark, the highest notification id it knows was announced while it listened (the table's largest
/// id when listening starts, then every id announced, its own included). Once listening again after an outage it reads
/// the ids above the watermark of the identities that have receivers here (the newest
/// <see cref="PostgresFanoutOptions.CatchUpLimit"/>), and pushes those rows as announced ones: each row reaches a receiver
/// once (ids delivered here lately are remembered, so a row both announced and caught up, or published by this replica,
/// is not pushed twice). The read starts <see cref="CatchUpMargin"/> ids below the watermark, for rows whose ids were
/// reserved before and committed after it; so a row of the last <see cref="CatchUpMargin"/> ids committed before a receiver
/// subscribed may reach it as caught up. Older rows stay readable with <c>getNotifications</c>; so do rows committed
/// during an outage whose catch-up fails (logged).</para>
/// Nothing here throws for a delivery problem: failures are logged. Thread-safe.</para>
/// </summary>
public sealed partial class PostgresNotificationFanout : INotificationFanout
{
    /// <summary>The PostgreSQL notification channel.</summary>
    public const string ChannelName = "tocsin_ingest";

    /// <summary>How many of the ids delivered here lately are remembered, so that none is pushed twice.</summary>
    public const int RecentIdsCapacity = 65_536;

    /// <summary>
    /// How far below the watermark a catch-up starts: ids are reserved before their rows commit, so an upload of another
    /// replica may commit after rows with higher ids were announced; its rows are caught up when the gap is under this many
    /// ids (rows already delivered are remembered and not pushed again).
    /// </summary>
    public const int CatchUpMargin = 1_000;

    private readonly NpgsqlDataSource _dataSource;
    private readonly IIngestionStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PostgresFanoutOptions _options;
    private readonly LocalNotificationFanout _local;
    private static readonly KeyValuePair<string, object?> RemoteSource = new("source", "remote");
    private static readonly KeyValuePair<string, object?> CaughtUpSource = new("source", "caught_up");
    private static readonly KeyValuePair<string, object?> RemoteQueueFull = new("reason", "remote_queue_full");

    private readonly Channel<(string Identity, IReadOnlyList<long> Ids, bool CaughtUp)> _remote;
    private readonly TocsinMetrics? _metrics;
    private readonly Dictionary<(string Replica, long Sequence), List<long>> _partial = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly RecentIds _delivered = new(RecentIdsCapacity);
    private readonly Lock _startLock = new();
    private Task _listenLoop = Task.CompletedTask;
    private Task _fetchLoop = Task.CompletedTask;
    private bool _started;
    private long _sequence;
    private long _watermark = -1;
    private volatile bool _listening;

    /// <summary>
    /// Fans out over <paramref name="dataSource"/> (the shared data source of <c>externalDatabaseUri</c>, owned by the caller),
    /// reading other replicas' rows from <paramref name="store"/> (a <see cref="PostgresIngestionStore"/> on the same database,
    /// owned by the caller). Listens only after <see cref="StartAsync"/>.
    /// </summary>
    /// <param name="dataSource">The shared data source of <c>externalDatabaseUri</c> (owned by the caller).</param>
    /// <param name="store">The PostgreSQL ingestion store on the same database (owned by the caller).</param>
    /// <param name="timeProvider">Times reconnection back-off and outages.</param>
    /// <param name="loggerFactory">Outages, drops and catch-ups are logged (never a row's content).</param>
    /// <param name="options">Queue sizes, back-off, probe interval and catch-up limit (default: <see cref="PostgresFanoutOptions"/>).</param>
    /// <param name="metrics">Where pushes, drops, subscribed sockets and the listening state are counted (optional).</param>
    public PostgresNotificationFanout(NpgsqlDataSource dataSource, IIngestionStore store, TimeProvider timeProvider, ILoggerFactory loggerFactory, PostgresFanoutOptions? options = null, TocsinMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options ?? new PostgresFanoutOptions();
        _options.Validate();
        _dataSource = dataSource;
        _store = store;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger<PostgresNotificationFanout>();
        _metrics = metrics;
        _local = new LocalNotificationFanout(loggerFactory.CreateLogger<LocalNotificationFanout>(), _options.QueueCapacity, metrics);
        metrics?.ObserveGauge("tocsin.ingest.listening", () => _listening ? 1L : 0L, "{bool}",
            "1 while this replica listens on PostgreSQL for other replicas' notifications, 0 during an outage (pushed when it ends, see caught_up).");
        _remote = Channel.CreateBounded<(string, IReadOnlyList<long>, bool)>(
            new BoundedChannelOptions(_options.RemoteQueueCapacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>This replica's id in the announcements: 16 random hexadecimal digits, new for each instance.</summary>
    public string ReplicaId { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>Whether the listening connection is up (announcements of other replicas reach this one).</summary>
    public bool IsListening => _listening;

    /// <summary>
    /// Starts listening (and reading announced rows) in the background; returns when the first <c>LISTEN</c> is done or has
    /// failed (then it is retried in the background: starting never fails because PostgreSQL is down).
    /// </summary>
    /// <exception cref="InvalidOperationException">When started already.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled first (listening goes on).</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var firstAttempt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_startLock)
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            if (_started)
            {
                throw new InvalidOperationException("the fan-out is started already");
            }

            _started = true;
            _fetchLoop = Task.Run(FetchLoopAsync, CancellationToken.None);
            _listenLoop = Task.Run(() => ListenLoopAsync(firstAttempt), CancellationToken.None);
        }

        return firstAttempt.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public IDisposable Subscribe(string identity, Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> deliver) =>
        _local.Subscribe(identity, deliver);

    /// <inheritdoc />
    /// <remarks>Delivers locally, then sends the announcement (one round trip); a failure to announce is logged.</remarks>
    public async ValueTask PublishAsync(string identity, IReadOnlyList<StoredRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(rows);
        if (_local.HasSubscribers(identity))
        {
            // A row caught up in the meantime (committed, then read by a catch-up before this publish) is not pushed twice.
            var fresh = rows.Where(r => _delivered.TryAdd(r.Id)).ToList();
            await _local.PublishAsync(identity, fresh, cancellationToken).ConfigureAwait(false);
        }

        if (rows.Count == 0)
        {
            return;
        }

        try
        {
            var payloads = FanoutPayload.Encode(ReplicaId, Interlocked.Increment(ref _sequence), identity, rows.Select(r => r.Id));
            await using var cmd = _dataSource.CreateCommand("SELECT pg_notify(@channel, p) FROM unnest(@payloads) AS p;");
            cmd.Parameters.Add(new NpgsqlParameter<string>("channel", ChannelName));
            cmd.Parameters.Add(new NpgsqlParameter<string[]>("payloads", [.. payloads]));
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            string reason = Exporter.Describe(ex);
            LogAnnounceFailed(_logger, rows.Count, identity, reason);
        }
    }

    /// <summary>Stops listening and delivering, and waits for the loops. The data source and the store stay open.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_startLock)
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            _stop.Cancel();
        }

        _remote.Writer.TryComplete();
        await Task.WhenAll(_listenLoop, _fetchLoop).ConfigureAwait(false);
        await _local.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task ListenLoopAsync(TaskCompletionSource firstAttempt)
    {
        var token = _stop.Token;
        int failures = 0;
        DateTimeOffset? outageSince = null;
        long? catchUpFrom = null;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(token).ConfigureAwait(false);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand($"LISTEN {ChannelName};", connection))
                {
                    await listen.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }

                // Listening: what commits from now on is announced here. What committed before, since the watermark, is read
                // (on another connection: this one's last statement stays the LISTEN, as pg_stat_activity shows it). A
                // failure here costs the catch-up only, never the listening.
                await CatchUpAsync(catchUpFrom, token).ConfigureAwait(false);
                catchUpFrom = null;
                _listening = true;
                failures = 0;
                if (outageSince is { } since)
                {
                    var outage = _time.GetUtcNow() - since;
                    LogListeningAgain(_logger, outage);
                    outageSince = null;
                }

                firstAttempt.TrySetResult();
                try
                {
                    while (true)
                    {
                        if (!await connection.WaitAsync(_options.ProbeInterval, token).ConfigureAwait(false))
                        {
                            // Quiet for a while: make sure the connection is still there.
                            await using var probe = new NpgsqlCommand("SELECT 1;", connection);
                            await probe.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                        }
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    await UnlistenAsync(connection).ConfigureAwait(false);
                    throw;
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _listening = false;
                _partial.Clear();
                if (outageSince is null)
                {
                    outageSince = _time.GetUtcNow();
                    long watermark = Interlocked.Read(ref _watermark);
                    catchUpFrom = watermark >= 0 ? watermark : null;
                    string reason = Exporter.Describe(ex);
                    LogListenLost(_logger, reason, ex.GetType().Name);
                }

                firstAttempt.TrySetResult();
                failures++;
                try
                {
                    await Task.Delay(Backoff.Jittered(_options.MinReconnectDelay, _options.MaxReconnectDelay, failures), _time, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        _listening = false;
        firstAttempt.TrySetResult();
    }

    // Stopping: the connection goes back to the pool, where a session still listening would hold PostgreSQL's notification
    // queue back. Best effort (a connection broken by the cancellation is not pooled anyway).
    private async Task UnlistenAsync(NpgsqlConnection connection)
    {
        if (connection.FullState != System.Data.ConnectionState.Open)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
        try
        {
            await using var unlisten = new NpgsqlCommand("UNLISTEN *;", connection);
            await unlisten.ExecuteNonQueryAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or InvalidOperationException or TimeoutException or IOException)
        {
            // The connection is closed with the failure.
        }
    }

    // Runs on the listening loop (inside WaitAsync): reassembles a publish's chunks and queues it for reading.
    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel != ChannelName || !FanoutPayload.TryParse(e.Payload, out var chunk))
        {
            LogIgnored(_logger, e.Channel);
            return;
        }

        if (chunk.Replica == ReplicaId)
        {
            // Its own publish: delivered here already; it shows the connection heard everything announced up to these ids.
            if (chunk.Index == chunk.Count && chunk.Ids.Count > 0)
            {
                RaiseWatermark(chunk.Ids.Max());
            }

            return;
        }

        IReadOnlyList<long> ids = chunk.Ids;
        if (chunk.Count > 1)
        {
            var key = (chunk.Replica, chunk.Sequence);
            if (!_partial.TryGetValue(key, out var gathered))
            {
                if (_partial.Count >= _options.RemoteQueueCapacity)
                {
                    _partial.Clear();
                }

                _partial[key] = gathered = [];
            }

            gathered.AddRange(chunk.Ids);
            if (chunk.Index < chunk.Count)
            {
                return;
            }

            _partial.Remove(key);
            ids = gathered;
        }

        // Raised once the whole publish is heard (a connection lost between chunks leaves it to the catch-up).
        if (ids.Count > 0)
        {
            RaiseWatermark(ids.Max());
        }

        if (_local.HasSubscribers(chunk.Identity) && !_remote.Writer.TryWrite((chunk.Identity, ids, false)))
        {
            _metrics?.IngestPushesDropped.Add(1, RemoteQueueFull);
            LogRemoteDropped(_logger, ids.Count, chunk.Identity, _options.RemoteQueueCapacity);
        }
    }

    private async Task FetchLoopAsync()
    {
        var token = _stop.Token;
        try
        {
            await foreach (var (identity, ids, caughtUp) in _remote.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                if (!_local.HasSubscribers(identity))
                {
                    continue;
                }

                try
                {
                    var rows = await _store.ReadAsync(RowKind.Notifications, ids, token).ConfigureAwait(false);
                    foreach (var group in rows.Where(r => _delivered.TryAdd(r.Id)).GroupBy(r => r.Identity, StringComparer.Ordinal))
                    {
                        await _local.Deliver(group.Key, [.. group], caughtUp ? CaughtUpSource : RemoteSource).ConfigureAwait(false);
                    }
                }
                catch (IngestionStoreException ex)
                {
                    LogFetchFailed(_logger, ids.Count, identity, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private void RaiseWatermark(long id)
    {
        long seen = Interlocked.Read(ref _watermark);
        while (id > seen)
        {
            long was = Interlocked.CompareExchange(ref _watermark, id, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }

    private async Task<long> NewestIdAsync(CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT coalesce(max(id), 0) FROM tocsin.ingest_notifications;");
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    // Just listening (again): sets the watermark to the newest id, and after an outage (from: the watermark when it began)
    // first catches up on what committed meanwhile. A database failure is logged and costs only the catch-up.
    private async Task CatchUpAsync(long? from, CancellationToken cancellationToken)
    {
        try
        {
            long newest = await NewestIdAsync(cancellationToken).ConfigureAwait(false);
            if (from is { } watermark && newest > watermark - CatchUpMargin)
            {
                await CatchUpAsync(Math.Max(0, watermark - CatchUpMargin), newest, cancellationToken).ConfigureAwait(false);
            }

            RaiseWatermark(newest);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException or IOException)
        {
            LogCatchUpFailed(_logger, Exporter.Describe(ex));
        }
    }

    // Queues, as announcements, the rows in (from, upTo] of the identities with receivers here that were not delivered here
    // already, newest first up to CatchUpLimit. Runs on the listening loop before it waits: notifications are raised only
    // while it waits, so the channel still has one writer at a time.
    private async Task CatchUpAsync(long from, long upTo, CancellationToken cancellationToken)
    {
        string[] identities = _local.SubscribedIdentities();
        if (identities.Length == 0 || _options.CatchUpLimit == 0)
        {
            return;
        }

        var found = new List<(string Identity, long Id)>();
        await using (var cmd = _dataSource.CreateCommand(
            "SELECT identity, id FROM tocsin.ingest_notifications WHERE id > @from AND id <= @upTo AND identity = ANY(@identities) ORDER BY id DESC LIMIT @limit;"))
        {
            cmd.Parameters.Add(new NpgsqlParameter<long>("from", from));
            cmd.Parameters.Add(new NpgsqlParameter<long>("upTo", upTo));
            cmd.Parameters.Add(new NpgsqlParameter<string[]>("identities", identities));
            cmd.Parameters.Add(new NpgsqlParameter<int>("limit", _options.CatchUpLimit + 1));
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                found.Add((r.GetString(0), r.GetInt64(1)));
            }
        }

        bool more = found.Count > _options.CatchUpLimit;
        int queued = 0;
        foreach (var group in found.Take(_options.CatchUpLimit).Where(f => !_delivered.Contains(f.Id)).GroupBy(f => f.Identity, StringComparer.Ordinal))
        {
            long[] ids = [.. group.Select(f => f.Id).Order()];
            if (_remote.Writer.TryWrite((group.Key, ids, true)))
            {
                queued += ids.Length;
            }
            else
            {
                _metrics?.IngestPushesDropped.Add(1, RemoteQueueFull);
                LogRemoteDropped(_logger, ids.Length, group.Key, _options.RemoteQueueCapacity);
            }
        }

        if (queued > 0 || more)
        {
            LogCaughtUp(_logger, queued, more ? _options.CatchUpLimit : 0);
        }
    }

    /// <summary>A bounded set of the ids delivered here lately: the oldest is forgotten first. Thread-safe.</summary>
    private sealed class RecentIds(int capacity)
    {
        private readonly HashSet<long> _ids = [];
        private readonly Queue<long> _order = new();
        private readonly Lock _lock = new();

        public bool Contains(long id)
        {
            lock (_lock)
            {
                return _ids.Contains(id);
            }
        }

        public bool TryAdd(long id)
        {
            lock (_lock)
            {
                return AddLocked(id);
            }
        }

        private bool AddLocked(long id)
        {
            if (!_ids.Add(id))
            {
                return false;
            }

            _order.Enqueue(id);
            if (_order.Count > capacity)
            {
                _ids.Remove(_order.Dequeue());
            }

            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live notifications: could not read what other replicas committed while this one did not listen ({Reason}); those notifications are not pushed here (readable with getNotifications)")]
    private static partial void LogCatchUpFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Live notifications: {Rows} notification(s) committed by other replicas while not listening are pushed now (caught up){More}")]
    private static partial void LogCaughtUpCore(ILogger logger, int rows, string more);

    private static void LogCaughtUp(ILogger logger, int rows, int limit) =>
        LogCaughtUpCore(logger, rows, limit > 0 ? $"; older ones beyond the newest {limit} are not pushed (readable with getNotifications)" : "");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live notifications from other replicas stopped: cannot listen on PostgreSQL ({Reason}, {ExceptionType}); retrying with back-off")]
    private static partial void LogListenLost(ILogger logger, string reason, string exceptionType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Live notifications from other replicas flow again (listening on PostgreSQL after an outage of {Outage})")]
    private static partial void LogListeningAgain(ILogger logger, TimeSpan outage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live notifications: could not announce {Rows} notification(s) of {Identity} to the other replicas ({Reason}); their receivers there do not get them live")]
    private static partial void LogAnnounceFailed(ILogger logger, int rows, string identity, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live notifications: could not read {Rows} notification(s) of {Identity} announced by another replica ({Reason}); not pushed here")]
    private static partial void LogFetchFailed(ILogger logger, int rows, string identity, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live notifications: {Rows} notification(s) of {Identity} announced by another replica dropped ({Capacity} announcements waiting to be read)")]
    private static partial void LogRemoteDropped(ILogger logger, int rows, string identity, int capacity);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live notifications: ignored a notification on channel {Channel} that is not a Tocsin announcement")]
    private static partial void LogIgnored(ILogger logger, string channel);
}
