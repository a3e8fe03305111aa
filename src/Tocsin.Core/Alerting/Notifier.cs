using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Diagnostics;

namespace Tocsin.Alerting;

/// <summary>Notifier settings.</summary>
public sealed record NotifierOptions
{
    /// <summary>How often pending work (events, commands, reminders, escalation, held notifications) is looked at without a wake-up. <value>Default: 1 s.</value></summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest one delivery may take before it counts as failed. <value>Default: 10 s.</value></summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Events processed per transaction. <value>Default: 1,000.</value></summary>
    public int EventBatch { get; init; } = 1_000;

    /// <summary>Notifications leased per channel per round. <value>Default: 200.</value></summary>
    public int DeliveryBatch { get; init; } = 200;

    /// <summary>Deliveries in flight at once per channel (different checks; one check's go one after the other). <value>Default: 16.</value></summary>
    public int MaxParallelPerChannel { get; init; } = 16;

    /// <summary>Delay before the first retry; doubled at each failure. <value>Default: 1 s.</value></summary>
    public TimeSpan MinRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest delay between retries. <value>Default: 5 min.</value></summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A notification not delivered this long after it was made is given up (logged, counted). <value>Default: 24 h.</value></summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Refusals that cannot be fixed by retrying (HTTP 4xx, SMTP 5xx) before a notification is given up. <value>Default: 5.</value></summary>
    public int MaxPermanentFailures { get; init; } = 5;

    /// <summary>The dashboard's public address (config <c>web.publicUrl</c>) for links, or null. <value>Default: null.</value></summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>How long delivered and given-up notifications are kept. <value>Default: 30 days.</value></summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>
/// Turns alert events into notifications and delivers them, on the leader only (the single agent without a central
/// database). One loop folds events and commands into <see cref="AlertRecord"/>s with the <see cref="AlertEngine"/> and stores
/// the notifications due (in the same transaction that marks the events processed: nothing lost, nothing made twice);
/// one loop per channel leases that channel's due notifications in order, sends them, and records each outcome, retrying
/// failures with exponential back-off (a failing channel never holds up the others, and its later notifications wait behind
/// the failed one so they arrive in order). A notification sent but whose outcome was not recorded (a crash, a lost
/// leadership) is sent again once its lease ends: at worst once more, with the same idempotency key.
/// </summary>
public sealed partial class Notifier : IAsyncDisposable
{
    private readonly IAlertStore _store;
    private readonly CheckCatalog _catalog;
    private readonly AlertEngine _engine;
    private readonly IReadOnlyDictionary<string, INotificationChannel> _channels;
    private readonly Func<bool> _isLeader;
    private readonly NotifierOptions _options;
    private readonly TimeProvider _time;
    private readonly TocsinMetrics? _metrics;
    private readonly ILogger _logger;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Dictionary<string, Channel<bool>> _deliveryWake = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Dictionary<string, AlertRecord>? _records;
    private volatile IReadOnlyList<AlertRecord> _snapshot = [];
    private readonly List<Task> _loops = [];
    private DateTimeOffset _lastPurge;

    /// <summary>Creates the notifier; call <see cref="Start"/>.</summary>
    /// <param name="store">Where events, records and notifications are.</param>
    /// <param name="catalog">The current checks (their alert policies).</param>
    /// <param name="maintenance">Configured maintenance windows.</param>
    /// <param name="channels">The configured channels by name.</param>
    /// <param name="isLeader">Whether this agent may notify now (always true for a single agent).</param>
    /// <param name="options">Settings.</param>
    /// <param name="time">The clock.</param>
    /// <param name="metrics">Counters, or null.</param>
    /// <param name="logger">Logger.</param>
    public Notifier(
        IAlertStore store, CheckCatalog catalog, IReadOnlyList<MaintenanceWindow> maintenance, IReadOnlyDictionary<string, INotificationChannel> channels,
        Func<bool> isLeader, NotifierOptions options, TimeProvider time, TocsinMetrics? metrics, ILogger<Notifier> logger)
    {
        _store = store;
        _catalog = catalog;
        _engine = new AlertEngine(name => _catalog.Current.Find(name), maintenance);
        _channels = channels;
        _isLeader = isLeader;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        foreach (string name in channels.Keys)
        {
            _deliveryWake[name] = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        }
    }

    /// <summary>How long an acknowledgement waits for its problem to reach the notifier (its event still on the way) before it is dropped.</summary>
    public static readonly TimeSpan AcknowledgementWait = TimeSpan.FromMinutes(5);

    /// <summary>The store.</summary>
    public IAlertStore Store => _store;

