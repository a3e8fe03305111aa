using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tocsin.Diagnostics;

namespace Tocsin.Ingestion;

/// <summary>
/// Live delivery within this process (the fan-out of a single replica, and the local half of
/// <see cref="Postgres.PostgresNotificationFanout"/>). Each receiver has its own bounded queue of batches (capacity given at
/// construction) drained by its own loop, so a slow or throwing receiver never holds up the publisher or the other receivers:
/// when its queue is full, the batch is dropped for it (logged once when it starts dropping, and with the count when it
/// catches up); when it throws, that batch is lost for it (logged). Thread-safe.
/// </summary>
public sealed partial class LocalNotificationFanout : INotificationFanout
{
    /// <summary>Batches waiting per receiver by default before new ones are dropped for it.</summary>
    public const int DefaultQueueCapacity = 64;

    private readonly ILogger _logger;
    private readonly int _queueCapacity;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Receiver[]> _receivers = new(StringComparer.Ordinal);
    private readonly TocsinMetrics? _metrics;
    private bool _disposed;
    private int _receiverCount;

    /// <summary>Delivers with a queue of <paramref name="queueCapacity"/> batches (1–100000) per receiver.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="queueCapacity"/> is outside 1–100000.</exception>
    public LocalNotificationFanout(ILogger<LocalNotificationFanout> logger, int queueCapacity = DefaultQueueCapacity, TocsinMetrics? metrics = null)
        : this((ILogger)logger, queueCapacity, metrics)
    {
    }

