using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;
using Xunit;

namespace Tocsin.Core.Tests.Scheduling;

public sealed class SchedulerTests : IDisposable
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Epoch);
    private readonly TocsinMetrics _metrics = new();
    private readonly CollectingSink _sink = new();

    public void Dispose() => _metrics.Dispose();

    private readonly CapturingLogger _log = new();

    private Scheduler NewScheduler(IReadOnlyList<CheckDefinition> checks, ScriptedKind kind, int maxConcurrent = 1024, TimeSpan? grace = null)
    {
        var registry = new CheckKindRegistry([kind]);
        var executor = new CheckExecutor(registry, _time, _metrics, NullLogger<CheckExecutor>.Instance);
        return new Scheduler(checks, executor, _sink, new SchedulerOptions { MaxConcurrentRuns = maxConcurrent, StopGrace = grace ?? TimeSpan.FromSeconds(5) },
            _time, _metrics, _log);
    }

    private static CheckDefinition Check(string name, TimeSpan interval, TimeSpan? timeout = null) =>
        new(name, ScriptedKind.KindName, interval, timeout ?? interval * 0.8, new object());

    /// <summary>Moves fake time forward in steps, letting the scheduler's continuations run between steps.</summary>
    private async Task AdvanceAsync(TimeSpan total, TimeSpan step)
    {
        for (var t = TimeSpan.Zero; t < total; t += step)
        {
            _time.Advance(step);
            for (int i = 0; i < 3; i++)
            {
                await Task.Delay(1, TestContext.Current.CancellationToken);
            }
        }
    }

    [Fact]
    public async Task Runs_at_a_fixed_rate_without_drift_even_when_runs_take_time()
    {
        // Each run takes 700 ms of (fake) time; seed 004 would start the next run 700 ms + interval later.
        var kind = new ScriptedKind(async (_, ct) =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(700), _time, ct);
            return new RunOutcome(CheckState.OK, "ok");
        });
        var check = Check("fixed-rate", TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1));
        using var scheduler = NewScheduler([check], kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        await AdvanceAsync(TimeSpan.FromSeconds(21), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);

        var scheduled = _sink.Results.Select(r => r.ScheduledAt).Order().ToList();
        Assert.True(scheduled.Count >= 9, $"expected about 10 runs, got {scheduled.Count}");
        var first = scheduled[0];
        for (int k = 0; k < scheduled.Count; k++)
        {
            Assert.Equal(first + TimeSpan.FromSeconds(2) * k, scheduled[k]);
        }

        Assert.All(_sink.Results, r => Assert.True(r.StartedAt - r.ScheduledAt < TimeSpan.FromMilliseconds(200)));
        Assert.Equal(0, scheduler.RunsSkippedOverlap);
    }

    [Fact]
    public async Task First_runs_are_spread_across_the_interval()
    {
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.OK, "ok")));
        var checks = Enumerable.Range(0, 300).Select(i => Check($"check-{i}", TimeSpan.FromSeconds(10))).ToList();
        using var scheduler = NewScheduler(checks, kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        await AdvanceAsync(TimeSpan.FromSeconds(10.5), TimeSpan.FromMilliseconds(250));
        await StopAsync(stop, run);

        var firstDue = _sink.Results.GroupBy(r => r.CheckName).Select(g => g.Min(r => r.ScheduledAt)).ToList();
        Assert.Equal(300, firstDue.Count);
        Assert.All(firstDue, d => Assert.InRange(d, Epoch, Epoch + TimeSpan.FromSeconds(10)));
        var perSecond = firstDue.GroupBy(d => (int)(d - Epoch).TotalSeconds).ToDictionary(g => g.Key, g => g.Count());
        for (int second = 0; second < 10; second++)
        {
            Assert.InRange(perSecond.GetValueOrDefault(second), 15, 45); // 30 per second if perfectly even
        }
    }

    [Fact]
    public void Phase_is_stable_for_a_name_and_within_the_interval()
    {
        Assert.Equal(Scheduler.Phase("site"), Scheduler.Phase("site"));
        Assert.NotEqual(Scheduler.Phase("site"), Scheduler.Phase("site2"));
        Assert.InRange(Scheduler.Phase("x"), 0.0, 0.9999999);
    }

    [Fact]
    public void Due_times_lie_on_a_wall_clock_grid_so_every_agent_and_every_restart_agrees()
    {
        var interval = TimeSpan.FromSeconds(30);
        var a = Scheduler.FirstDue("site", interval, new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        var b = Scheduler.FirstDue("site", interval, new DateTimeOffset(2026, 11, 23, 10, 7, 13, 517, TimeSpan.Zero));

        // Started at different times, two agents land on the same grid: due times differ by whole intervals.
        Assert.Equal(0, (b - a).Ticks % interval.Ticks);
        Assert.InRange(a - new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero), TimeSpan.Zero, interval - TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.FromTicks((long)(interval.Ticks * Scheduler.Phase("site"))), TimeSpan.FromTicks((a - DateTimeOffset.UnixEpoch).Ticks % interval.Ticks));

        // A time on the grid is its own first due time; a tick later, the next one is a whole interval on.
        Assert.Equal(a, Scheduler.FirstDue("site", interval, a));
        Assert.Equal(a + interval, Scheduler.FirstDue("site", interval, a.AddTicks(1)));
        Assert.NotEqual(a, Scheduler.FirstDue("other", interval, new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public async Task A_check_never_runs_twice_at_once_and_skipped_runs_are_counted()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int running = 0, maxRunning = 0;
        var kind = new ScriptedKind(async (_, _) =>
        {
            int now = Interlocked.Increment(ref running);
            InterlockedMax(ref maxRunning, now);
            await release.Task; // ignores its timeout on purpose: a hung plugin
            Interlocked.Decrement(ref running);
            return new RunOutcome(CheckState.OK, "finally");
        });
        var check = Check("hung", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500));
        using var scheduler = NewScheduler([check], kind, grace: TimeSpan.FromSeconds(1));
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        await AdvanceAsync(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, scheduler.RunsStarted);
        Assert.InRange(scheduler.RunsSkippedOverlap, 3, 5);
        release.SetResult();
        await AdvanceAsync(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);

        Assert.Equal(1, maxRunning);
        Assert.True(scheduler.RunsStarted >= 2);

        // Every skip is counted, but logged at most once per check per minute.
        var skipLines = _log.Lines.Where(l => l.Contains("Skipped", StringComparison.Ordinal)).ToList();
        Assert.Single(skipLines);
        Assert.Contains("hung", skipLines[0]);
    }

    [Fact]
    public async Task Global_limit_bounds_runs_in_flight()
    {
        int running = 0, maxRunning = 0;
        var kind = new ScriptedKind(async (_, ct) =>
        {
            InterlockedMax(ref maxRunning, Interlocked.Increment(ref running));
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, ct);
                return new RunOutcome(CheckState.OK, "ok");
            }
            finally
            {
                Interlocked.Decrement(ref running);
            }
        });
        var checks = Enumerable.Range(0, 50).Select(i => Check($"c{i}", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(950))).ToList();
        using var scheduler = NewScheduler(checks, kind, maxConcurrent: 4);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);
        Assert.InRange(maxRunning, 1, 4);
    }

    [Fact]
    public async Task Stop_waits_for_runs_in_flight_and_hands_over_every_produced_result()
    {
        var kind = new ScriptedKind(async (_, ct) =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(800), _time, ct);
            return new RunOutcome(CheckState.OK, "ok");
        });
        var checks = Enumerable.Range(0, 20).Select(i => Check($"c{i}", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(900))).ToList();
        using var scheduler = NewScheduler(checks, kind, grace: TimeSpan.FromSeconds(5));
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(100));

        await stop.CancelAsync();
        Assert.True(scheduler.InFlight > 0, "some runs should be in flight when the stop begins");
        while (!run.IsCompleted)
        {
            await AdvanceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        }

        await run;
        Assert.Equal(0, scheduler.RunsCancelled);
        Assert.Equal(scheduler.RunsStarted, _sink.Results.Count);
    }

    [Fact]
    public async Task Runs_still_going_after_the_stop_grace_are_cancelled_without_a_result()
    {
        var kind = new ScriptedKind(async (_, ct) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return new RunOutcome(CheckState.OK, "never");
        });
        using var scheduler = NewScheduler([Check("stuck", TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(50))], kind, grace: TimeSpan.FromSeconds(2));
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(61), TimeSpan.FromSeconds(1));
        Assert.Equal(1, scheduler.InFlight);

        await stop.CancelAsync();
        while (!run.IsCompleted)
        {
            await AdvanceAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
        }

        await run;
        Assert.Equal(1, scheduler.RunsCancelled);
        Assert.Empty(_sink.Results);
    }

    [Fact]
    public async Task A_runner_exception_becomes_an_UNKNOWN_result_and_scheduling_goes_on()
    {
        int calls = 0;
        var kind = new ScriptedKind((_, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("plugin exploded");
            }

            return Task.FromResult(new RunOutcome(CheckState.OK, "ok"));
        });
        using var scheduler = NewScheduler([Check("flaky", TimeSpan.FromSeconds(1))], kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);

        var ordered = _sink.Results.OrderBy(r => r.ScheduledAt).ToList();
        Assert.Equal(CheckState.UNKNOWN, ordered[0].State);
        Assert.Contains("plugin exploded", ordered[0].Message);
        Assert.Contains(ordered.Skip(1), r => r.State == CheckState.OK);
    }

    [Fact]
    public async Task A_run_past_its_timeout_is_CRITICAL_timed_out()
    {
        var kind = new ScriptedKind(async (_, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), _time, ct);
            return new RunOutcome(CheckState.OK, "late");
        });
        using var scheduler = NewScheduler([Check("slow", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2))], kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(13), TimeSpan.FromMilliseconds(250));
        await StopAsync(stop, run);

        Assert.NotEmpty(_sink.Results);
        Assert.All(_sink.Results, r =>
        {
            Assert.Equal(CheckState.CRITICAL, r.State);
            Assert.Equal("timed out after 2s", r.Message);
        });
    }

    [Fact]
    public async Task Result_ids_are_unique_version_7_uuids()
    {
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.OK, "ok")));
        var checks = Enumerable.Range(0, 10).Select(i => Check($"c{i}", TimeSpan.FromSeconds(1))).ToList();
        using var scheduler = NewScheduler(checks, kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);

        Assert.Equal(_sink.Results.Count, _sink.Results.Select(r => r.Id).Distinct().Count());
        Assert.All(_sink.Results, r => Assert.Equal(7, r.Id.Version));
    }

    [Fact]
    public async Task A_run_that_waited_a_whole_interval_for_a_slot_is_skipped_as_behind_not_run_late()
    {
        var kind = new ScriptedKind(async (check, ct) =>
        {
            await Task.Delay(check.Name == "hog" ? TimeSpan.FromSeconds(3) : TimeSpan.FromMilliseconds(10), _time, ct);
            return new RunOutcome(CheckState.OK, "ok");
        });
        // One slot: "hog" holds it 3 s of every 10 s; "quick" (every 1 s) waits for it meanwhile.
        var checks = new[] { Check("hog", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)), Check("quick", TimeSpan.FromSeconds(1)) };
        using var scheduler = NewScheduler(checks, kind, maxConcurrent: 1);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(25), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);

        Assert.True(scheduler.RunsSkippedBehind >= 1, "a run of quick waited longer than its interval");
        Assert.All(_sink.Results, r => Assert.True(r.StartedAt - r.ScheduledAt < TimeSpan.FromSeconds(1), $"{r.CheckName} started {r.StartedAt - r.ScheduledAt} late"));
        Assert.Contains(_sink.Results, r => r.CheckName == "quick");
        Assert.Contains(_log.Lines, l => l.Contains("waited", StringComparison.Ordinal) && l.Contains("maxConcurrentRuns", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Runs_that_get_a_slot_during_the_stop_grace_are_skipped_not_started()
    {
        var kind = new ScriptedKind(async (check, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(20), _time, ct);
            return new RunOutcome(CheckState.OK, "ok");
        });
        var checks = Enumerable.Range(0, 5).Select(i => Check($"c{i}", TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(25))).ToList();
        using var scheduler = NewScheduler(checks, kind, maxConcurrent: 1, grace: TimeSpan.FromSeconds(30));
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        for (int i = 0; i < 600 && scheduler.InFlight < 2; i++)
        {
            await AdvanceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        }

        Assert.True(scheduler.InFlight >= 2, "a run should be waiting for the single slot");
        long startedBeforeStop = scheduler.RunsStarted;

        await StopAsync(stop, run);

        Assert.Equal(startedBeforeStop, scheduler.RunsStarted);
        Assert.True(scheduler.RunsSkippedStopping >= 1);
        Assert.Equal(0, scheduler.RunsCancelled);
        Assert.Equal(scheduler.RunsStarted, _sink.Results.Count);
    }

    [Fact]
    public async Task Checks_another_agent_owns_are_passed_over_and_counted()
    {
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.OK, "ok")));
        var registry = new CheckKindRegistry([kind]);
        var executor = new CheckExecutor(registry, _time, _metrics, NullLogger<CheckExecutor>.Instance);
        using var scheduler = new Scheduler(
            [Check("mine", TimeSpan.FromSeconds(1)), Check("theirs", TimeSpan.FromSeconds(1))], executor, _sink,
            new SchedulerOptions { Owns = c => c.Name == "mine" }, _time, _metrics, _log);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);

        Assert.All(_sink.Results, r => Assert.Equal("mine", r.CheckName));
        Assert.NotEmpty(_sink.Results);
        Assert.True(scheduler.RunsNotOwned >= 2);
    }

    [Fact]
    public async Task Disabled_checks_never_run()
    {
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.OK, "ok")));
        using var scheduler = NewScheduler([Check("off", TimeSpan.FromSeconds(1)) with { Enabled = false }, Check("on", TimeSpan.FromSeconds(1))], kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(100));
        await StopAsync(stop, run);
        Assert.DoesNotContain(_sink.Results, r => r.CheckName == "off");
        Assert.Contains(_sink.Results, r => r.CheckName == "on");
    }

    [Fact]
    public async Task Run_now_runs_the_check_at_once_with_the_result_id_it_returned()
    {
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.WARNING, "slow")));
        using var scheduler = NewScheduler([Check("hourly", TimeSpan.FromHours(1))], kind);

        var outcome = scheduler.RunNow("hourly");
        await outcome.Completion.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(RunNowStatus.Started, outcome.Status);
        var result = Assert.Single(_sink.Results);
        Assert.Equal(outcome.ResultId, result.Id);
        Assert.Equal(7, result.Id.Version);
        Assert.Equal(("hourly", CheckState.WARNING, Epoch), (result.CheckName, result.State, result.ScheduledAt));
        Assert.Equal(1, scheduler.RunsNow);
    }

    [Fact]
    public async Task Run_now_is_refused_while_a_run_of_the_check_is_going_and_a_scheduled_run_is_skipped_while_it_goes()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var kind = new ScriptedKind(async (_, ct) =>
        {
            await release.Task.WaitAsync(ct);
            return new RunOutcome(CheckState.OK, "ok");
        });
        var check = Check("slow", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(9));
        using var scheduler = NewScheduler([check], kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        var first = scheduler.RunNow("slow");
        var second = scheduler.RunNow("slow");
        await AdvanceAsync(TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(500));

        Assert.Equal(RunNowStatus.Started, first.Status);
        Assert.Equal(RunNowStatus.AlreadyRunning, second.Status);
        Assert.Null(second.ResultId);
        Assert.True(scheduler.RunsSkippedOverlap >= 1, $"skipped {scheduler.RunsSkippedOverlap}");
        release.SetResult();
        await first.Completion.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Equal(RunNowStatus.Started, scheduler.RunNow("slow").Status);
        await StopAsync(stop, run);
        Assert.Contains(_sink.Results, r => r.Id == first.ResultId);
    }

    [Fact]
    public async Task Run_now_of_an_unknown_disabled_or_stopped_check_says_why()
    {
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.OK, "ok")));
        using var scheduler = NewScheduler([Check("off", TimeSpan.FromSeconds(1)) with { Enabled = false }, Check("on", TimeSpan.FromSeconds(1))], kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        Assert.Equal(RunNowStatus.UnknownCheck, scheduler.RunNow("nope").Status);
        Assert.Equal(RunNowStatus.Disabled, scheduler.RunNow("off").Status);
        await StopAsync(stop, run);
        Assert.Equal(RunNowStatus.Stopping, scheduler.RunNow("on").Status);
        Assert.DoesNotContain(_sink.Results, r => r.CheckName == "off");
    }

    /// <summary>Cancels the scheduler and keeps fake time moving until it has drained (its stop grace runs on fake time).</summary>
    private async Task StopAsync(CancellationTokenSource stop, Task run)
    {
        await stop.CancelAsync();
        for (int i = 0; i < 1000 && !run.IsCompleted; i++)
        {
            await AdvanceAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        }

        await run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private Scheduler NewScheduler(CheckCatalog catalog, ScriptedKind kind)
    {
        var registry = new CheckKindRegistry([kind]);
        var executor = new CheckExecutor(registry, _time, _metrics, NullLogger<CheckExecutor>.Instance);
        return new Scheduler(catalog, executor, _sink, new SchedulerOptions(), _time, _metrics, _log);
    }

    private static bool SameInterval(CheckDefinition a, CheckDefinition b) => a.Interval == b.Interval && Equals(a.Schedule, b.Schedule) && a.Enabled == b.Enabled;

    [Fact]
    public async Task Cron_check_runs_at_its_occurrences_in_its_time_zone_across_a_dst_change()
    {
        // Europe/Paris jumps from 02:00 CET to 03:00 CEST on 2026-03-29: the 02:30 run that day happens at the change.
        var paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        _time.SetUtcNow(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.Zero));
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.OK, "ok")));
        var check = Check("nightly", TimeSpan.FromDays(1), TimeSpan.FromMinutes(1)) with { Schedule = CronSchedule.Parse("30 2 * * *", paris) };
        using var scheduler = NewScheduler([check], kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);

        await AdvanceAsync(TimeSpan.FromDays(3), TimeSpan.FromMinutes(10));
        await stop.CancelAsync();
        await run;

        Assert.Equal(
            [new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 30, 0, 30, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 31, 0, 30, 0, TimeSpan.Zero)],
            _sink.Results.Select(r => r.ScheduledAt).Order());
    }

    [Fact]
    public async Task Follows_the_catalog_adding_changing_and_removing_checks_while_running()
    {
        var kind = new ScriptedKind((_, _) => Task.FromResult(new RunOutcome(CheckState.OK, "ok")));
        var catalog = new CheckCatalog([Check("configured", TimeSpan.FromSeconds(10))]);
        using var scheduler = NewScheduler(catalog, kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        await AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(_sink.Results, r => r.CheckName == "added");

        Assert.NotNull(catalog.SetDiscovered([Check("added", TimeSpan.FromSeconds(10))], [], SameInterval));
        await AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        int added = _sink.Results.Count(r => r.CheckName == "added");
        Assert.InRange(added, 2, 4);

        // Every 2 s instead of every 10 s.
        Assert.NotNull(catalog.SetDiscovered([Check("added", TimeSpan.FromSeconds(2))], [], SameInterval));
        await AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        int faster = _sink.Results.Count(r => r.CheckName == "added") - added;
        Assert.InRange(faster, 13, 16);

        Assert.NotNull(catalog.SetDiscovered([], [], SameInterval));
        await Poll(() => _log.Lines.Any(l => l.Contains("0 added, 0 changed, 1 removed", StringComparison.Ordinal)));
        Assert.Equal(RunNowStatus.UnknownCheck, scheduler.RunNow("added").Status);
        int before = _sink.Results.Count(r => r.CheckName == "added");
        int configuredBefore = _sink.Results.Count(r => r.CheckName == "configured");
        await AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        await stop.CancelAsync();
        await run;

        Assert.Equal(before, _sink.Results.Count(r => r.CheckName == "added"));
        Assert.InRange(_sink.Results.Count(r => r.CheckName == "configured") - configuredBefore, 2, 4);
        Assert.Contains(_log.Lines, l => l.Contains("1 added, 0 changed, 0 removed", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Contains("0 added, 0 changed, 1 removed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_changed_check_keeps_its_no_overlap_rule_and_a_removed_ones_run_finishes()
    {
        var release = new TaskCompletionSource<RunOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var kind = new ScriptedKind((_, _) => release.Task);
        var catalog = new CheckCatalog([]);
        catalog.SetDiscovered([Check("slow", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(8))], [], SameInterval);
        using var scheduler = NewScheduler(catalog, kind);
        using var stop = new CancellationTokenSource();
        var run = scheduler.RunAsync(stop.Token);
        Assert.Equal(RunNowStatus.Started, scheduler.RunNow("slow").Status);

        catalog.SetDiscovered([Check("slow", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(4))], [], SameInterval);
        await Poll(() => _log.Lines.Any(l => l.Contains("0 added, 1 changed", StringComparison.Ordinal)));
        Assert.Equal(RunNowStatus.AlreadyRunning, scheduler.RunNow("slow").Status);

        catalog.SetDiscovered([], [], SameInterval);
        await Poll(() => scheduler.RunNow("slow").Status == RunNowStatus.UnknownCheck);
        release.SetResult(new RunOutcome(CheckState.OK, "finished after its removal"));
        await Poll(() => _sink.Results.Count == 1);
        await stop.CancelAsync();
        await run;

        Assert.Equal("finished after its removal", Assert.Single(_sink.Results).Message);
    }

    private static async Task Poll(Func<bool> done)
    {
        for (int i = 0; i < 500 && !done(); i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.True(done());
    }

    private sealed class CapturingLogger : Microsoft.Extensions.Logging.ILogger<Scheduler>
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue(formatter(state, exception));
    }

    private sealed class CollectingSink : IResultSink
    {
        private readonly ConcurrentQueue<CheckResult> _results = new();

        public IReadOnlyList<CheckResult> Results => [.. _results];

        public ValueTask WriteAsync(CheckResult result, CancellationToken cancellationToken)
        {
            _results.Enqueue(result);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class ScriptedKind(Func<CheckDefinition, CancellationToken, Task<RunOutcome>> run) : ICheckKind, ICheckRunner
    {
        public const string KindName = "scripted";

        public string Name => KindName;

        public ICheckRunner Runner => this;

        public string Describe(object options) => "scripted";

        public object ReadOptions(ConfigObjectReader reader) => new();

        public Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken) => run(check, cancellationToken);
    }
}
