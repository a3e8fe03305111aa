using Tocsin.Alerting;
using Tocsin.Checks;
using static Tocsin.Core.Tests.Alerting.AlertingHarness;

namespace Tocsin.Core.Tests.Alerting;

public sealed class NotifierTests
{
    [Fact]
    public async Task Threshold_3_with_a_flip_flop_sends_one_problem_and_one_recovery()
    {
        await using var h = new AlertingHarness([Check("site", failureThreshold: 3)]);
        foreach (var s in new[] { CheckState.CRITICAL, CheckState.CRITICAL, CheckState.OK, CheckState.CRITICAL, CheckState.CRITICAL })
        {
            h.Result("site", s);
            await h.Step();
        }

        Assert.Empty(h.Received());
        h.Result("site", CheckState.CRITICAL, "connection refused");
        await h.Step();
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        Assert.Equal(["problem site CRITICAL"], h.Received());
        var problem = h.Channel().Sent[0];
        Assert.Equal("connection refused", problem.Message);
        Assert.Equal(CheckState.OK, problem.PreviousState);
        Assert.Equal("https://tocsin.example/checks/site", problem.Link);
        Assert.EndsWith(":problem:ops", problem.IdempotencyKey, StringComparison.Ordinal);

        h.Result("site", CheckState.OK);
        await h.Step();
        h.Result("site", CheckState.OK);
        await h.Step();
        Assert.Equal(["problem site CRITICAL", "recovery site OK"], h.Received());
        Assert.Equal(CheckState.CRITICAL, h.Channel().Sent[1].PreviousState);
    }

    [Fact]
    public async Task Warning_then_critical_is_a_second_problem_and_recovery_only_follows_a_notified_problem()
    {
        await using var h = new AlertingHarness([Check("site")]);
        h.Result("site", CheckState.WARNING);
        await h.Step();
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        h.Result("site", CheckState.OK);
        await h.Step();
        Assert.Equal(["problem site WARNING", "problem site CRITICAL", "recovery site OK"], h.Received());
    }

    [Fact]
    public async Task A_problem_and_its_recovery_read_in_one_pass_are_both_sent()
    {
        await using var h = new AlertingHarness([Check("site")]);
        h.Result("site", CheckState.CRITICAL);
        h.Result("site", CheckState.OK);
        await h.Step();
        Assert.Equal(["problem site CRITICAL", "recovery site OK"], h.Received());
    }

    [Fact]
    public async Task An_acknowledgement_stored_while_its_problem_event_is_pending_is_applied_in_the_same_pass()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = new AlertingHarness([Check("site", new AlertPolicy { Notify = ["ops"], RenotifyInterval = TimeSpan.FromMinutes(10) })]);
        h.Result("site", CheckState.CRITICAL);
        await h.Store.AddCommandAsync(AlertCommands.Acknowledge("site", null, "alice", "on it", h.Time.GetUtcNow()), ct);
        await h.Step();