    internal LocalNotificationFanout(ILogger logger, int queueCapacity, TocsinMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(queueCapacity, 100_000);
        _logger = logger;
        _queueCapacity = queueCapacity;
        _metrics = metrics;
        metrics?.ObserveGauge("tocsin.ingest.subscribers", () => (long)ReceiverCount, "{socket}",
            "User sockets subscribed to live notifications on this replica.");
    }

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">When the fan-out was disposed.</exception>
    public IDisposable Subscribe(string identity, Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> deliver)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(deliver);
        Receiver receiver;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            receiver = new Receiver(this, identity, deliver);
            _receivers[identity] = _receivers.TryGetValue(identity, out var list) ? [.. list, receiver] : [receiver];
            _receiverCount++;
        }

        return receiver;
    }

    /// <summary>Whether a receiver of <paramref name="identity"/> is registered here now.</summary>
    public bool HasSubscribers(string identity)
    {
        lock (_lock)
        {
            return _receivers.ContainsKey(identity);
        }
    }

    /// <summary>How many receivers (user sockets) are registered here now; the gauge <c>tocsin.ingest.subscribers</c>.</summary>
    public int ReceiverCount => Volatile.Read(ref _receiverCount);

    /// <summary>The identities with at least one receiver registered here now (a snapshot).</summary>
    public string[] SubscribedIdentities()
    {
        lock (_lock)
        {
            return [.. _receivers.Keys];
        }
    }

    /// <inheritdoc />
    /// <remarks>Queues <paramref name="rows"/> (sorted newest first: time, then id, descending) for every local receiver of
    /// <paramref name="identity"/> and returns at once.</remarks>
    public ValueTask PublishAsync(string identity, IReadOnlyList<StoredRow> rows, CancellationToken cancellationToken) =>
        Deliver(identity, rows, LocalSource);

    /// <summary>The <c>source</c> tag of rows uploaded through this replica.</summary>
    internal static readonly KeyValuePair<string, object?> LocalSource = new("source", "local");

    // Queues rows for the identity's receivers; counted as pushes from source when there is at least one.
    internal ValueTask Deliver(string identity, IReadOnlyList<StoredRow> rows, KeyValuePair<string, object?> source)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(rows);
        Receiver[]? receivers;
        lock (_lock)
        {
            _receivers.TryGetValue(identity, out receivers);
        }

        if (receivers is null || rows.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        _metrics?.IngestPushes.Add(rows.Count, source);
        StoredRow[] newestFirst = [.. rows.OrderByDescending(r => r.Time).ThenByDescending(r => r.Id)];
        foreach (var receiver in receivers)
        {
            receiver.Offer(newestFirst);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Stops every receiver (batches still queued are not delivered) and waits for their loops.</summary>
    public async ValueTask DisposeAsync()
    {
        Receiver[] all;
        lock (_lock)
        {
            _disposed = true;
            all = [.. _receivers.Values.SelectMany(r => r)];
            _receivers.Clear();
            _receiverCount = 0;
        }

        foreach (var receiver in all)
        {
            receiver.Dispose();
        }

        await Task.WhenAll(all.Select(r => r.Loop)).ConfigureAwait(false);
    }

    private void Remove(Receiver receiver)
    {
        lock (_lock)
        {
            if (_receivers.TryGetValue(receiver.Identity, out var list))
            {
                Receiver[] rest = [.. list.Where(r => r != receiver)];
                _receiverCount -= list.Length - rest.Length;
                if (rest.Length == 0)
                {
                    _receivers.Remove(receiver.Identity);
                }
                else
                {
                    _receivers[receiver.Identity] = rest;
                }
            }
        }
    }

    /// <summary>One subscription: its queue, its delivery loop, and the handle that ends it.</summary>
    private sealed class Receiver : IDisposable
    {
        private static readonly KeyValuePair<string, object?> SlowReceiver = new("reason", "slow_receiver");

        private readonly LocalNotificationFanout _owner;
        private readonly Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> _deliver;
        private readonly Channel<IReadOnlyList<StoredRow>> _queue;
        private readonly CancellationTokenSource _stop = new();
        private int _dropped;
        private int _disposed;

        public Receiver(LocalNotificationFanout owner, string identity, Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> deliver)
        {
            _owner = owner;
            Identity = identity;
            _deliver = deliver;
            _queue = Channel.CreateBounded<IReadOnlyList<StoredRow>>(
                new BoundedChannelOptions(owner._queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
            Loop = Task.Run(RunAsync);
        }

        public string Identity { get; }

        public Task Loop { get; }

        public void Offer(IReadOnlyList<StoredRow> rows)
        {
            if (!_queue.Writer.TryWrite(rows) && Volatile.Read(ref _disposed) == 0)
            {
                _owner._metrics?.IngestPushesDropped.Add(1, SlowReceiver);
                if (Interlocked.Increment(ref _dropped) == 1)
                {
                    LogDropping(_owner._logger, Identity, _owner._queueCapacity);
                }
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _owner.Remove(this);
            _queue.Writer.TryComplete();
            _stop.Cancel();
            // The token stays valid for a delivery still running; released once the loop has ended.
            _ = Loop.ContinueWith(static (_, stop) => ((CancellationTokenSource)stop!).Dispose(), _stop,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private async Task RunAsync()
        {
            var token = _stop.Token;
            try
            {
                while (await _queue.Reader.WaitToReadAsync(token).ConfigureAwait(false))
                {
                    while (_queue.Reader.TryRead(out var rows))
                    {
                        try
                        {
                            await _deliver(rows, token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (token.IsCancellationRequested)
                        {
                            return;
                        }
                        catch (Exception ex)
                        {
                            LogDeliveryFailed(_owner._logger, Identity, rows.Count, ex.GetType().Name, ex.Message);
                        }

                        int dropped = Interlocked.Exchange(ref _dropped, 0);
                        if (dropped > 0)
                        {
                            LogCaughtUp(_owner._logger, Identity, dropped);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Unsubscribed or stopping.
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live notifications: a receiver of {Identity} is too slow ({Capacity} batches waiting); new batches are dropped for it until it catches up")]
    private static partial void LogDropping(ILogger logger, string identity, int capacity);

    [LoggerMessage(Level = LogLevel.Information, Message = "Live notifications: a receiver of {Identity} caught up after {Dropped} batch(es) were dropped for it")]
    private static partial void LogCaughtUp(ILogger logger, string identity, int dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live notifications: a receiver of {Identity} failed to take {Rows} row(s), lost for it ({ExceptionType}: {Reason})")]
    private static partial void LogDeliveryFailed(ILogger logger, string identity, int rows, string exceptionType, string reason);
}
