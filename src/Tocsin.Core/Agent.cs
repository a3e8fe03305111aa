using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Export;
using Tocsin.Fleet;
using Tocsin.Scheduling;
using Tocsin.Storage;

namespace Tocsin;

/// <summary>
/// The running agent as a hosted service: starts the result writer, then the scheduler, the collector
/// and (when a central database is configured) the exporter; on stop, stops the scheduler first (runs
/// finish or are cancelled) and then the writer, which commits every result produced before the host
/// exits; then the exporter makes one last attempt, bounded by <see cref="FinalExportBudget"/>, to send
/// what waits (what it cannot send stays in the outbox for the next start).
/// </summary>
public sealed partial class Agent : IHostedService, IDisposable
{
    private readonly Scheduler _scheduler;
    private readonly ResultWriter _writer;
    private readonly Collector _collector;
    private readonly Exporter? _exporter;
    private readonly AgentFleet? _fleet;
    private Task? _beating;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _running;
    private Task? _collecting;
    private Task? _exporting;
    private readonly ILogger _logger;

    /// <summary>
    /// Creates the agent; <paramref name="exporter"/> and <paramref name="fleet"/> are null when no central database is
    /// configured; <paramref name="logger"/> receives a critical line if the scheduler's loop ever dies.
    /// </summary>
    public Agent(Scheduler scheduler, ResultWriter writer, Collector collector, Exporter? exporter = null, AgentFleet? fleet = null, ILogger<Agent>? logger = null)
    {
        _logger = logger ?? NullLogger<Agent>.Instance;
        _fleet = fleet;
        _scheduler = scheduler;
        _writer = writer;
        _collector = collector;
        _exporter = exporter;
    }

    /// <summary>Longest time the last export attempt at stop may take. <value>Default: 5 s.</value></summary>
    public TimeSpan FinalExportBudget { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest time the start waits to join the fleet before the first run. <value>Default: 5 s.</value></summary>
    public TimeSpan FleetJoinBudget { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The exporter, or null when no central database is configured.</summary>
    public Exporter? Exporter => _exporter;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _writer.Start();
        if (_fleet is not null)
        {
            // Know the other agents before the first run, but never wait more than a few seconds for PostgreSQL.
            using var join = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            join.CancelAfter(FleetJoinBudget);
            await _fleet.JoinAsync(join.Token).ConfigureAwait(false);
            _beating = Task.Run(() => _fleet.RunAsync(_stopping.Token), CancellationToken.None);
        }

        _running = Task.Run(() => _scheduler.RunAsync(_stopping.Token), CancellationToken.None);
        _ = _running.ContinueWith(
            t => LogSchedulerDied(_logger, t.Exception!),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _collecting = Task.Run(() => _collector.RunAsync(_stopping.Token), CancellationToken.None);
        if (_exporter is not null)
        {
            _exporting = Task.Run(() => _exporter.RunAsync(_stopping.Token), CancellationToken.None);
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_running is not null)
        {
            await _running.ConfigureAwait(false);
        }

        await _writer.StopAsync().ConfigureAwait(false);
        if (_beating is not null)
        {
            // Leaves the fleet: the other agents take this agent's checks at their next heartbeat.
            await _beating.ConfigureAwait(false);
        }

        if (_exporting is not null)
        {
            await _exporting.ConfigureAwait(false);
        }

        if (_exporter is not null)
        {
            await _exporter.FlushAsync(FinalExportBudget).ConfigureAwait(false);
        }

        if (_collecting is not null)
        {
            await _collecting.ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(Level = LogLevel.Critical, Message = "The scheduler stopped unexpectedly: no check runs until tocsin is restarted (/readyz answers 503)")]
    private static partial void LogSchedulerDied(ILogger logger, Exception ex);
}
