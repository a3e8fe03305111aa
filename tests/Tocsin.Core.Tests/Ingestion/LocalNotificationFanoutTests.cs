using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Tocsin.Diagnostics;
using Tocsin.Ingestion;

namespace Tocsin.Core.Tests.Ingestion;

/// <summary>Live delivery within one process: per-receiver bounded queues, slow and throwing receivers isolated.</summary>
public sealed class LocalNotificationFanoutTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeLogger<LocalNotificationFanout> _logger = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StoredRow Row(long id, string identity = "wd", double seconds = 0) => new(id, identity, "s", $"n{id}", 30, T0.AddSeconds(seconds));

    private static Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> Into(ConcurrentQueue<IReadOnlyList<StoredRow>> got) =>
        (rows, _) =>
        {
            got.Enqueue(rows);
            return ValueTask.CompletedTask;
        };

    [Fact]
    public async Task A_publish_reaches_each_receiver_of_its_identity_once_newest_first_and_no_other()
    {
        await using var fanout = new LocalNotificationFanout(_logger);
        var first = new ConcurrentQueue<IReadOnlyList<StoredRow>>();
        var second = new ConcurrentQueue<IReadOnlyList<StoredRow>>();
        var other = new ConcurrentQueue<IReadOnlyList<StoredRow>>();
        using var a = fanout.Subscribe("wd", Into(first));
        using var b = fanout.Subscribe("wd", Into(second));
        using var c = fanout.Subscribe("wd-2", Into(other));

        await fanout.PublishAsync("wd", [Row(1, seconds: 1), Row(2, seconds: 3), Row(3, seconds: 3)], Ct);
        await fanout.PublishAsync("wd", [Row(4)], Ct);

        await Poll.UntilAsync(() => Task.FromResult(first.Count + second.Count), n => n == 4, TimeSpan.FromSeconds(10), "both receivers' batches");
        foreach (var got in new[] { first, second })
        {
            Assert.Equal([[3, 2, 1], [4]], got.Select(rows => rows.Select(r => r.Id).ToArray()));
        }

        Assert.Empty(other);
        Assert.True(fanout.HasSubscribers("wd-2"));
        Assert.Equal(3, fanout.ReceiverCount);
        c.Dispose();
        Assert.False(fanout.HasSubscribers("wd-2"));
        Assert.Equal(2, fanout.ReceiverCount);
        await fanout.PublishAsync("wd-2", [Row(5, "wd-2")], Ct);
        Assert.Empty(other);
    }

    [Fact]
    public async Task A_slow_receiver_loses_batches_past_its_queue_without_holding_up_the_publisher_or_the_others()
    {
        using var metrics = new TocsinMetrics();
        using var dropped = new MetricCollector<long>(metrics.IngestPushesDropped);
        using var pushed = new MetricCollector<long>(metrics.IngestPushes);
        await using var fanout = new LocalNotificationFanout(_logger, queueCapacity: 2, metrics);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new ConcurrentQueue<long>();
        var fast = new ConcurrentQueue<long>();
        using var s = fanout.Subscribe("wd", async (rows, ct) =>
        {
            slow.Enqueue(rows[0].Id);
            await release.Task.WaitAsync(ct);
        });
        using var f = fanout.Subscribe("wd", (rows, _) =>
        {
            fast.Enqueue(rows[0].Id);
            return ValueTask.CompletedTask;
        });

        await fanout.PublishAsync("wd", [Row(1)], Ct);
        await Poll.UntilAsync(() => Task.FromResult(slow.Count), n => n == 1, TimeSpan.FromSeconds(10), "the slow receiver busy with batch 1");
        for (long id = 2; id <= 10; id++)
        {
            var publish = fanout.PublishAsync("wd", [Row(id)], Ct);
            Assert.True(publish.IsCompletedSuccessfully, "a publish never waits for a receiver");
            await publish;
            await Poll.UntilAsync(() => Task.FromResult(fast.Count), n => n == id, TimeSpan.FromSeconds(10), $"batch {id} at the fast receiver");
        }

        Assert.Single(_logger.Collector.GetSnapshot(), r => r.Message.Contains("too slow", StringComparison.Ordinal));
        // Every dropped batch is counted (7: batches 4–10 for the slow receiver), each published row once.
        Assert.Equal(7, dropped.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.All(dropped.GetMeasurementSnapshot(), m => Assert.Equal("slow_receiver", m.Tags["reason"]));
        Assert.Equal(10, pushed.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.All(pushed.GetMeasurementSnapshot(), m => Assert.Equal("local", m.Tags["source"]));
        Assert.Equal(2, fanout.ReceiverCount);

        release.SetResult();
        await Poll.UntilAsync(() => Task.FromResult(slow.Count), n => n == 3, TimeSpan.FromSeconds(10), "the slow receiver's queued batches");
        Assert.Equal([1, 2, 3], slow); // the batch it was taking and the two its queue held
        Assert.Single(_logger.Collector.GetSnapshot(), r => r.Message.Contains("caught up after 7 batch(es)", StringComparison.Ordinal));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), fast);
    }

    [Fact]
    public async Task A_throwing_receiver_loses_that_batch_only_and_keeps_receiving()
    {
        await using var fanout = new LocalNotificationFanout(_logger);
        var got = new ConcurrentQueue<long>();
        var others = new ConcurrentQueue<IReadOnlyList<StoredRow>>();
        using var t = fanout.Subscribe("wd", (rows, _) =>
        {
            got.Enqueue(rows[0].Id);
            return rows[0].Id == 1 ? throw new IOException("socket closed") : ValueTask.CompletedTask;
        });
        using var o = fanout.Subscribe("wd", Into(others));

        await fanout.PublishAsync("wd", [Row(1)], Ct);
        await fanout.PublishAsync("wd", [Row(2)], Ct);

        await Poll.UntilAsync(() => Task.FromResult(got.Count + others.Count), n => n == 4, TimeSpan.FromSeconds(10), "both batches at both receivers");
        Assert.Equal([1, 2], got);
        var failure = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.Contains("IOException: socket closed", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_cancels_a_delivery_in_progress_and_refuses_new_receivers()
    {
        var fanout = new LocalNotificationFanout(_logger);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fanout.Subscribe("wd", async (_, ct) =>
        {
            started.SetResult();
            await using var _r = ct.Register(() => cancelled.SetResult());
            await Task.Delay(Timeout.Infinite, ct);
        });
        await fanout.PublishAsync("wd", [Row(1)], Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        await fanout.DisposeAsync();

        Assert.True(cancelled.Task.IsCompleted);
        Assert.Throws<ObjectDisposedException>(() => fanout.Subscribe("wd", Into(new())));
        await fanout.PublishAsync("wd", [Row(2)], Ct);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalNotificationFanout(_logger, queueCapacity: 0));
    }
}
