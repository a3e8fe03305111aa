using System.Text.Json.Nodes;
using Tocsin.Checks;

namespace Tocsin.Alerting;

/// <summary>
/// A latency objective on one check (config <c>slowResponse</c>: <c>{"p95Above": "800ms", "window": "10m", "minRuns": 5}</c>):
/// when the 95th percentile (nearest rank) of the durations of the check's OK runs that finished within <see cref="Window"/> is
/// above <see cref="P95Above"/>, an OK result becomes WARNING, so the state machine, incidents and notifications treat a slow
/// service like any other problem. Durations are kept in memory only: after a restart the window fills again.
/// </summary>
/// <param name="P95Above">The threshold (1 ms – 10 min).</param>
/// <param name="Window">How far back runs count (1 min – 24 h).</param>
/// <param name="MinRuns">Fewest OK runs in the window before the rule judges (1–1000). <value>Default: 5.</value></param>
public sealed record SlowResponseRule(TimeSpan P95Above, TimeSpan Window, int MinRuns = 5);

/// <summary>Applies each check's <see cref="SlowResponseRule"/> to its outcomes; safe for concurrent use (one check's runs never overlap).</summary>
public sealed class SlowResponseTracker
{
    private const int MaxSamples = 10_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Queue<(DateTimeOffset At, double Ms)>> _samples = new(StringComparer.Ordinal);

    /// <summary>
    /// The outcome to store for a run of <paramref name="check"/> that took <paramref name="durationMs"/> and finished at
    /// <paramref name="finishedAt"/>: <paramref name="outcome"/> itself, or for an OK one whose window's p95 is above the rule's
    /// threshold, a WARNING saying so (details gain <c>slowP95Ms</c>, <c>slowRuns</c>).
    /// </summary>
    public RunOutcome Apply(CheckDefinition check, RunOutcome outcome, double durationMs, DateTimeOffset finishedAt)
    {
        ArgumentNullException.ThrowIfNull(check);
        ArgumentNullException.ThrowIfNull(outcome);
        if (check.SlowResponse is not { } rule)
        {
            return outcome;
        }

        var queue = _samples.GetOrAdd(check.Name, _ => new Queue<(DateTimeOffset, double)>());
        double[] window;
        lock (queue)
        {
            if (outcome.State == CheckState.OK)
            {
                queue.Enqueue((finishedAt, durationMs));
            }

            while (queue.Count > 0 && (queue.Count > MaxSamples || queue.Peek().At < finishedAt - rule.Window))
            {
                queue.Dequeue();
            }

            window = [.. queue.Select(s => s.Ms)];
        }

        if (outcome.State != CheckState.OK || window.Length < rule.MinRuns)
        {
            return outcome;
        }

        Array.Sort(window);
        double p95 = window[Math.Max(0, (int)Math.Ceiling(0.95 * window.Length) - 1)];
        if (p95 <= rule.P95Above.TotalMilliseconds)
        {
            return outcome;
        }

        var details = outcome.Details?.DeepClone().AsObject() ?? new JsonObject();
        details["slowP95Ms"] = Math.Round(p95, 1);
        details["slowRuns"] = window.Length;
        return outcome with
        {
            State = CheckState.WARNING,
            Message = $"slow: p95 {p95:0} ms over the last {Configuration.Duration.Format(rule.Window)} ({window.Length} runs) is above {rule.P95Above.TotalMilliseconds:0} ms; {outcome.Message}",
            Details = details,
        };
    }
}
