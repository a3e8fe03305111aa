using Microsoft.Extensions.Hosting;
using Tocsin.Scheduling;
using Tocsin.Storage;

namespace Tocsin;

/// <summary>
/// The running agent as a hosted service: starts the result writer, then the scheduler; on stop,
/// stops the scheduler first (runs finish or are cancelled) and then the writer, which commits every
/// result produced before the host exits.
/// </summary>
public sealed class Agent : IHostedService, IDisposable
{
    private readonly Scheduler _scheduler;
    private readonly ResultWriter _writer;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _running;

    /// <summary>Creates the agent.</summary>
    public Agent(Scheduler scheduler, ResultWriter writer)
    {
        _scheduler = scheduler;
        _writer = writer;
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _writer.Start();
        _running = Task.Run(() => _scheduler.RunAsync(_stopping.Token), CancellationToken.None);
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
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();
}
