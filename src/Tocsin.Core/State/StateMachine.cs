using Tocsin.Checks;

namespace Tocsin.State;

/// <summary>What applying one result did.</summary>
/// <param name="Next">The check's tracked state after the result (the same instance as before when not applied).</param>
/// <param name="Change">The hard state change the result made, or null.</param>
/// <param name="Incident">The incident the result opened, updated or closed (to store), or null when none changed.</param>
/// <param name="Applied">False when the result was older than (or the same as) the latest one applied, and was ignored.</param>
public sealed record StateStep(TrackedState Next, HardStateChange? Change, Incident? Incident, bool Applied);

/// <summary>
/// Soft and hard states with Nagios-like rules. Pure: the same inputs give the same step, except for the new ids
/// of state changes and incidents (UUIDv7 made from the result's start).
/// <list type="bullet">
/// <item>Every result sets the <b>soft</b> state (its own state) and the consecutive counts: non-OK results in a
/// row (<c>consecutiveFailures</c>; WARNING, CRITICAL and UNKNOWN all count) and OK results in a row.</item>
/// <item>The <b>hard</b> state starts as OK (before the first result nothing is known; a check that starts failing
/// makes an OK → non-OK change like any other).</item>
/// <item>Hard OK → non-OK when <c>consecutiveFailures</c> reaches <c>failureThreshold</c>: the hard state becomes
/// the state of the result that reached it, an incident opens.</item>
/// <item>Hard non-OK → another non-OK (WARNING → CRITICAL, CRITICAL → UNKNOWN …): at once, without counting again,
/// as Nagios does for a service already in a hard problem state; the incident stays open (its worst state follows).</item>
/// <item>Hard non-OK → OK when <c>consecutiveSuccesses</c> reaches <c>successThreshold</c>; the incident closes.
/// A non-OK result while recovering resets the count (and changes the hard state only if its state differs).</item>
/// <item>A result older than the latest applied one (a late duplicate, a backlog) changes nothing.</item>
/// <item><b>Flapping</b>: a weighted percent state change over the last <see cref="FlapWindow"/> states (newer changes
/// weigh more, 0.8 to 1.2, as Nagios does); flapping starts above <see cref="FlapStartPercent"/> once the window is
/// full and stops below <see cref="FlapStopPercent"/>. It is reported, and does not change the hard state.</item>
/// </list>
/// Thresholds may change between results (a configuration edit): the counts are kept and the new thresholds apply
/// from the next result.
/// </summary>
public static class StateMachine
{
    /// <summary>How many recent states flap detection looks at (Nagios: 21).</summary>
    public const int FlapWindow = 21;

    /// <summary>Percent state change above which a check starts flapping (Nagios' service default: 20).</summary>
    public const double FlapStartPercent = 20.0;

    /// <summary>Percent state change below which a flapping check stops flapping (Nagios' service default: 5).</summary>
    public const double FlapStopPercent = 5.0;

    private const long HistoryMask = (1L << (2 * FlapWindow)) - 1;