        var record = Assert.Single(await h.Store.ReadRecordsAsync(ct));
        Assert.Equal("alice", record.AcknowledgedBy);
        Assert.Empty(await h.Store.ReadPendingCommandsAsync(10, ct));
        h.Time.Advance(TimeSpan.FromMinutes(30));
        await h.Step();
        Assert.Equal(["problem site CRITICAL", "acknowledged site CRITICAL"], h.Received()); // acknowledged: no reminders
    }

    [Fact]
    public async Task An_acknowledgement_stored_before_its_problem_event_exists_waits_for_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var h = new AlertingHarness([Check("site", new AlertPolicy { Notify = ["ops"], RenotifyInterval = TimeSpan.FromMinutes(10) })]);
        await h.Store.AddCommandAsync(AlertCommands.Acknowledge("site", null, "alice", null, h.Time.GetUtcNow()), ct);
        await h.Step();
        Assert.Single(await h.Store.ReadPendingCommandsAsync(10, ct)); // nothing to acknowledge yet: kept

        h.Time.Advance(TimeSpan.FromMinutes(1));
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        Assert.Empty(await h.Store.ReadPendingCommandsAsync(10, ct));
        Assert.Equal("alice", Assert.Single(await h.Store.ReadRecordsAsync(ct)).AcknowledgedBy);

        // One that waited longer than AcknowledgementWait is dropped.
        h.Result("site", CheckState.OK);
        await h.Step();
        await h.Store.AddCommandAsync(AlertCommands.Acknowledge("site", null, "bob", null, h.Time.GetUtcNow()), ct);
        h.Time.Advance(Notifier.AcknowledgementWait);
        await h.Step();
        Assert.Empty(await h.Store.ReadPendingCommandsAsync(10, ct));
    }

    [Fact]
    public async Task Reminders_come_every_renotify_interval_until_acknowledged()
    {
        await using var h = new AlertingHarness([Check("site", new AlertPolicy { Notify = ["ops"], RenotifyInterval = TimeSpan.FromMinutes(10) })]);
        h.Result("site", CheckState.CRITICAL);
        for (int minute = 0; minute < 35; minute++)
        {
            await h.Step();
            h.Time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(["problem site CRITICAL", "reminder site CRITICAL", "reminder site CRITICAL", "reminder site CRITICAL"], h.Received());
        Assert.Equal([1, 2, 3], h.Channel().Sent.Skip(1).Select(n => n.Sequence));

        await h.Store.AddCommandAsync(new AlertCommand(0, Guid.CreateVersion7(), AlertCommandType.Acknowledge, "site", h.Time.GetUtcNow(), null, null, "alice", "on it"), TestContext.Current.CancellationToken);
        for (int minute = 0; minute < 30; minute++)
        {
            await h.Step();
            h.Time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(5, h.Received().Count);
        var ack = h.Channel().Sent[^1];
        Assert.Equal(NotificationType.Acknowledged, ack.Type);
        Assert.Equal("alice", ack.AcknowledgedBy);
        Assert.Equal("on it", ack.Comment);

        // Recovery, then a new problem: reminders again (the acknowledgement was for the first problem).
        h.Result("site", CheckState.OK);
        await h.Step();
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        h.Time.Advance(TimeSpan.FromMinutes(10));
        await h.Step();
        Assert.Equal(["recovery site OK", "problem site CRITICAL", "reminder site CRITICAL"], h.Received().Skip(5));
    }

    [Fact]
    public async Task A_flapping_check_notifies_start_and_stop_and_nothing_in_between()
    {
        await using var h = new AlertingHarness([Check("site")]);
        for (int i = 0; i < 40; i++)
        {
            h.Result("site", i % 2 == 0 ? CheckState.CRITICAL : CheckState.OK);
            await h.Step();
        }

        var got = h.Received();
        int start = got.FindIndex(g => g.StartsWith("flapping-start", StringComparison.Ordinal));
        Assert.True(start > 0, string.Join(", ", got));
        Assert.Equal(start + 1, got.Count); // nothing after the start while it flaps
        Assert.All(got.Take(start), g => Assert.True(g.StartsWith("problem", StringComparison.Ordinal) || g.StartsWith("recovery", StringComparison.Ordinal)));

        // The result that made it flap also made it CRITICAL: flapping is decided first (as Nagios does), so that problem is
        // held. It keeps failing: nothing until it stops flapping.
        for (int i = 0; i < 60; i++)
        {
            h.Result("site", CheckState.CRITICAL);
            await h.Step();
        }

        got = h.Received();
        Assert.Equal(["flapping-start site OK", "flapping-stop site CRITICAL", "problem site CRITICAL"], got.Skip(start));
    }

    [Fact]
    public async Task A_child_is_not_notified_while_its_parent_is_down_and_is_once_the_parent_recovers()
    {
        await using var h = new AlertingHarness([Check("db"), Check("app", new AlertPolicy { Notify = ["ops"], DependsOn = ["db"] })]);
        h.Result("app", CheckState.CRITICAL, advance: TimeSpan.Zero);
        await h.Step();
        Assert.Empty(h.Received()); // waits for the parent's state (its interval + timeout)
        h.Result("db", CheckState.CRITICAL);
        await h.Step();
        h.Time.Advance(TimeSpan.FromMinutes(2));
        await h.Step();
        Assert.Equal(["problem db CRITICAL"], h.Received());
        Assert.Contains(h.Notifier.Records, r => r.CheckName == "app" && r.HeldBecause == "parent \"db\" is CRITICAL");

        h.Result("db", CheckState.OK);
        await h.Step();
        // Sent in the same round, to different checks: in either order.
        Assert.Equal(["problem app CRITICAL", "problem db CRITICAL", "recovery db OK"], h.Received().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_child_failing_alone_is_notified_after_the_parents_interval()
    {
        await using var h = new AlertingHarness([Check("db"), Check("app", new AlertPolicy { Notify = ["ops"], DependsOn = ["db"] })]);
        h.Result("db", CheckState.OK);
        h.Result("app", CheckState.CRITICAL);
        await h.Step();
        Assert.Empty(h.Received());
        h.Time.Advance(TimeSpan.FromSeconds(65));
        await h.Step();
        Assert.Equal(["problem app CRITICAL"], h.Received());
    }

    [Fact]
    public async Task Nothing_is_sent_during_maintenance_and_what_is_still_wrong_is_sent_when_it_ends()
    {
        var start = new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero);
        var window = new MaintenanceWindow { Name = "upgrade", Checks = ["site"], From = start, To = start.AddHours(2) };
        await using var h = new AlertingHarness([Check("site"), Check("other")], [window]);
        h.Result("site", CheckState.CRITICAL);
        h.Result("other", CheckState.CRITICAL);
        await h.Step();
        Assert.Equal(["problem other CRITICAL"], h.Received());
        Assert.StartsWith("maintenance \"upgrade\"", h.Notifier.Records.Single(r => r.CheckName == "site").HeldBecause, StringComparison.Ordinal);

        h.Time.Advance(TimeSpan.FromMinutes(61));
        await h.Step();
        Assert.Equal(["problem other CRITICAL", "problem site CRITICAL"], h.Received());
    }

    [Fact]
    public async Task A_recurring_window_follows_its_cron_schedule()
    {
        var cron = Tocsin.Scheduling.CronSchedule.Parse("0 12 * * *", TimeZoneInfo.Utc); // every day 12:00 UTC, for 30 minutes
        var window = new MaintenanceWindow { Name = "noon", Tags = ["web"], Schedule = cron, Duration = TimeSpan.FromMinutes(30) };
        await using var h = new AlertingHarness([Check("site", tags: ["web"])], [window]);
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        Assert.Empty(h.Received());
        h.Time.Advance(TimeSpan.FromMinutes(30));
        await h.Step();
        Assert.Equal(["problem site CRITICAL"], h.Received());
    }

    [Fact]
    public async Task A_silence_holds_notifications_until_it_ends()
    {
        await using var h = new AlertingHarness([Check("site")]);
        var now = h.Time.GetUtcNow();
        await h.Store.AddCommandAsync(new AlertCommand(0, Guid.CreateVersion7(), AlertCommandType.Silence, "site", now, null, now.AddMinutes(30), "cli", "deploy"), TestContext.Current.CancellationToken);
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        Assert.Empty(h.Received());
        h.Time.Advance(TimeSpan.FromMinutes(30));
        await h.Step();
        Assert.Equal(["problem site CRITICAL"], h.Received());
    }

    [Fact]
    public async Task Escalation_goes_to_the_steps_channels_once_each_unless_acknowledged()
    {
        var policy = new AlertPolicy
        {
            Notify = ["ops"],
            Escalation = [new EscalationStep(TimeSpan.FromMinutes(30), ["oncall"]), new EscalationStep(TimeSpan.FromHours(1), ["boss"])],
        };
        await using var h = new AlertingHarness([Check("site", policy), Check("api", policy)], null, "ops", "oncall", "boss");
        h.Result("site", CheckState.CRITICAL);
        h.Result("api", CheckState.CRITICAL);
        await h.Step();
        await h.Store.AddCommandAsync(new AlertCommand(0, Guid.CreateVersion7(), AlertCommandType.Acknowledge, "api", h.Time.GetUtcNow(), null, null, "bob", null), TestContext.Current.CancellationToken);
        for (int minute = 0; minute < 90; minute++)
        {
            h.Time.Advance(TimeSpan.FromMinutes(1));
            await h.Step();
        }

        Assert.Equal(["escalation site CRITICAL"], h.Received("oncall"));
        Assert.Equal(["escalation site CRITICAL"], h.Received("boss"));
        Assert.Equal([1, 2], h.Channel("oncall").Sent.Concat(h.Channel("boss").Sent).Select(n => n.Sequence));
        Assert.Equal(["problem site CRITICAL", "problem api CRITICAL", "acknowledged api CRITICAL"], h.Received("ops"));
    }

    [Fact]
    public async Task A_channel_down_then_up_gets_each_notification_once_in_order_and_others_are_not_held_up()
    {
        await using var h = new AlertingHarness([Check("site", new AlertPolicy { Notify = ["ops", "backup"] })], null, "ops", "backup");
        h.Channel("ops").FailWith = "HTTP 503";
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        h.Result("site", CheckState.OK);
        await h.Step();
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        Assert.Equal(["problem site CRITICAL", "recovery site OK", "problem site CRITICAL"], h.Received("backup"));
        Assert.Empty(h.Received("ops"));

        var stats = await h.Store.ReadChannelStatsAsync(TestContext.Current.CancellationToken);
        var ops = stats.Single(s => s.Channel == "ops");
        Assert.Equal(3, ops.Pending);
        Assert.Contains("HTTP 503", ops.LastError, StringComparison.Ordinal);

        for (int i = 0; i < 10; i++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(30));
            await h.Step();
        }

        Assert.Empty(h.Received("ops"));
        h.Channel("ops").FailWith = null;
        h.Time.Advance(TimeSpan.FromMinutes(5));
        for (int i = 0; i < 3; i++)
        {
            await h.Step();
        }

        Assert.Equal(["problem site CRITICAL", "recovery site OK", "problem site CRITICAL"], h.Received("ops"));
        Assert.Equal(3, h.Channel("ops").Sent.Select(n => n.IdempotencyKey).Distinct().Count());
        var delivered = await h.Store.ReadNotificationsAsync(new NotificationQuery(Channel: "ops"), TestContext.Current.CancellationToken);
        Assert.All(delivered, d => Assert.Equal(DeliveryStatus.Delivered, d.Status));
    }

    [Fact]
    public async Task A_notification_refused_for_good_is_given_up_after_the_limit_and_the_channel_moves_on()
    {
        await using var h = new AlertingHarness([Check("site")]);
        h.Channel().FailWith = "HTTP 400";
        h.Channel().Permanent = true;
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        for (int i = 0; i < 10; i++)
        {
            h.Time.Advance(TimeSpan.FromMinutes(5));
            await h.Step();
        }

        Assert.Equal(5, h.Channel().Attempts);
        var stored = Assert.Single(await h.Store.ReadNotificationsAsync(new NotificationQuery(), TestContext.Current.CancellationToken));
        Assert.Equal(DeliveryStatus.Failed, stored.Status);

        h.Channel().FailWith = null;
        h.Result("site", CheckState.OK);
        await h.Step();
        Assert.Equal(["recovery site OK"], h.Received());
    }

    [Fact]
    public async Task A_new_notifier_on_the_same_store_carries_on_without_repeating()
    {
        await using var h = new AlertingHarness([Check("site", new AlertPolicy { Notify = ["ops"], RenotifyInterval = TimeSpan.FromMinutes(10) })]);
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        Assert.Single(h.Received());

        // Leadership moves away and back: the records are read again from the store.
        h.Leader = false;
        await h.Step();
        h.Leader = true;
        await h.Step();
        h.Time.Advance(TimeSpan.FromMinutes(5));
        await h.Step();
        Assert.Single(h.Received());
        h.Time.Advance(TimeSpan.FromMinutes(5));
        await h.Step();
        Assert.Equal(["problem site CRITICAL", "reminder site CRITICAL"], h.Received());
    }

    [Fact]
    public async Task A_follower_sends_nothing()
    {
        await using var h = new AlertingHarness([Check("site")]) { Leader = false };
        h.Result("site", CheckState.CRITICAL);
        await h.Step();
        Assert.Empty(h.Received());
        Assert.Single(h.Outbox.ReadPendingAlertEvents(10));
    }

    private sealed class StallingChannel : INotificationChannel
    {
        public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Sent { get; private set; }

        public string Name => "ops";

        public string Type => "test";

        public async Task SendAsync(Notification notification, CancellationToken cancellationToken)
        {
            if (notification.Type == NotificationType.Problem)
            {
                Sent++;
                return;
            }

            Stalled.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }

    [Fact]
    public async Task Stopping_mid_round_keeps_what_was_delivered_so_it_is_not_sent_again()
    {
        await using var h = new AlertingHarness([Check("site")]);
        h.Result("site", CheckState.CRITICAL);
        h.Result("site", CheckState.OK);
        await h.Notifier.ProcessOnceAsync(TestContext.Current.CancellationToken);
        var channel = new StallingChannel();
        using var stop = new CancellationTokenSource();
        var round = h.Notifier.DeliverOnceAsync(channel, stop.Token);
        await channel.Stalled.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => round);

        var stored = await h.Store.ReadNotificationsAsync(new NotificationQuery(), TestContext.Current.CancellationToken);
        Assert.Equal(DeliveryStatus.Delivered, stored.Single(n => n.Notification.Type == NotificationType.Problem).Status);
        Assert.Equal(DeliveryStatus.Pending, stored.Single(n => n.Notification.Type == NotificationType.Recovery).Status);
        Assert.Equal(1, channel.Sent);
    }
}
