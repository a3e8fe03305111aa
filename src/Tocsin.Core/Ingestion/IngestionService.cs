using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tocsin.Ingestion;

/// <summary>
/// Readies the ingestion store when the server starts: creates or migrates its schema, and when the database cannot be
/// reached (PostgreSQL down at start) keeps trying in the background, every 5 s growing to 1 min (with jitter), while the rest of Tocsin
/// runs; uploads meanwhile are answered <c>success:false</c>. Logs once per outage and once when ready.
/// </summary>
public sealed partial class IngestionService : BackgroundService
{
    private readonly IIngestionStore _store;
    private readonly INotificationFanout? _fanout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates the service for <paramref name="store"/>; a <see cref="Postgres.PostgresNotificationFanout"/> given as
    /// <paramref name="fanout"/> starts listening once the store is ready.</summary>
    public IngestionService(IIngestionStore store, TimeProvider time, ILogger<IngestionService> logger, INotificationFanout? fanout = null)
    {
        _store = store;
        _fanout = fanout;
        _time = time;
        _logger = logger;
    }

    /// <summary>Completes when the store's schema is ready.</summary>
    public Task Ready => _ready.Task;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        int failures = 0;
        string? lastProblem = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _store.InitializeAsync(stoppingToken).ConfigureAwait(false);
                LogReady(_logger, _store.Description);
                if (_fanout is Postgres.PostgresNotificationFanout listening)
                {
                    // Returns after the first LISTEN attempt; it keeps trying in the background while PostgreSQL is down.
                    await listening.StartAsync(stoppingToken).ConfigureAwait(false);
                }

                _ready.TrySetResult();
                return;
            }
            catch (IngestionStoreException ex)
            {
                if (ex.Message != lastProblem)
                {
                    LogNotReady(_logger, _store.Description, ex.Message);
                    lastProblem = ex.Message;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(Backoff.Jittered(TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1), ++failures), _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingestion: logs and notifications are stored in {Store}")]
    private static partial void LogReady(ILogger logger, string store);

    [LoggerMessage(Level = LogLevel.Error, Message = "Ingestion: {Store} is not usable, uploads are refused until it is (trying again): {Reason}")]
    private static partial void LogNotReady(ILogger logger, string store, string reason);
}
