using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;

namespace Tocsin.Core.Tests.Scheduling;

/// <summary>What <c>/readyz</c> reads of the scheduler: <see cref="Scheduler.IsRunning"/> and <see cref="Scheduler.LastLoopAt"/>.</summary>
public sealed class SchedulerLivenessTests
{
    [Fact]
    public async Task IsRunning_is_true_only_while_RunAsync_schedules_and_LastLoopAt_is_the_loop_s_last_pass()
    {
        var now = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        var time = new FakeTimeProvider(now);
        using var metrics = new TocsinMetrics();
        var executor = new CheckExecutor(CheckKinds.CreateDefault(time), time, metrics, NullLogger<CheckExecutor>.Instance);
        using var scheduler = new Scheduler([], executor, new NoSink(), new SchedulerOptions(), time, metrics, NullLogger<Scheduler>.Instance);
        Assert.False(scheduler.IsRunning);
        Assert.Null(scheduler.LastLoopAt);

        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        Assert.True(scheduler.IsRunning);
        Assert.Equal(now, scheduler.LastLoopAt);
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.False(scheduler.IsRunning);
    }

    private sealed class NoSink : IResultSink
    {
        public ValueTask WriteAsync(CheckResult result, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
