using Microsoft.Extensions.Time.Testing;
using Tocsin.Ingestion;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>The per-connection row bucket, on a fake clock.</summary>
public sealed class RowRateLimiterTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void A_full_burst_passes_at_once_then_rows_wait_for_the_refill()
    {
        var limiter = new RowRateLimiter(rowsPerSecond: 100, burst: 50, _time);

        Assert.Equal(TimeSpan.Zero, limiter.Take(50));
        Assert.Equal(TimeSpan.FromMilliseconds(100), limiter.Take(10));
        Assert.Equal(TimeSpan.FromMilliseconds(200), limiter.Take(10)); // queued behind the previous wait
    }

    [Fact]
    public void The_bucket_refills_with_time_up_to_the_burst()
    {
        var limiter = new RowRateLimiter(rowsPerSecond: 100, burst: 50, _time);
        limiter.Take(50);

        _time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.Equal(TimeSpan.Zero, limiter.Take(19));

        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(TimeSpan.Zero, limiter.Take(50));
        Assert.NotEqual(TimeSpan.Zero, limiter.Take(1));
    }

    [Fact]
    public async Task An_upload_over_the_rate_waits_until_the_clock_allows_it()
    {
        var limiter = RowRateLimiter.For(new IngestionOptions { MaxRowsPerSecond = 10, MaxRowsPerFrame = 10 }, _time);
        await limiter.WaitAsync(10, TestContext.Current.CancellationToken);

        var waiting = limiter.WaitAsync(5, TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await waiting.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Waiting_can_be_cancelled()
    {
        var limiter = new RowRateLimiter(1, 1, _time);
        limiter.Take(1);
        using var cts = new CancellationTokenSource();

        var waiting = limiter.WaitAsync(1, cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }
}
