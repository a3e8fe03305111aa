using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Diagnostics;

namespace Tocsin.Scheduling;

/// <summary>
/// Runs one check once with its timeout and turns whatever happens into a <see cref="CheckResult"/>:
/// a runner's exception becomes <c>UNKNOWN</c> with the reason, a timeout <c>CRITICAL</c>.
/// Never throws, except <see cref="OperationCanceledException"/> when the agent is stopping.
/// </summary>
public sealed partial class CheckExecutor
{
    private readonly CheckKindRegistry _kinds;
    private readonly TimeProvider _time;
    private readonly TocsinMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Alerting.SlowResponseTracker _slow = new();

    /// <summary>Creates the executor.</summary>
    public CheckExecutor(CheckKindRegistry kinds, TimeProvider time, TocsinMetrics metrics, ILogger<CheckExecutor> logger)
    {
        _kinds = kinds;
        _time = time;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Runs <paramref name="check"/> once.</summary>
    /// <param name="check">The check.</param>
    /// <param name="scheduledAt">When the run was due (UTC).</param>
    /// <param name="stopping">Cancelled when the agent stops; then no result is made.</param>
    /// <param name="resultId">The id to give the result (made earlier, e.g. by a run-now request), or null for a UUIDv7 made from the start.</param>
    /// <exception cref="OperationCanceledException">When <paramref name="stopping"/> was cancelled during the run.</exception>
    public async Task<CheckResult> RunAsync(CheckDefinition check, DateTimeOffset scheduledAt, CancellationToken stopping, Guid? resultId = null)
    {
        var startedAt = _time.GetUtcNow();
        long start = _time.GetTimestamp();
        using var timeout = new CancellationTokenSource(check.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping);
        RunOutcome outcome;
        try
        {
            var runner = _kinds.Get(check.Kind).Runner;
            outcome = await runner.RunAsync(check, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            outcome = new RunOutcome(CheckState.CRITICAL, $"timed out after {Duration.Format(check.Timeout)}");
        }
        catch (Exception ex)
        {
            LogRunnerFailed(_logger, ex, check.Name);
            outcome = new RunOutcome(CheckState.UNKNOWN, $"check failed to run: {ex.GetType().Name}: {ex.Message}");
        }

        stopping.ThrowIfCancellationRequested();
        double ms = _time.GetElapsedTime(start).TotalMilliseconds;
        var finishedAt = _time.GetUtcNow();
        outcome = _slow.Apply(check, outcome, ms, finishedAt);
        _metrics.Runs.Add(1, new("kind", check.Kind), new("state", outcome.State.ToString()));
        _metrics.RunDuration.Record(ms, new KeyValuePair<string, object?>("kind", check.Kind));
        return new CheckResult(
            resultId ?? Guid.CreateVersion7(startedAt), check.Name, check.Kind, outcome.State, scheduledAt, startedAt, finishedAt,
            Math.Round(ms, 3), outcome.StatusCode, outcome.Message, outcome.Details);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Check {Check} threw; its result is UNKNOWN")]
    private static partial void LogRunnerFailed(ILogger logger, Exception ex, string check);
}
