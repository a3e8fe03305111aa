using Microsoft.Extensions.Hosting;
using Tocsin.Scheduling;
using Tocsin.Storage;

namespace Tocsin;

/// <summary>
/// The running agent as a hosted service: starts the result writer, then the scheduler and the
/// collector; on stop,
/// stops the scheduler first (runs finish or are cancelled) and then the writer, which commits every
/// result produced before the host exits.
/// </summary>
public sealed class Agent : IHostedService, IDisposable
{
    private readonly Scheduler _scheduler;
    private readonly ResultWriter _writer;
    private readonly Collector _collector;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _running;
    private Task? _collecting;

    /// <summary>Creates the agent.</summary>
    public Agent(Scheduler scheduler, ResultWriter writer, Collector collector)
    {
        _scheduler = scheduler;
        _writer = writer;
        _collector = collector;
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _writer.Start();
        _running = Task.Run(() => _scheduler.RunAsync(_stopping.Token), CancellationToken.None);
        _collecting = Task.Run(() => _collector.RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
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
        if (_collecting is not null)
        {
            await _collecting.ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();
}