    /// <summary>The configured channels by name.</summary>
    public IReadOnlyDictionary<string, INotificationChannel> Channels => _channels;

    /// <summary>Whether this agent may notify now: the leader of the agents sharing a central database, or a single agent (always).</summary>
    public bool IsLeader => _isLeader();

    /// <summary>The records as of the latest pass (empty when not the leader).</summary>
    public IReadOnlyList<AlertRecord> Records => _snapshot;

    /// <summary>Starts the processing loop and one delivery loop per channel.</summary>
    public void Start()
    {
        if (_loops.Count > 0)
        {
            return;
        }

        _loops.Add(Task.Run(() => ProcessLoopAsync(_stop.Token)));
        foreach (var (name, channel) in _channels)
        {
            _loops.Add(Task.Run(() => DeliveryLoopAsync(channel, _deliveryWake[name], _stop.Token)));
        }
    }

    /// <summary>Asks for a processing pass now (new events were written, a command was stored).</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Stops the loops (deliveries in flight are cancelled; their leases end and they are sent again later).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task ProcessLoopAsync(CancellationToken ct)
    {
        var delay = _options.Tick;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                bool more = await ProcessOnceAsync(ct).ConfigureAwait(false);
                delay = _options.Tick;
                if (more)
                {
                    continue;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A store that cannot be read or written (PostgreSQL down, disk full): drop the cached records (re-read when back) and retry.
                _records = null;
                LogProcessFailed(_logger, ex, delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }

            await WaitAsync(_wake.Reader, delay, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One processing pass: applies pending commands and events, decides what is due, commits. True when more events are
    /// waiting (a full batch was read). Does nothing (and forgets the records) when not the leader.
    /// </summary>
    /// <exception cref="Exception">What the store throws; nothing is committed then.</exception>
    public async Task<bool> ProcessOnceAsync(CancellationToken cancellationToken)
    {
        if (!_isLeader())
        {
            _records = null;
            _snapshot = [];
            return false;
        }

        var now = _time.GetUtcNow();
        if (_records is null)
        {
            var loaded = await _store.ReadRecordsAsync(cancellationToken).ConfigureAwait(false);
            _records = loaded.ToDictionary(r => r.CheckName, StringComparer.Ordinal);
        }

        var records = _records;
        var silences = await _store.ReadSilencesAsync(now, cancellationToken).ConfigureAwait(false);
        _engine.Silences = silences.GroupBy(s => s.CheckName, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.MaxBy(s => s.EndsAt)!, StringComparer.Ordinal);
        var commands = await _store.ReadPendingCommandsAsync(500, cancellationToken).ConfigureAwait(false);
        var events = await _store.ReadPendingEventsAsync(_options.EventBatch, cancellationToken).ConfigureAwait(false);

        var dirty = new HashSet<AlertRecord>(ReferenceEqualityComparer.Instance);
        var due = new List<Notification>();
        AlertRecord? Find(string name) => records.GetValueOrDefault(name);
        foreach (var (_, e) in events)
        {
            if (!records.TryGetValue(e.CheckName, out var rec))
            {
                rec = new AlertRecord { CheckName = e.CheckName, Kind = e.Kind };
                records[e.CheckName] = rec;
            }

            // Each event is decided on its own, in order: a problem and its recovery read in the same pass (a short outage,
            // events that waited for a new leader) are both sent, unless held. A stale one (another agent's older or duplicate
            // report of a change) changes nothing.
            if (!AlertEngine.Apply(rec, e))
            {
                LogStaleEvent(_logger, e.CheckName, e.From, e.To, e.At, rec.Hard, rec.HardAt, e.Id);
                continue;
            }

            dirty.Add(rec);
            due.AddRange(_engine.Reconcile(rec, Find, now));
        }

        // Commands after events: an acknowledgement asked while the event of its problem was still pending (the API accepts it
        // when the agent's own state tracking says non-OK; with a central database events arrive at each export) finds the problem.
        // One whose problem has not reached the notifier yet (no record, or the record still OK) waits for it, up to
        // AcknowledgementWait; one that cannot apply otherwise (acknowledged already, another incident) is done.
        var doneCommands = new List<long>(commands.Count);
        foreach (var c in commands)
        {
            records.TryGetValue(c.CheckName, out var rec);
            if (c.Type == AlertCommandType.Acknowledge && rec is not null
                && (c.Target is null || c.Target == rec.IncidentId)
                && _engine.Acknowledge(rec, c.Author, c.Comment, now, c.Id, due))
            {
                dirty.Add(rec);
                LogAcknowledged(_logger, c.CheckName, c.Author ?? "(unknown)");
            }
            else if (c.Type == AlertCommandType.Acknowledge && (rec is null || rec.Hard == CheckState.OK) && now - c.CreatedAt < AcknowledgementWait)
            {
                continue;
            }

            doneCommands.Add(c.Seq);
        }

        foreach (var rec in records.Values)
        {
            if (!rec.Active && !dirty.Contains(rec))
            {
                continue;
            }

            var before = (rec.Notified, rec.NotifiedFlapping, rec.Reminders, rec.EscalationSteps, rec.HeldBecause);
            var made = _engine.Reconcile(rec, Find, now);
            if (made.Count > 0 || before != (rec.Notified, rec.NotifiedFlapping, rec.Reminders, rec.EscalationSteps, rec.HeldBecause))
            {
                dirty.Add(rec);
            }

            due.AddRange(made);
        }

        var notifications = new List<Notification>(due.Count);
        foreach (var n in due)
        {
            if (_channels.ContainsKey(n.Channel))
            {
                notifications.Add(_options.PublicUrl is { } url && n.CheckName.Length > 0
                    ? n with { Link = new Uri(url, "checks/" + Uri.EscapeDataString(n.CheckName)).ToString() }
                    : n);
            }
        }

        if (events.Count > 0 || doneCommands.Count > 0 || dirty.Count > 0)
        {
            await _store.CommitAsync([.. events.Select(e => e.Seq)], doneCommands, dirty, notifications, now, cancellationToken).ConfigureAwait(false);
        }

        _snapshot = [.. records.Values];
        foreach (string channel in notifications.Select(n => n.Channel).Distinct(StringComparer.Ordinal))
        {
            _deliveryWake[channel].Writer.TryWrite(true);
        }

        if (now - _lastPurge > TimeSpan.FromHours(1))
        {
            _lastPurge = now;
            await _store.PurgeAsync(now - _options.Retention, cancellationToken).ConfigureAwait(false);
        }

        return events.Count >= _options.EventBatch;
    }

    private async Task DeliveryLoopAsync(INotificationChannel channel, Channel<bool> wake, CancellationToken ct)
    {
        var delay = _options.Tick;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var (delivered, retryAt) = await DeliverOnceAsync(channel, ct).ConfigureAwait(false);
                delay = _options.Tick;
                if (delivered > 0 && retryAt is null)
                {
                    continue;
                }

                if (retryAt is { } at && at - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero && wait < delay)
                {
                    delay = wait;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogDeliveryLoopFailed(_logger, ex, channel.Name, delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }

            await WaitAsync(wake.Reader, delay, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One delivery round for <paramref name="channel"/>: leases its due notifications in order, sends them (one check's in
    /// order, different checks' in parallel), records the outcomes. Returns how many were delivered, and when the earliest
    /// failed one is due again (null when none failed).
    /// </summary>
    /// <exception cref="Exception">What the store throws.</exception>
    public async Task<(int Delivered, DateTimeOffset? RetryAt)> DeliverOnceAsync(INotificationChannel channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (!_isLeader())
        {
            return (0, null);
        }

        var now = _time.GetUtcNow();
        var leaseUntil = now + (2 * _options.DeliveryTimeout) + TimeSpan.FromSeconds(5);
        var batch = await _store.LeaseDueAsync(channel.Name, now, leaseUntil, _options.DeliveryBatch, cancellationToken).ConfigureAwait(false);
        if (batch.Count == 0)
        {
            return (0, null);
        }

        var outcomes = new List<DeliveryOutcome>(batch.Count);
        var gate = new object();
        int delivered = 0;
        DateTimeOffset? retryAt = null;
        var groups = batch.GroupBy(n => n.Notification.CheckName, StringComparer.Ordinal).ToList();
        try
        {
            await SendGroupsAsync().ConfigureAwait(false);
        }
        finally
        {
            // Recorded even when stopping: an outcome known (above all a delivery) is never thrown away, or it would be sent again.
            List<DeliveryOutcome> known;
            lock (gate)
            {
                known = [.. outcomes];
            }

            if (known.Count > 0)
            {
                await _store.RecordAsync(known, CancellationToken.None).ConfigureAwait(false);
            }
        }

        return (delivered, retryAt);

        Task SendGroupsAsync() => Parallel.ForEachAsync(groups, new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelPerChannel, CancellationToken = cancellationToken }, async (group, ct) =>
        {
            bool failed = false;
            foreach (var stored in group)
            {
                if (failed)
                {
                    // Behind a failed one of the same check: released (lease ended) without an attempt, so order holds.
                    lock (gate)
                    {
                        outcomes.Add(new DeliveryOutcome(stored.Seq, DeliveryStatus.Pending, stored.Attempts, stored.NextAttemptAt, stored.LastError, _time.GetUtcNow()));
                    }

                    continue;
                }

                var outcome = await SendAsync(channel, stored, ct).ConfigureAwait(false);
                lock (gate)
                {
                    outcomes.Add(outcome);
                    if (outcome.Status == DeliveryStatus.Delivered)
                    {
                        delivered++;
                    }
                    else if (outcome.Status == DeliveryStatus.Pending)
                    {
                        failed = true;
                        retryAt = retryAt is { } r && r < outcome.NextAttemptAt ? r : outcome.NextAttemptAt;
                    }
                }
            }
        });
    }

    private async Task<DeliveryOutcome> SendAsync(INotificationChannel channel, StoredNotification stored, CancellationToken ct)
    {
        var n = stored.Notification;
        int attempts = stored.Attempts + 1;
        long started = Stopwatch.GetTimestamp();
        string error;
        bool permanent = false;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            timeout.CancelAfter(_options.DeliveryTimeout);
            try
            {
                await channel.SendAsync(n, timeout.Token).ConfigureAwait(false);
                var at = _time.GetUtcNow();
                string type = n.Type.Name();
                double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                _metrics?.NotificationsDelivered.Add(1, new("channel", channel.Name), new("type", type));
                LogDelivered(_logger, type, n.CheckName, channel.Name, ms);
                return new DeliveryOutcome(stored.Seq, DeliveryStatus.Delivered, attempts, at, null, at);
            }
            catch (NotificationDeliveryException ex)
            {
                error = ex.Message;
                permanent = ex.Permanent;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                error = $"{channel.Type} \"{channel.Name}\": no answer within {_options.DeliveryTimeout.TotalSeconds:0.#} s";
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A channel bug must not stop deliveries; the type name only, as the message may hold a secret.
                error = $"{channel.Type} \"{channel.Name}\": {ex.GetType().Name}";
            }
        }

        var now = _time.GetUtcNow();
        _metrics?.NotificationFailures.Add(1, new KeyValuePair<string, object?>("channel", channel.Name));
        int permanentFailures = permanent ? attempts : 0;
        bool giveUp = now - stored.CreatedAt >= _options.MaxAge || (permanent && permanentFailures >= _options.MaxPermanentFailures);
        if (giveUp)
        {
            _metrics?.NotificationsGivenUp.Add(1, new KeyValuePair<string, object?>("channel", channel.Name));
            LogGivenUp(_logger, n.Type.Name(), n.CheckName, channel.Name, attempts, error);
            return new DeliveryOutcome(stored.Seq, DeliveryStatus.Failed, attempts, now, error, now);
        }

        var delay = TimeSpan.FromTicks(Math.Min(_options.MinRetryDelay.Ticks * (1L << Math.Min(attempts - 1, 30)), _options.MaxRetryDelay.Ticks));
        LogDeliveryFailed(_logger, n.Type.Name(), n.CheckName, channel.Name, attempts, error, delay);
        return new DeliveryOutcome(stored.Seq, DeliveryStatus.Pending, attempts, now + delay, error, now);
    }

    private static async Task WaitAsync(ChannelReader<bool> wake, TimeSpan delay, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(delay);
        try
        {
            await wake.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
            wake.TryRead(out _);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Alerting could not process events; retrying in {Delay}")]
    private static partial void LogProcessFailed(ILogger logger, Exception ex, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Deliveries to channel {Channel} stopped on an error; retrying in {Delay}")]
    private static partial void LogDeliveryLoopFailed(ILogger logger, Exception ex, string channel, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ignored a stale state event of {Check} ({From} -> {To} at {At:o}): not after the change to {Hard} applied at {HardAt:o} (event {Id})")]
    private static partial void LogStaleEvent(ILogger logger, string check, CheckState from, CheckState to, DateTimeOffset at, CheckState hard, DateTimeOffset? hardAt, Guid id);

    [LoggerMessage(Level = LogLevel.Information, Message = "Problem of {Check} acknowledged by {Author}")]
    private static partial void LogAcknowledged(ILogger logger, string check, string author);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Delivered {Type} of {Check} to {Channel} in {Ms:0.0} ms")]
    private static partial void LogDelivered(ILogger logger, string type, string check, string channel, double ms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not deliver {Type} of {Check} to {Channel} (attempt {Attempts}): {Error}; retrying in {Delay}")]
    private static partial void LogDeliveryFailed(ILogger logger, string type, string check, string channel, int attempts, string error, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up delivering {Type} of {Check} to {Channel} after {Attempts} attempt(s): {Error}")]
    private static partial void LogGivenUp(ILogger logger, string type, string check, string channel, int attempts, string error);
}