    /// <summary>Applies <paramref name="result"/> to <paramref name="current"/> (null before the check's first result).</summary>
    /// <exception cref="ArgumentException">When the result is of another check than <paramref name="current"/>.</exception>
    public static StateStep Apply(TrackedState? current, CheckResult result, StateThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (current is not null && current.CheckName != result.CheckName)
        {
            throw new ArgumentException($"result of {result.CheckName} applied to the state of {current.CheckName}", nameof(result));
        }

        if (current is not null && !IsNewer(result, current))
        {
            return new StateStep(current, null, null, false);
        }

        int failureThreshold = Math.Clamp(thresholds.FailureThreshold, StateThresholds.Min, StateThresholds.Max);
        int successThreshold = Math.Clamp(thresholds.SuccessThreshold, StateThresholds.Min, StateThresholds.Max);
        var at = result.StartedAt;
        bool ok = result.State == CheckState.OK;

        var hard = current?.HardState ?? CheckState.OK;
        int failures = ok ? 0 : (current?.ConsecutiveFailures ?? 0) + 1;
        int successes = ok ? (current?.ConsecutiveSuccesses ?? 0) + 1 : 0;
        var softChangeAt = current is null || current.SoftState != result.State ? at : current.SoftChangeAt;
        DateTimeOffset? failingSince = ok ? null : current?.FailingSince ?? at;

        var newHard = hard;
        if (!ok && (hard != CheckState.OK ? result.State != hard : failures >= failureThreshold))
        {
            newHard = result.State;
        }
        else if (ok && hard != CheckState.OK && successes >= successThreshold)
        {
            newHard = CheckState.OK;
        }

        var before = current?.OpenIncident;
        var incident = before;
        if (newHard != CheckState.OK && incident is null)
        {
            // Opened by this result (or, for a state stored before incidents existed, adopted now).
            incident = new Incident(
                Guid.CreateVersion7(at), result.CheckName, at, null, failingSince ?? at, result.State, result.Message, result.Message,
                result.Id, null, Math.Max(1, failures));
        }
        else if (incident is not null && !ok)
        {
            incident = incident with
            {
                WorstState = CheckStates.Worst(incident.WorstState, result.State),
                LastMessage = result.Message,
                FailedRuns = incident.FailedRuns + 1,
            };
        }
        else if (incident is not null && newHard == CheckState.OK)
        {
            incident = incident with { ClosedAt = at, ClosedResultId = result.Id };
        }

        HardStateChange? change = newHard == hard
            ? null
            : new HardStateChange(Guid.CreateVersion7(at), result.CheckName, hard, newHard, at, result.Message, result.Id, incident?.Id);

        long history = (((current?.FlapHistory ?? 0) << 2) | ((long)result.State & 3)) & HistoryMask;
        int count = Math.Min(FlapWindow, (current?.FlapCount ?? 0) + 1);
        double percent = PercentStateChange(history, count);
        bool flapping = current?.Flapping == true
            ? percent >= FlapStopPercent
            : count >= FlapWindow && percent > FlapStartPercent;

        var next = new TrackedState(
            result.CheckName, result.Kind, result.State, newHard, result.Id, at, result.DurationMs, result.Message,
            failures, successes, softChangeAt, newHard != hard || current is null ? at : current.HardChangeAt, failingSince,
            history, count, flapping, incident is { IsOpen: true } ? incident : null);
        return new StateStep(next, change, ReferenceEquals(incident, before) ? null : incident, true);
    }

    /// <summary>
    /// The weighted percent of state changes among the <paramref name="count"/> newest states of <paramref name="history"/>
    /// (2 bits per state, newest lowest): each change between two successive states counts with a weight from 1.2 (the
    /// newest) down to 0.8 (the oldest of a full window), and the sum is divided by the number of pairs. 0–100;
    /// 0 with fewer than two states. Results alternating at every run give 100.
    /// </summary>
    public static double PercentStateChange(long history, int count)
    {
        count = Math.Clamp(count, 0, FlapWindow);
        if (count < 2)
        {
            return 0;
        }

        double sum = 0;
        for (int k = 0; k < count - 1; k++)
        {
            long newer = (history >> (2 * k)) & 3, older = (history >> (2 * (k + 1))) & 3;
            if (newer != older)
            {
                sum += 1.2 - (0.4 * k / (FlapWindow - 2));
            }
        }

        return Math.Round(Math.Min(100, sum / (count - 1) * 100), 2);
    }

    /// <summary>Whether <paramref name="result"/> comes after the latest result applied (by start, then by id as text, as stored).</summary>
    private static bool IsNewer(CheckResult result, TrackedState current) =>
        result.StartedAt > current.LastStartedAt
        || (result.StartedAt == current.LastStartedAt
            && string.CompareOrdinal(result.Id.ToString("D"), current.LastResultId.ToString("D")) > 0);
}
