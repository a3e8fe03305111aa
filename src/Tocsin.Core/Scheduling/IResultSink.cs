using Tocsin.Checks;

namespace Tocsin.Scheduling;

/// <summary>Where the scheduler hands every result it produced (the local outbox's writer).</summary>
public interface IResultSink
{
    /// <summary>
    /// Accepts a result for durable storage. Waits (back-pressure) while the sink's bounded queue is full.
    /// </summary>
    /// <exception cref="InvalidOperationException">When the sink has been stopped.</exception>
    ValueTask WriteAsync(CheckResult result, CancellationToken cancellationToken);
}
