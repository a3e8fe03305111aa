using Tocsin.Checks;
using Tocsin.State;

namespace Tocsin.Core.Tests.State;

public sealed class StateMachineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static CheckResult Result(CheckState state, int second, string check = "site") =>
        new(Guid.CreateVersion7(T0.AddSeconds(second)), check, "http", state, T0.AddSeconds(second), T0.AddSeconds(second),
            T0.AddSeconds(second).AddMilliseconds(10), 10, null, $"{state} at {second}", null);

    private static readonly CheckState O = CheckState.OK, W = CheckState.WARNING, C = CheckState.CRITICAL, U = CheckState.UNKNOWN;

    /// <summary>Applies the states one per second and returns every step.</summary>
    private static List<StateStep> Run(StateThresholds t, params CheckState[] states) => Run(null, t, 0, states);

    private static List<StateStep> Run(TrackedState? start, StateThresholds t, int firstSecond, params CheckState[] states)
    {
        var steps = new List<StateStep>();
        var current = start;
        for (int i = 0; i < states.Length; i++)
        {
            var step = StateMachine.Apply(current, Result(states[i], firstSecond + i), t);
            steps.Add(step);
            current = step.Next;
        }

        return steps;
    }

    [Fact]
    public void With_thresholds_1_the_first_failure_is_hard_and_opens_an_incident_and_the_first_ok_closes_it()
    {
        var steps = Run(StateThresholds.Default, O, C, O);

        Assert.Null(steps[0].Change);
        Assert.Equal((O, O), (steps[0].Next.SoftState, steps[0].Next.HardState));
        var open = steps[1].Change!;
        Assert.Equal((O, C, T0.AddSeconds(1)), (open.From, open.To, open.At));
        Assert.Equal(steps[1].Incident!.Id, open.IncidentId);
        Assert.True(steps[1].Incident!.IsOpen);
        Assert.Equal("HARD", steps[1].Next.StateType);
        var close = steps[2].Change!;
        Assert.Equal((C, O), (close.From, close.To));
        Assert.Equal(open.IncidentId, close.IncidentId);
        Assert.Equal(TimeSpan.FromSeconds(1), steps[2].Incident!.Duration);
        Assert.Null(steps[2].Next.OpenIncident);
    }

    [Fact]
    public void Failures_below_the_failure_threshold_stay_soft_and_open_nothing()
    {
        var steps = Run(new StateThresholds(3, 1), O, C, C, O, C, C, O);

        Assert.All(steps, s => Assert.Null(s.Change));
        Assert.All(steps, s => Assert.Null(s.Incident));
        Assert.All(steps, s => Assert.Equal(O, s.Next.HardState));
        Assert.Equal("SOFT", steps[2].Next.StateType);
        Assert.Equal(2, steps[2].Next.ConsecutiveFailures);
        Assert.Equal(T0.AddSeconds(1), steps[2].Next.FailingSince);
        Assert.Equal(0, steps[3].Next.ConsecutiveFailures);
        Assert.Null(steps[3].Next.FailingSince);
    }

    [Fact]
    public void The_failure_that_reaches_the_threshold_makes_the_hard_state_its_own_and_the_incident_remembers_when_failing_began()
    {
        var steps = Run(new StateThresholds(3, 1), O, W, C, U);

        Assert.Null(steps[2].Change);
        var change = steps[3].Change!;
        Assert.Equal((O, U, T0.AddSeconds(3)), (change.From, change.To, change.At));
        var incident = steps[3].Incident!;
        Assert.Equal(T0.AddSeconds(3), incident.OpenedAt);
        Assert.Equal(T0.AddSeconds(1), incident.FailingSince);
        Assert.Equal(3, incident.FailedRuns);
        Assert.Equal(U, incident.WorstState);
        Assert.Equal(T0.AddSeconds(3), steps[3].Next.HardChangeAt);
    }

    [Fact]
    public void A_hard_warning_becomes_a_hard_critical_at_once_without_counting_again_in_the_same_incident()
    {
        var steps = Run(new StateThresholds(3, 1), W, W, W, C, W);

        var toWarning = steps[2].Change!;
        var toCritical = steps[3].Change!;
        var backToWarning = steps[4].Change!;
        Assert.Equal((O, W), (toWarning.From, toWarning.To));
        Assert.Equal((W, C), (toCritical.From, toCritical.To));
        Assert.Equal((C, W), (backToWarning.From, backToWarning.To));
        Assert.Equal(toWarning.IncidentId, toCritical.IncidentId);
        Assert.Equal(toWarning.IncidentId, backToWarning.IncidentId);
        var incident = steps[4].Incident!;
        Assert.Equal(C, incident.WorstState);
        Assert.Equal("WARNING at 2", incident.FirstMessage);
        Assert.Equal("WARNING at 4", incident.LastMessage);
        Assert.Equal(5, incident.FailedRuns);
        Assert.True(incident.IsOpen);
    }

    [Fact]
    public void Recovery_needs_success_threshold_oks_in_a_row_and_a_failure_while_recovering_starts_the_count_again()
    {
        var steps = Run(new StateThresholds(1, 3), C, O, O, C, O, O, O);

        Assert.Equal(C, steps[0].Next.HardState);
        Assert.All(steps.Skip(1).Take(5), s => Assert.Null(s.Change));
        Assert.Equal("SOFT", steps[2].Next.StateType);
        Assert.Equal(2, steps[2].Next.ConsecutiveSuccesses);
        Assert.Equal(0, steps[3].Next.ConsecutiveSuccesses);
        Assert.Equal(C, steps[5].Next.HardState);
        var recovery = steps[6].Change!;
        Assert.Equal((C, O, T0.AddSeconds(6)), (recovery.From, recovery.To, recovery.At));
        Assert.Equal(T0.AddSeconds(6), steps[6].Incident!.ClosedAt);
        Assert.Equal(TimeSpan.FromSeconds(6), steps[6].Incident!.Duration);
        Assert.Equal(2, steps[6].Incident!.FailedRuns);
    }

    [Fact]
    public void A_result_not_newer_than_the_latest_applied_changes_nothing()
    {
        var first = StateMachine.Apply(null, Result(O, 10), StateThresholds.Default).Next;

        var older = StateMachine.Apply(first, Result(C, 5), StateThresholds.Default);

        Assert.False(older.Applied);
        Assert.Same(first, older.Next);
        Assert.Null(older.Change);
    }

    [Fact]
    public void Alternating_results_with_thresholds_above_1_never_change_the_hard_state_but_flap()
    {
        var states = Enumerable.Range(0, 30).Select(i => i % 2 == 0 ? O : C).ToArray();

        var steps = Run(new StateThresholds(2, 2), states);

        Assert.All(steps, s => Assert.Null(s.Change));
        Assert.False(steps[19].Next.Flapping); // window not full yet
        Assert.True(steps[20].Next.Flapping);
        Assert.Equal(100, steps[29].Next.PercentStateChange);
    }

    [Fact]
    public void Flapping_stops_once_the_weighted_state_change_falls_below_5_percent()
    {
        var states = Enumerable.Range(0, 21).Select(i => i % 2 == 0 ? O : C).Concat(Enumerable.Repeat(O, 21)).ToArray();

        var steps = Run(new StateThresholds(1, 1), states);

        Assert.True(steps[20].Next.Flapping);
        int stop = steps.FindIndex(21, s => !s.Next.Flapping);
        Assert.InRange(stop, 30, 41);
        Assert.True(steps[stop].Next.PercentStateChange < StateMachine.FlapStopPercent);
        Assert.False(steps[^1].Next.Flapping);
        Assert.Equal(0, steps[^1].Next.PercentStateChange);
    }

    [Fact]
    public void Steady_results_never_flap()
    {
        var steps = Run(StateThresholds.Default, Enumerable.Repeat(C, 40).ToArray());

        Assert.All(steps, s => Assert.False(s.Next.Flapping));
        Assert.Equal(0, steps[^1].Next.PercentStateChange);
    }

    [Fact]
    public void A_state_carried_over_a_restart_continues_the_counts_and_the_same_incident()
    {
        var before = Run(new StateThresholds(2, 2), C, C, O);
        var saved = before[^1].Next with { }; // as read back from the outbox

        var after = Run(saved, new StateThresholds(2, 2), 100, O);

        Assert.Equal(2, after[0].Next.ConsecutiveSuccesses);
        Assert.Equal((C, O), (after[0].Change!.From, after[0].Change!.To));
        Assert.Equal(before[1].Incident!.Id, after[0].Incident!.Id);
        Assert.Equal(T0.AddSeconds(100), after[0].Incident!.ClosedAt);
    }

    [Fact]
    public void A_lower_threshold_after_a_config_edit_applies_at_the_next_result()
    {
        var steps = Run(new StateThresholds(5, 1), C, C, C);
        Assert.Equal(O, steps[^1].Next.HardState);

        var next = StateMachine.Apply(steps[^1].Next, Result(C, 3), new StateThresholds(2, 1));

        Assert.Equal(C, next.Next.HardState);
        Assert.Equal(4, next.Incident!.FailedRuns);
    }

    [Fact]
    public void Soft_change_time_is_when_the_current_soft_state_began()
    {
        var steps = Run(new StateThresholds(4, 1), O, O, W, W, C);

        Assert.Equal(T0, steps[1].Next.SoftChangeAt);
        Assert.Equal(T0.AddSeconds(2), steps[3].Next.SoftChangeAt);
        Assert.Equal(T0.AddSeconds(4), steps[4].Next.SoftChangeAt);
        Assert.Equal(T0, steps[4].Next.HardChangeAt);
    }

    [Fact]
    public void Percent_state_change_weighs_newer_changes_more()
    {
        // 21 states, one change: newest pair (weight 1.2) vs oldest pair (weight 0.8), over 20 pairs.
        long newest = 2; // oldest 20 states OK, newest CRITICAL
        long oldest = 2L << (2 * 20); // oldest CRITICAL, the rest OK

        Assert.Equal(6, StateMachine.PercentStateChange(newest, 21));
        Assert.Equal(4, StateMachine.PercentStateChange(oldest, 21));
        Assert.Equal(0, StateMachine.PercentStateChange(2, 1));
    }
}
