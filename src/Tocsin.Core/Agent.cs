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
    private readonly TimeProvider _time;

    /// <summary>
    /// Creates the agent; <paramref name="exporter"/> and <paramref name="fleet"/> are null when no central database is
    /// configured; <paramref name="logger"/> receives a critical line if the scheduler's loop ever dies; <paramref name="time"/>
    /// times the fleet join budget (default: the system clock).
    /// </summary>
    public Agent(Scheduler scheduler, ResultWriter writer, Collector collector, Exporter? exporter = null, AgentFleet? fleet = null, ILogger<Agent>? logger = null, TimeProvider? time = null)
    {
        _logger = logger ?? NullLogger<Agent>.Instance;
        _time = time ?? TimeProvider.System;
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
            // Know the other agents before the first run, but never wait more than a few seconds for PostgreSQL. The
            // budget is enforced here too: a server that accepts and never answers keeps Npgsql opening until its own
            // connect timeout whatever the token says. The join then goes on in the background and the heartbeats
            // follow it (meanwhile this agent runs every check: a duplicate rather than a gap).
            var join = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            join.CancelAfter(FleetJoinBudget); // the token's own timer: Npgsql honours it where it can
            var joining = _fleet.JoinAsync(join.Token);
            try
            {
                await joining.WaitAsync(FleetJoinBudget, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                LogJoinSlow(_logger, FleetJoinBudget);
            }

            _beating = Task.Run(
                async () =>
                {
                    using (join)
                    {
                        await joining.ConfigureAwait(false);
                    }

                    await _fleet.RunAsync(_stopping.Token).ConfigureAwait(false);
                },
                CancellationToken.None);
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

        // What talks to PostgreSQL gets a bounded wait: a server that accepts and never answers keeps Npgsql
        // opening until its connect timeout whatever the tokens say, and the stop must not wait for that. The
        // results are safe in the outbox either way.
        if (_beating is not null)
        {
            // Leaves the fleet: the other agents take this agent's checks at their next heartbeat.
            await WaitBoundedAsync(_beating, FleetJoinBudget, "leaving the fleet").ConfigureAwait(false);
        }

        if (_exporting is not null)
        {
            await WaitBoundedAsync(_exporting, FinalExportBudget, "the export in progress").ConfigureAwait(false);
        }

        if (_exporter is not null)
        {
            await WaitBoundedAsync(_exporter.FlushAsync(FinalExportBudget), FinalExportBudget + TimeSpan.FromSeconds(1), "the last export").ConfigureAwait(false);
        }

        if (_collecting is not null)
        {
            await _collecting.ConfigureAwait(false);
        }
    }

    private async Task WaitBoundedAsync(Task task, TimeSpan budget, string what)
    {
        try
        {
            await task.WaitAsync(budget, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogStopNotWaiting(_logger, what, budget);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping without waiting more than {Budget} for {What}: the central database does not answer; unexported results stay in the outbox for the next start")]
    private static partial void LogStopNotWaiting(ILogger logger, string what, TimeSpan budget);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The central database did not answer the fleet join within {Budget}; checks start now, all of them on this agent until a heartbeat succeeds")]
    private static partial void LogJoinSlow(ILogger logger, TimeSpan budget);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The scheduler stopped unexpectedly: no check runs until tocsin is restarted (/readyz answers 503)")]
    private static partial void LogSchedulerDied(ILogger logger, Exception ex);
}
