using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Tocsin.Checks;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;

namespace Tocsin.Bench;

/// <summary>
/// Listens to the engine's own instruments on the <c>Tocsin</c> meter: the schedule lag and the run
/// duration histograms, recorded with sub-millisecond resolution.
/// </summary>
internal sealed class EngineMetricsListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private LatencyHistogram _lag = new();
    private LatencyHistogram _runDuration = new();
    private long _batches;
    private long _batched;

    public EngineMetricsListener()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TocsinMetrics.MeterName
                && instrument.Name is "tocsin.scheduler.lag" or "tocsin.check.duration" or "tocsin.results.written")
            {
                listener.EnableMeasurementEvents(instrument, this);
            }
        };
        _listener.SetMeasurementEventCallback<double>(static (instrument, value, _, state) =>
        {
            var self = (EngineMetricsListener)state!;
            (instrument.Name == "tocsin.scheduler.lag" ? self.Lag : self.RunDuration).Record(value);
        });
        // The writer adds each committed batch's size once: one measurement = one transaction.
        _listener.SetMeasurementEventCallback<long>(static (_, value, _, state) =>
        {
            var self = (EngineMetricsListener)state!;
            Interlocked.Increment(ref self._batches);
            Interlocked.Add(ref self._batched, value);
        });
        _listener.Start();
    }

    /// <summary>Schedule lag (run start − due time) in ms, as the scheduler records it, since the window started.</summary>
    public LatencyHistogram Lag { get => Volatile.Read(ref _lag); private set => Volatile.Write(ref _lag, value); }

    /// <summary>Run duration in ms, as the executor records it, since the window started.</summary>
    public LatencyHistogram RunDuration { get => Volatile.Read(ref _runDuration); private set => Volatile.Write(ref _runDuration, value); }

    /// <summary>Outbox transactions the writer committed, and the results in them.</summary>
    public (long Batches, long Results) Commits => (Interlocked.Read(ref _batches), Interlocked.Read(ref _batched));

    /// <summary>Starts new, empty histograms (the end of a warm-up).</summary>
    public void StartWindow()
    {
        Lag = new LatencyHistogram();
        RunDuration = new LatencyHistogram();
    }

    public void Dispose() => _listener.Dispose();
}

/// <summary>
/// Sits between the scheduler and the real <see cref="IResultSink"/> (the <c>ResultWriter</c>) and
/// counts every result handed over: these are the runs made, to compare with the rows stored.
/// </summary>
internal sealed class CountingSink(IResultSink inner) : IResultSink
{
    private readonly long[] _byState = new long[4];
    private long _count;
    private string? _firstProblem;

    public long Count => Interlocked.Read(ref _count);

    public long CountOf(CheckState state) => Interlocked.Read(ref _byState[(int)state]);

    /// <summary>The message of the first non-OK result, to explain failures.</summary>
    public string? FirstProblem => Volatile.Read(ref _firstProblem);

    public ValueTask WriteAsync(CheckResult result, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        Interlocked.Increment(ref _byState[(int)result.State]);
        if (result.State != CheckState.OK)
        {
            Interlocked.CompareExchange(ref _firstProblem, $"{result.State}: {result.Message}", null);
        }

        return inner.WriteAsync(result, cancellationToken);
    }
}

/// <summary>
/// Counts what the engine logs, by level, and keeps the first few warning-or-worse messages. Nothing is
/// written: the cost of formatting and emitting log lines is not part of the figures.
/// </summary>
internal sealed class LogCounter
{
    private readonly long[] _byLevel = new long[7];
    private readonly ConcurrentQueue<string> _samples = new();

    public long CountOf(LogLevel level) => Interlocked.Read(ref _byLevel[(int)level]);

    public IEnumerable<string> Samples => _samples;

    public ILogger<T> For<T>() => new Logger<T>(this);

    private void Add(LogLevel level, Func<string> message)
    {
        Interlocked.Increment(ref _byLevel[(int)level]);
        if (level >= LogLevel.Warning && _samples.Count < 3)
        {
            _samples.Enqueue($"{level}: {message()}");
        }
    }

    private sealed class Logger<T>(LogCounter counter) : ILogger<T>
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel is >= LogLevel.Information and < LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                counter.Add(logLevel, () => formatter(state, exception) + (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})"));
            }
        }
    }
}
