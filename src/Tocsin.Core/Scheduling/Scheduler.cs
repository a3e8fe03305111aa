using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Diagnostics;

namespace Tocsin.Scheduling;

/// <summary>Scheduler settings.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Most runs in flight at once across all checks. <value>Default: 1024.</value></summary>
    public int MaxConcurrentRuns { get; init; } = 1024;

    /// <summary>
    /// Decides, at each due time, whether this agent runs the check (e.g. it owns the check's shard);
    /// runs not owned are passed over silently and counted in <see cref="Scheduler.RunsNotOwned"/>.
    /// <value>Default: null, every check runs.</value>
    /// </summary>
    public Func<CheckDefinition, bool>? Owns { get; init; }

    /// <summary>How long a stop waits for runs in flight before cancelling them. <value>Default: 5 s.</value></summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Runs every enabled check at a fixed rate on a grid tied to the wall clock: a check's runs are due at
/// <c>Unix epoch + phase + k × interval</c> (see <see cref="FirstDue"/>), whatever earlier runs took (no drift,
/// unlike seed 004's latency + interval). The phase comes from a stable hash of the check's name, so thousands of
/// checks do not fire at once, a restart keeps each check's due times, and every agent of a fleet has the same
/// due times for a check, so a sharded check moving between agents is neither run twice nor skipped. A check never
/// runs twice at the same time: a run due while the previous one is still going is skipped, counted
/// (<c>tocsin.scheduler.skipped</c>) and logged (at most one line per check per minute, with the count). At most <see cref="SchedulerOptions.MaxConcurrentRuns"/>
/// runs are in flight. Every result goes to the <see cref="IResultSink"/>.
/// <para>A check with a <see cref="CheckDefinition.Schedule"/> (cron) is due at its occurrences instead of on the grid; the
/// same rules (no overlap, skip when behind, placement) apply.</para>
/// <para>The checks come from a <see cref="CheckCatalog"/> and follow its changes while running: a new check is scheduled
/// from its first due time after the change; a removed one is no longer scheduled (a run of it that is going finishes and
/// its result is kept); a changed one keeps its state (its entry, so the no-overlap rule holds across the change) and is
/// rescheduled when its schedule, interval or enabled flag changed.</para>
/// </summary>
public sealed partial class Scheduler : IDisposable
{
    /// <summary>Shortest time between two "skipped run" log lines of one check.</summary>
    public static readonly TimeSpan SkipLogInterval = TimeSpan.FromMinutes(1);

    private readonly CheckCatalog _catalog;
    private readonly CheckExecutor _executor;
    private readonly IResultSink _sink;
    private readonly SchedulerOptions _options;
    private readonly TimeProvider _time;
    private readonly TocsinMetrics _metrics;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _limit;
    private int _inFlight;
    private TaskCompletionSource? _drained;
    // Replaced (never changed in place) by the scheduling loop when the catalog changes; read by RunNow from any thread.
    private Dictionary<string, Entry> _entries;

    // Entries of removed checks whose run was still going, so a check added back under the same name cannot overlap it.
    private readonly Dictionary<string, Entry> _retired = new(StringComparer.Ordinal);
    private long _appliedVersion;
    private readonly CancellationTokenSource _runs = new();
    private bool _stopRequested;
    private long _lastBehindLogTicks;
    private long _notOwned;
    private long _started, _skippedOverlap, _skippedBehind, _skippedStopping, _cancelled;
    private int _running;
    private long _lastLoopTicks;

    /// <summary>Creates the scheduler for a fixed set of <paramref name="checks"/> (disabled ones are never run).</summary>
    public Scheduler(
        IReadOnlyList<CheckDefinition> checks, CheckExecutor executor, IResultSink sink, SchedulerOptions options,
        TimeProvider time, TocsinMetrics metrics, ILogger<Scheduler> logger)
        : this(new CheckCatalog(checks), executor, sink, options, time, metrics, logger)
    {
    }

