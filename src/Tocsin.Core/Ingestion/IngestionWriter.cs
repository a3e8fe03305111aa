using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tocsin.Diagnostics;

namespace Tocsin.Ingestion;

/// <summary>
/// The running server's <see cref="IIngestionWriter"/>: uploads of every connection wait in a bounded queue per kind (logs,
/// notifications) and commit loops per kind (<see cref="IIngestionStore.ConcurrentAppends"/>: 1 on SQLite, 4 on PostgreSQL)
/// each commit what is waiting in one transaction (group commit: no timer, the batch is whatever arrived while the loop's
/// previous transaction ran, up to <see cref="MaxRowsPerTransaction"/>). Each upload's task
/// completes after its transaction commits, or fails with <see cref="IngestionStoreException"/> (then none of that
/// upload's rows is stored: when a transaction of several uploads fails, each is tried again alone, so one bad upload
/// fails only itself). A full queue makes <see cref="SubmitAsync"/> wait: back-pressure up to the sockets.
/// </summary>
public sealed partial class IngestionWriter : IIngestionWriter, IAsyncDisposable
{
    /// <summary>Uploads waiting per kind before <see cref="SubmitAsync"/> waits.</summary>
    public const int QueueCapacity = 4096;

    /// <summary>Most rows in one transaction (an upload is never split).</summary>
    public const int MaxRowsPerTransaction = 50_000;

    private readonly IIngestionStore _store;
    private readonly TocsinMetrics? _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<RowKind, Channel<Pending>> _queues = [];
    private readonly Task[] _loops;

    /// <summary>
    /// Starts the commit loops over <paramref name="store"/> (already initialised). <paramref name="time"/> (default: the
    /// system's) times queue waits and transactions for <paramref name="metrics"/>.
    /// </summary>
    public IngestionWriter(IIngestionStore store, ILogger<IngestionWriter> logger, TocsinMetrics? metrics = null, TimeProvider? time = null)
    {
        _store = store;
        _logger = logger;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
        int loops = Math.Max(1, store.ConcurrentAppends);
        _loops = [.. Enum.GetValues<RowKind>().SelectMany(kind =>
        {
            var queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(QueueCapacity) { SingleReader = loops == 1, FullMode = BoundedChannelFullMode.Wait });
            _queues[kind] = queue;
            return Enumerable.Range(0, loops).Select(_ => Task.Run(() => CommitLoopAsync(kind, queue.Reader)));
        })];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredRow>> SubmitAsync(RowKind kind, IngestionBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentOutOfRangeException.ThrowIfZero(batch.Rows.Count);
        var pending = new Pending(batch, new TaskCompletionSource<IReadOnlyList<StoredRow>>(TaskCreationOptions.RunContinuationsAsynchronously), _time.GetTimestamp());
        try
        {
            await _queues[kind].Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new IngestionStoreException("not stored: the server is stopping");
        }

        // Handed over: the outcome is awaited whatever the token, so that an ack is never lost for a commit that happened.
        return await pending.Done.Task.ConfigureAwait(false);
    }

    /// <summary>Stops taking uploads, commits every upload already queued, and waits for the loops.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _queues.Values)
        {
            queue.Writer.TryComplete();
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
    }

    private async Task CommitLoopAsync(RowKind kind, ChannelReader<Pending> reader)
    {
        var tag = IngestionMetricTags.Of(kind);
        var taken = new List<Pending>();
        var batches = new List<IngestionBatch>();
        Pending? carried = null;
        while (carried is not null || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            taken.Clear();
            batches.Clear();
            int rows = 0;
            if (carried is not null)
            {
                taken.Add(carried);
                rows = carried.Batch.Rows.Count;
                carried = null;
            }

            while (reader.TryRead(out var next))
            {
                if (taken.Count > 0 && rows + next.Batch.Rows.Count > MaxRowsPerTransaction)
                {
                    carried = next;
                    break;
                }

                taken.Add(next);
                rows += next.Batch.Rows.Count;
            }

            if (taken.Count == 0)
            {
                continue;
            }

            batches.AddRange(taken.Select(p => p.Batch));
            if (_metrics is not null)
            {
                long now = _time.GetTimestamp();
                foreach (var p in taken)
                {
                    _metrics.IngestQueueWait.Record(_time.GetElapsedTime(p.QueuedAt, now).TotalMilliseconds, tag);
                }
            }

            if (!await CommitAsync(kind, tag, taken, batches, rows).ConfigureAwait(false) && taken.Count > 1)
            {
                // One bad upload must not fail the others that shared its transaction: each is tried alone.
                foreach (var p in taken)
                {
                    await CommitAsync(kind, tag, [p], [p.Batch], p.Batch.Rows.Count).ConfigureAwait(false);
                }
            }
        }
    }

    // Commits; on success completes every upload. On failure completes them with the error only when they were alone.
    private async Task<bool> CommitAsync(RowKind kind, KeyValuePair<string, object?> tag, List<Pending> taken, List<IngestionBatch> batches, int rows)
    {
        long started = _time.GetTimestamp();
        try
        {
            var ids = await _store.AppendAsync(kind, batches, CancellationToken.None).ConfigureAwait(false);
            _metrics?.IngestCommitDuration.Record(_time.GetElapsedTime(started).TotalMilliseconds, tag);
            _metrics?.IngestedRows.Add(rows, tag);
            _metrics?.IngestBatchRows.Record(rows, tag);
            for (int i = 0; i < taken.Count; i++)
            {
                taken[i].Done.TrySetResult(DirectIngestionWriter.Stored(taken[i].Batch, ids[i]));
            }

            return true;
        }
        catch (Exception ex)
        {
            _metrics?.IngestCommitDuration.Record(_time.GetElapsedTime(started).TotalMilliseconds, tag);
            _metrics?.IngestFailures.Add(1, tag);
            var failure = ex as IngestionStoreException ?? new IngestionStoreException($"not stored: {ex.GetType().Name}: {ex.Message}", ex);
            LogCommitFailed(_logger, tag.Value!, taken.Count, rows, failure.Message);
            if (taken.Count == 1)
            {
                taken[0].Done.TrySetException(failure);
            }

            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion: {Kind} transaction of {Uploads} upload(s), {Rows} row(s) failed, answered success:false: {Reason}")]
    private static partial void LogCommitFailed(ILogger logger, object kind, int uploads, int rows, string reason);

    private sealed record Pending(IngestionBatch Batch, TaskCompletionSource<IReadOnlyList<StoredRow>> Done, long QueuedAt);
}
