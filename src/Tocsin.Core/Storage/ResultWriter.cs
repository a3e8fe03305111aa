using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;
using Tocsin.State;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Storage;

/// <summary>Result writer settings.</summary>
public sealed record ResultWriterOptions
{
    /// <summary>Results waiting to be written before producers wait (back-pressure). <value>Default: 10,000.</value></summary>
    public int QueueCapacity { get; init; } = 10_000;

    /// <summary>Most results committed in one transaction. <value>Default: 2,000.</value></summary>
    public int MaxBatchSize { get; init; } = 2_000;

    /// <summary>Longest wait between retries of a failed batch. <value>Default: 30 s.</value></summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Each check's state thresholds by check name (see <see cref="StateThresholds.Lookup"/>), applied as results are
    /// committed. <value>Default: null, every check 1 and 1.</value>
    /// </summary>
    public Func<string, StateThresholds>? Thresholds { get; init; }
}

/// <summary>
/// Takes results through a bounded channel and commits them in batches to the <see cref="SqliteOutbox"/>.
/// When the queue is full, <see cref="WriteAsync"/> waits: runners slow down instead of memory growing.
/// A batch that fails to commit (disk full, locked file) is kept and retried with exponential back-off;
/// no result that was accepted is dropped. <see cref="StopAsync"/> writes everything accepted before returning.
/// </summary>
public sealed partial class ResultWriter : IResultSink
{
    private readonly SqliteOutbox _outbox;
    private readonly ResultWriterOptions _options;
    private readonly TimeProvider _time;
    private readonly TocsinMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Channel<CheckResult> _channel;
    private Task? _loop;
    private long _written;
    private Action<IReadOnlyList<CheckResult>>[] _committed = [];

    /// <summary>Creates the writer; call <see cref="Start"/> before writing.</summary>
    public ResultWriter(SqliteOutbox outbox, ResultWriterOptions options, TimeProvider time, TocsinMetrics metrics, ILogger<ResultWriter> logger)
    {
        _outbox = outbox;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _channel = Channel.CreateBounded<CheckResult>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        metrics.ObserveGauge("tocsin.results.queued", () => _channel.Reader.Count, "{result}", "Results waiting to be written to the outbox.");
    }

    /// <summary>Results committed so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Results accepted and not yet committed.</summary>
    public int Queued => _channel.Reader.Count;

    /// <summary>
    /// Adds <paramref name="observer"/>, called on the writer's loop with each batch right after it is committed to the
    /// outbox (so what it reads from the outbox includes the batch). It must return quickly and never block (hand the
    /// work to a bounded queue of its own): the next batch waits for it. The list is reused once it returns: copy what
    /// is kept. An exception it throws is logged and ignored.
    /// </summary>
    public void OnCommitted(Action<IReadOnlyList<CheckResult>> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        Action<IReadOnlyList<CheckResult>>[] current, next;
        do
        {
            current = Volatile.Read(ref _committed);
            next = [.. current, observer];
        }
        while (Interlocked.CompareExchange(ref _committed, next, current) != current);
    }

    /// <summary>Starts the background loop that commits batches.</summary>
    public void Start() => _loop ??= Task.Run(LoopAsync);

    /// <inheritdoc />
    public ValueTask WriteAsync(CheckResult result, CancellationToken cancellationToken)
    {
        if (_channel.Writer.TryWrite(result))
        {
            return ValueTask.CompletedTask;
        }

        return _channel.Writer.WriteAsync(result, cancellationToken);
    }

    /// <summary>Stops accepting results and returns once every accepted result is committed.</summary>
    public async Task StopAsync()
    {
        _channel.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    private async Task LoopAsync()
    {
        var batch = new List<CheckResult>(_options.MaxBatchSize);
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var r))
            {
                batch.Add(r);
            }

            await CommitAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    private async Task CommitAsync(List<CheckResult> batch)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                _outbox.WriteBatch(batch, _options.Thresholds);
                Interlocked.Add(ref _written, batch.Count);
                _metrics.ResultsWritten.Add(batch.Count);
                NotifyCommitted(batch);
                return;
            }
            catch (Exception ex) when (ex is SqliteException or IOException)
            {
                _metrics.WriteFailures.Add(1);
                LogWriteFailed(_logger, ex, batch.Count, delay);
                await Task.Delay(delay, _time).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }
        }
    }

    private void NotifyCommitted(List<CheckResult> batch)
    {
        foreach (var observer in Volatile.Read(ref _committed))
        {
            try
            {
                observer(batch);
            }
            catch (Exception ex)
            {
                LogObserverFailed(_logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "An observer of committed results failed; the results are stored")]
    private static partial void LogObserverFailed(ILogger logger, Exception ex);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not commit {Count} result(s) to the outbox; retrying in {Delay}")]
    private static partial void LogWriteFailed(ILogger logger, Exception ex, int count, TimeSpan delay);
}