    /// <summary>Creates the scheduler for the checks of <paramref name="catalog"/>, following its changes (disabled checks are never run).</summary>
    public Scheduler(
        CheckCatalog catalog, CheckExecutor executor, IResultSink sink, SchedulerOptions options,
        TimeProvider time, TocsinMetrics metrics, ILogger<Scheduler> logger)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        _catalog = catalog;
        _executor = executor;
        _sink = sink;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _limit = new SemaphoreSlim(options.MaxConcurrentRuns, options.MaxConcurrentRuns);
        var snapshot = catalog.Current;
        _appliedVersion = snapshot.Version;
        _entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var check in snapshot.Checks)
        {
            _entries.TryAdd(check.Name, new Entry(check));
        }
    }

    /// <summary>Runs started so far.</summary>
    public long RunsStarted => Interlocked.Read(ref _started);

    /// <summary>Runs skipped because the check's previous run was still going.</summary>
    public long RunsSkippedOverlap => Interlocked.Read(ref _skippedOverlap);

    /// <summary>
    /// Runs skipped because the scheduler fell more than one interval behind (e.g. after a suspend), or
    /// because a run waited a whole interval for a slot (<see cref="SchedulerOptions.MaxConcurrentRuns"/>).
    /// </summary>
    public long RunsSkippedBehind => Interlocked.Read(ref _skippedBehind);

    /// <summary>
    /// Runs due but still waiting for a slot (<see cref="SchedulerOptions.MaxConcurrentRuns"/>) when a stop
    /// cancelled them: they never started.
    /// </summary>
    public long RunsSkippedStopping => Interlocked.Read(ref _skippedStopping);

    /// <summary>Runs started and then cancelled by a stop before they produced a result.</summary>
    public long RunsCancelled => Interlocked.Read(ref _cancelled);

    /// <summary>Due runs passed over because another agent owns the check (see <see cref="SchedulerOptions.Owns"/>).</summary>
    public long RunsNotOwned => Interlocked.Read(ref _notOwned);

    /// <summary>Runs in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Whether <see cref="RunAsync"/> is scheduling: true from its start until it returns or throws (a stop, or a
    /// crash of the loop). What <c>/readyz</c> reports as "scheduler running".
    /// </summary>
    public bool IsRunning => Volatile.Read(ref _running) == 1;

    /// <summary>
    /// When the scheduling loop last woke (UTC, from the <see cref="TimeProvider"/>), or null before its first pass.
    /// The loop sleeps until the next due run, so with long intervals this may be as old as the shortest interval.
    /// </summary>
    public DateTimeOffset? LastLoopAt => Interlocked.Read(ref _lastLoopTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>
    /// Where in its interval a check's first run falls: a fraction in [0, 1) of the interval from a
    /// stable hash (XxHash32) of the name.
    /// </summary>
    public static double Phase(string checkName) =>
        XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(checkName)) / (double)uint.MaxValue * 0.999999;

    /// <summary>
    /// The first due time at or after <paramref name="now"/> on the check's grid: <c>Unix epoch + Phase(name) ×
    /// interval + k × interval</c> (whole ticks). The grid is the same for every process with the same clock.
    /// </summary>
    public static DateTimeOffset FirstDue(string checkName, TimeSpan interval, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        long offset = (long)(interval.Ticks * Phase(checkName));
        long since = (now - DateTimeOffset.UnixEpoch).Ticks - offset;
        long k = since <= 0 ? 0 : ((since - 1) / interval.Ticks) + 1;
        return DateTimeOffset.UnixEpoch + TimeSpan.FromTicks(offset + (k * interval.Ticks));
    }

    /// <summary>
    /// Schedules and runs checks until <paramref name="stoppingToken"/> is cancelled, then waits up to
    /// <see cref="SchedulerOptions.StopGrace"/> for runs in flight, cancels the rest, and returns once
    /// every produced result was handed to the sink.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        Volatile.Write(ref _running, 1);
        try
        {
            await ScheduleAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private async Task ScheduleAsync(CancellationToken stoppingToken)
    {
        // An item whose generation is not its entry's any more was superseded (the check changed or was removed): dropped when met.
        var queue = new PriorityQueue<(Entry Entry, int Generation), DateTimeOffset>();
        var start = _time.GetUtcNow();
        foreach (var entry in Volatile.Read(ref _entries).Values.Where(e => e.Check.Enabled))
        {
            Enqueue(queue, entry, start);
        }

        LogStarted(_logger, queue.Count);
        var runs = _runs;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Interlocked.Exchange(ref _lastLoopTicks, _time.GetUtcNow().UtcTicks);
                FailPoints.Hit(FailPoints.SchedulerLoop);
                var changed = _catalog.WhenChanged;
                if (_catalog.Current is var snapshot && snapshot.Version != _appliedVersion)
                {
                    Apply(snapshot, queue, _time.GetUtcNow());
                }

                if (!queue.TryPeek(out var item, out var due))
                {
                    await WaitAsync(Timeout.InfiniteTimeSpan, changed, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                var (entry, generation) = item;
                if (generation != entry.Generation)
                {
                    queue.Dequeue();
                    continue;
                }

                var now = _time.GetUtcNow();
                if (due > now)
                {
                    await WaitAsync(due - now, changed, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                queue.Dequeue();
                Dispatch(entry, due, runs.Token);
                if (NextDue(entry.Check, due, now) is { } next)
                {
                    queue.Enqueue((entry, generation), next);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await DrainAsync(runs).ConfigureAwait(false);
    }

    /// <summary>
    /// The due time after <paramref name="due"/> of <paramref name="check"/>, or null when its cron schedule never fires again.
    /// When that is already more than one period behind <paramref name="now"/> (a suspend, a stalled loop), the missed runs are
    /// skipped, counted and logged, and the latest due time not after <paramref name="now"/> is returned (one catch-up run).
    /// </summary>
    private DateTimeOffset? NextDue(CheckDefinition check, DateTimeOffset due, DateTimeOffset now)
    {
        long missed = 0;
        DateTimeOffset next;
        if (check.Schedule is { } schedule)
        {
            if (schedule.Next(due) is not { } n)
            {
                return null;
            }

            next = n;
            while (schedule.Next(next) is { } later && later <= now)
            {
                next = later;
                if (++missed >= MaxCronCatchUp)
                {
                    // Far behind on a frequent schedule: stop walking and start again from now, without a catch-up run.
                    next = schedule.Next(now) ?? next;
                    break;
                }
            }
        }
        else
        {
            next = due + check.Interval;
            if (next + check.Interval <= now)
            {
                missed = (long)((now - next) / check.Interval);
                next += check.Interval * missed;
            }
        }

        if (missed > 0)
        {
            Interlocked.Add(ref _skippedBehind, missed);
            _metrics.RunsSkipped.Add(missed, new KeyValuePair<string, object?>("reason", "behind"));
            LogBehind(_logger, check.Name, missed);
        }

        return next;
    }

    private const int MaxCronCatchUp = 100_000;

    /// <summary>Queues <paramref name="entry"/>'s first due time at or after <paramref name="now"/>, under its current generation.</summary>
    private static void Enqueue(PriorityQueue<(Entry Entry, int Generation), DateTimeOffset> queue, Entry entry, DateTimeOffset now)
    {
        var check = entry.Check;
        DateTimeOffset? first = check.Schedule is { } schedule ? schedule.NextOrSame(now) : FirstDue(check.Name, check.Interval, now);
        if (first is { } due)
        {
            queue.Enqueue((entry, entry.Generation), due);
        }
    }

    /// <summary>Follows the catalog's <paramref name="snapshot"/>: adds, removes and updates entries (see the class remarks).</summary>
    private void Apply(CheckCatalogSnapshot snapshot, PriorityQueue<(Entry Entry, int Generation), DateTimeOffset> queue, DateTimeOffset now)
    {
        var old = Volatile.Read(ref _entries);
        var next = new Dictionary<string, Entry>(StringComparer.Ordinal);
        int added = 0, changed = 0, removed = 0;
        foreach (var name in _retired.Where(r => Volatile.Read(ref r.Value.Running) == 0).Select(r => r.Key).ToList())
        {
            _retired.Remove(name);
        }

        foreach (var check in snapshot.Checks)
        {
            if (old.TryGetValue(check.Name, out var entry) || _retired.Remove(check.Name, out entry))
            {
                var was = entry.Check;
                bool reschedule = !old.ContainsKey(check.Name) || was.Enabled != check.Enabled || was.Interval != check.Interval || !Equals(was.Schedule, check.Schedule);
                entry.Check = check;
                if (reschedule)
                {
                    entry.Generation++;
                    if (check.Enabled)
                    {
                        Enqueue(queue, entry, now);
                    }
                }

                if (!ReferenceEquals(was, check))
                {
                    changed += old.ContainsKey(check.Name) ? 1 : 0;
                    added += old.ContainsKey(check.Name) ? 0 : 1;
                }
            }
            else
            {
                entry = new Entry(check);
                added++;
                if (check.Enabled)
                {
                    Enqueue(queue, entry, now);
                }
            }

            next[check.Name] = entry;
        }

        foreach (var (name, entry) in old)
        {
            if (!next.ContainsKey(name))
            {
                entry.Generation++;
                removed++;
                if (Volatile.Read(ref entry.Running) != 0)
                {
                    _retired[name] = entry;
                }
            }
        }

        Volatile.Write(ref _entries, next);
        _appliedVersion = snapshot.Version;
        int enabled = next.Values.Count(e => e.Check.Enabled);
        LogCatalogApplied(_logger, snapshot.Version, added, changed, removed, enabled);
    }

    /// <summary>Waits <paramref name="delay"/> (on the <see cref="TimeProvider"/>) or until <paramref name="changed"/> completes.</summary>
    /// <exception cref="OperationCanceledException">When <paramref name="stoppingToken"/> is cancelled.</exception>
    private async Task WaitAsync(TimeSpan delay, Task changed, CancellationToken stoppingToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var delayed = Task.Delay(delay, _time, wait.Token);
        await Task.WhenAny(delayed, changed).ConfigureAwait(false);
        await wait.CancelAsync().ConfigureAwait(false);
        stoppingToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Runs every enabled check once, concurrently within the in-flight limit, hands each result to the
    /// sink, and returns the results in configuration order.
    /// </summary>
    public async Task<IReadOnlyList<CheckResult>> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var tasks = _catalog.Checks.Where(c => c.Enabled).Select(async check =>
        {
            await _limit.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Interlocked.Increment(ref _started);
                var result = await _executor.RunAsync(check, now, cancellationToken).ConfigureAwait(false);
                await _sink.WriteAsync(result, CancellationToken.None).ConfigureAwait(false);
                return result;
            }
            finally
            {
                _limit.Release();
            }
        }).ToList();
        return await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private void Dispatch(Entry entry, DateTimeOffset due, CancellationToken runsToken)
    {
        if (_options.Owns is { } owns && !owns(entry.Check))
        {
            Interlocked.Increment(ref _notOwned);
            return;
        }

        if (Interlocked.CompareExchange(ref entry.Running, 1, 0) != 0)
        {
            Interlocked.Increment(ref _skippedOverlap);
            _metrics.RunsSkipped.Add(1, new KeyValuePair<string, object?>("reason", "overlap"));
            entry.SkippedSinceLog++;
            if (entry.LastSkipLog is not { } last || due - last >= SkipLogInterval)
            {
                // One line per check per minute at most: a saturated agent must not drown in its own logs.
                LogOverlap(_logger, entry.Check.Name, entry.SkippedSinceLog, due);
                entry.SkippedSinceLog = 0;
                entry.LastSkipLog = due;
            }

            return;
        }

        Interlocked.Increment(ref _inFlight);
        _ = RunEntryAsync(entry, due, runsToken);
    }

    /// <summary>
    /// Runs <paramref name="checkName"/> now, out of its schedule, in the background: the result id is made now and
    /// returned at once, the run takes a slot like any other (<see cref="SchedulerOptions.MaxConcurrentRuns"/>) and its
    /// result goes to the sink. The check's no-overlap rule holds both ways: refused while a run of it is going, and a
    /// scheduled run due while this one goes is skipped. The check runs even when another agent owns it.
    /// </summary>
    /// <param name="checkName">The check's name (ordinal).</param>
    /// <returns>
    /// <see cref="RunNowStatus.Started"/> with the id the result will have and a task that completes once the result
    /// was handed to the sink (or the run was cancelled by a stop); else why it did not start:
    /// <see cref="RunNowStatus.UnknownCheck"/>, <see cref="RunNowStatus.Disabled"/>, <see cref="RunNowStatus.AlreadyRunning"/>
    /// or <see cref="RunNowStatus.Stopping"/>.
    /// </returns>
    public RunNowOutcome RunNow(string checkName)
    {
        ArgumentNullException.ThrowIfNull(checkName);
        if (!Volatile.Read(ref _entries).TryGetValue(checkName, out var entry))
        {
            return new RunNowOutcome(RunNowStatus.UnknownCheck, null, Task.CompletedTask);
        }

        if (!entry.Check.Enabled)
        {
            return new RunNowOutcome(RunNowStatus.Disabled, null, Task.CompletedTask);
        }

        if (Interlocked.CompareExchange(ref entry.Running, 1, 0) != 0)
        {
            return new RunNowOutcome(RunNowStatus.AlreadyRunning, null, Task.CompletedTask);
        }

        // Counted in flight before looking at the stop flag, so a stop that starts now waits for this run.
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _stopRequested))
        {
            Volatile.Write(ref entry.Running, 0);
            if (Interlocked.Decrement(ref _inFlight) == 0)
            {
                Volatile.Read(ref _drained)?.TrySetResult();
            }

            return new RunNowOutcome(RunNowStatus.Stopping, null, Task.CompletedTask);
        }

        var now = _time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        Interlocked.Increment(ref _runsNow);
        var run = RunEntryAsync(entry, now, _runs.Token, id);
        return new RunNowOutcome(RunNowStatus.Started, id, run);
    }

    /// <summary>Runs started by <see cref="RunNow"/>.</summary>
    public long RunsNow => Interlocked.Read(ref _runsNow);

    private long _runsNow;

    private async Task RunEntryAsync(Entry entry, DateTimeOffset due, CancellationToken runsToken, Guid? resultId = null)
    {
        // The definition when the run was asked for: a change of the check while it waits or runs applies from the next run.
        var check = entry.Check;
        bool started = false;
        try
        {
            await _limit.WaitAsync(runsToken).ConfigureAwait(false);
            try
            {
                var lag = _time.GetUtcNow() - due;
                if (Volatile.Read(ref _stopRequested))
                {
                    // The stop grace is for runs already going, not for runs that got a slot during it.
                    Interlocked.Increment(ref _skippedStopping);
                    _metrics.RunsSkipped.Add(1, new KeyValuePair<string, object?>("reason", "stopping"));
                    return;
                }

                if (lag >= check.Interval)
                {
                    // Waited a whole interval for a slot: its result would be stale, and the next run is due.
                    Interlocked.Increment(ref _skippedBehind);
                    _metrics.RunsSkipped.Add(1, new KeyValuePair<string, object?>("reason", "behind"));
                    LogSlotWaitBehind(check.Name, lag);
                    return;
                }

                started = true;
                Interlocked.Increment(ref _started);
                _metrics.ScheduleLag.Record(lag.TotalMilliseconds);
                var result = await _executor.RunAsync(check, due, runsToken, resultId).ConfigureAwait(false);
                await _sink.WriteAsync(result, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _limit.Release();
            }
        }
        catch (OperationCanceledException) when (runsToken.IsCancellationRequested && started)
        {
            Interlocked.Increment(ref _cancelled);
        }
        catch (OperationCanceledException) when (runsToken.IsCancellationRequested)
        {
            // Cancelled while waiting for a slot: it never ran, so it is skipped, not a cancelled run.
            Interlocked.Increment(ref _skippedStopping);
            _metrics.RunsSkipped.Add(1, new KeyValuePair<string, object?>("reason", "stopping"));
        }
        catch (Exception ex)
        {
            LogSinkFailed(_logger, ex, check.Name);
        }
        finally
        {
            Volatile.Write(ref entry.Running, 0);
            if (Interlocked.Decrement(ref _inFlight) == 0)
            {
                Volatile.Read(ref _drained)?.TrySetResult();
            }
        }
    }

    private async Task DrainAsync(CancellationTokenSource runs)
    {
        Volatile.Write(ref _stopRequested, true);
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drained, drained);
        if (Volatile.Read(ref _inFlight) == 0)
        {
            drained.TrySetResult();
        }

        try
        {
            await drained.Task.WaitAsync(_options.StopGrace, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogCancellingRuns(_logger, InFlight, _options.StopGrace);
            await runs.CancelAsync().ConfigureAwait(false);
            await drained.Task.ConfigureAwait(false);
        }

        LogStopped(_logger, RunsStarted, RunsSkippedOverlap + RunsSkippedBehind + RunsSkippedStopping, RunsCancelled);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _limit.Dispose();
        _runs.Dispose();
    }

    /// <summary>Logs a run skipped after waiting a whole interval for a slot, at most once a minute for all checks.</summary>
    private void LogSlotWaitBehind(string check, TimeSpan lag)
    {
        long now = _time.GetUtcNow().UtcTicks;
        long last = Interlocked.Read(ref _lastBehindLogTicks);
        if (now - last >= SkipLogInterval.Ticks && Interlocked.CompareExchange(ref _lastBehindLogTicks, now, last) == last)
        {
            LogBehindSlot(_logger, check, lag, _options.MaxConcurrentRuns, RunsSkippedBehind);
        }
    }

    private sealed class Entry(CheckDefinition check)
    {
        private CheckDefinition _check = check;

        /// <summary>The current definition; replaced by the scheduling loop when the catalog changes it, read from any thread.</summary>
        public CheckDefinition Check
        {
            get => Volatile.Read(ref _check);
            set => Volatile.Write(ref _check, value);
        }

        public int Running;

        // Touched only by the scheduling loop: queue items of an older generation are dropped.
        public int Generation;

        // Touched only by the scheduling loop.
        public long SkippedSinceLog;

        public DateTimeOffset? LastSkipLog;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler started with {Count} enabled check(s)")]
    private static partial void LogStarted(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped {Count} run(s) of {Check}, the latest due {Due:O}: its previous run was still going")]
    private static partial void LogOverlap(ILogger logger, string check, long count, DateTimeOffset due);

    [LoggerMessage(Level = LogLevel.Information, Message = "Checks changed (catalog version {Version}): {Added} added, {Changed} changed, {Removed} removed; {Enabled} enabled check(s) scheduled")]
    private static partial void LogCatalogApplied(ILogger logger, long version, int added, int changed, int removed, int enabled);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scheduler fell behind: skipped {Missed} run(s) of {Check}")]
    private static partial void LogBehind(ILogger logger, string check, long missed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped a run of {Check} that waited {Lag} for one of the {Slots} run slots, a whole interval; {Total} run(s) skipped as behind so far. Raise scheduler.maxConcurrentRuns or lengthen intervals")]
    private static partial void LogBehindSlot(ILogger logger, string check, TimeSpan lag, int slots, long total);

    [LoggerMessage(Level = LogLevel.Error, Message = "Result of {Check} could not be handed to the outbox")]
    private static partial void LogSinkFailed(ILogger logger, Exception ex, string check);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cancelling {Count} run(s) still going after the stop grace of {Grace}")]
    private static partial void LogCancellingRuns(ILogger logger, int count, TimeSpan grace);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler stopped: {Started} run(s) started, {Skipped} skipped, {Cancelled} cancelled by the stop")]
    private static partial void LogStopped(ILogger logger, long started, long skipped, long cancelled);
}

/// <summary>Whether <see cref="Scheduler.RunNow"/> started a run.</summary>
public enum RunNowStatus
{
    /// <summary>The run started; its result will have the returned id.</summary>
    Started,
    /// <summary>No check has that name.</summary>
    UnknownCheck,
    /// <summary>The check is disabled (<c>"enabled": false</c>).</summary>
    Disabled,
    /// <summary>A run of the check is going (scheduled or run-now); checks never overlap themselves.</summary>
    AlreadyRunning,
    /// <summary>The agent is stopping.</summary>
    Stopping,
}

/// <summary>What <see cref="Scheduler.RunNow"/> did.</summary>
/// <param name="Status">Whether it started.</param>
/// <param name="ResultId">The id the result will have (UUIDv7 made when the run was asked for), when started.</param>
/// <param name="Completion">Completes once the result was handed to the sink (or the run ended without one); completed when not started.</param>
public sealed record RunNowOutcome(RunNowStatus Status, Guid? ResultId, Task Completion);
