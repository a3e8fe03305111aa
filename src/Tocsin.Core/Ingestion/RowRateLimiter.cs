namespace Tocsin.Ingestion;

/// <summary>
/// The row rate of one connection: a token bucket refilled at <c>maxRowsPerSecond</c> rows per second, holding at most a
/// burst of one full upload (<c>maxRowsPerFrame</c>). An upload over the rate waits (<see cref="WaitAsync"/>) rather than
/// fails: the caller stops reading its socket meanwhile, which is the back-pressure the sender feels. Time from a
/// <see cref="TimeProvider"/>. Not meant for concurrent callers (one reader per connection), though safe.
/// </summary>
public sealed class RowRateLimiter
{
    private readonly TimeProvider _time;
    private readonly double _rowsPerSecond;
    private readonly double _burst;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _refilledAt;

    /// <summary>Creates a full bucket.</summary>
    /// <param name="rowsPerSecond">Refill rate, rows per second (&gt; 0).</param>
    /// <param name="burst">Capacity, rows (&gt; 0).</param>
    /// <param name="time">The clock.</param>
    public RowRateLimiter(int rowsPerSecond, int burst, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowsPerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _rowsPerSecond = rowsPerSecond;
        _burst = burst;
        _tokens = burst;
        _refilledAt = time.GetTimestamp();
    }

    /// <summary>The limiter of <paramref name="options"/>: <c>maxRowsPerSecond</c>, burst <c>maxRowsPerFrame</c>.</summary>
    public static RowRateLimiter For(IngestionOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new RowRateLimiter(options.MaxRowsPerSecond, options.MaxRowsPerFrame, time);
    }

    /// <summary>
    /// Takes <paramref name="rows"/> rows from the bucket and returns how long the caller must wait before sending them
    /// (zero when the bucket held enough). The rows are taken at once (the bucket may go below zero), so successive calls
    /// queue up in order.
    /// </summary>
    public TimeSpan Take(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_refilledAt, now).TotalSeconds * _rowsPerSecond));
            _refilledAt = now;
            _tokens -= rows;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _rowsPerSecond);
        }
    }

    /// <summary>Takes <paramref name="rows"/> rows and waits (on the <see cref="TimeProvider"/>) until the rate allows them.</summary>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled while waiting.</exception>
    public Task WaitAsync(int rows, CancellationToken cancellationToken)
    {
        var wait = Take(rows);
        return wait == TimeSpan.Zero ? Task.CompletedTask : Task.Delay(wait, _time, cancellationToken);
    }
}
