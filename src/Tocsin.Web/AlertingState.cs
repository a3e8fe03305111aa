using Microsoft.Extensions.DependencyInjection;
using Tocsin.Alerting;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Web;

/// <summary>The notifier's records and the active silences, as read from the alert store at <see cref="ReadAt"/>.</summary>
/// <param name="Records">Every check's <see cref="AlertRecord"/> the store holds, by check name (copies: safe to read).</param>
/// <param name="Silences">The active silence ending last of each silenced check, by check name.</param>
/// <param name="ReadAt">When they were read (UTC).</param>
public sealed record AlertingSnapshot(IReadOnlyDictionary<string, AlertRecord> Records, IReadOnlyDictionary<string, Silence> Silences, DateTimeOffset ReadAt);

/// <summary>
/// Reads the alert records and silences from the alert store (the outbox for a single agent, the central database with
/// several: the leader commits them there after each pass) at most once per <see cref="MaxAge"/>, one read at a time, for
/// <c>GET /api/v1/alerts</c>, the overview's badges and the check pages. Reading the store rather than the notifier's
/// in-memory records gives consistent copies, and works on a follower too. <see cref="Invalidate"/> after a write makes the
/// next read fresh.
/// </summary>
public sealed class AlertingState
{
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private AlertingSnapshot? _current;
    private Task<AlertingSnapshot>? _reading;

    /// <summary>Creates the reader over <paramref name="store"/>; <paramref name="notifier"/> is this process's notifier, or null when it runs none.</summary>
    public AlertingState(IAlertStore store, Notifier? notifier, TimeProvider time)
    {
        Store = store;
        Notifier = notifier;
        _time = time;
    }

    /// <summary>The alert store.</summary>
    public IAlertStore Store { get; }

    /// <summary>This process's notifier, or null.</summary>
    public Notifier? Notifier { get; }

    /// <summary>Whether this process's notifier is the leader's (false without a notifier).</summary>
    public bool IsLeader => Notifier?.IsLeader ?? false;

    /// <summary>How long a read is reused. <value>Default: 1 s.</value></summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The records and silences at most <see cref="MaxAge"/> old. Concurrent callers share one read; a caller that gives up
    /// (its token) leaves it running for the others.
    /// </summary>
    /// <exception cref="System.Data.Common.DbException">When the store cannot be read (the central database is down).</exception>
    public Task<AlertingSnapshot> GetAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_current is { } s && _time.GetUtcNow() - s.ReadAt < MaxAge)
            {
                return Task.FromResult(s);
            }

            if (_reading is null || _reading.IsCompleted)
            {
                _reading = Task.Run(ReadAsync, CancellationToken.None);
            }

            return _reading.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Forgets the current read (after an acknowledgement or silence was stored, or a silence ended).</summary>
    public void Invalidate()
    {
        lock (_lock)
        {
            _current = null;
        }
    }

    /// <summary>Stores <paramref name="command"/>, wakes this process's notifier (it applies the command on its next pass, at
    /// once when it is the leader) and forgets the current read.</summary>
    /// <exception cref="System.Data.Common.DbException">When the store cannot be written.</exception>
    public async Task AddCommandAsync(AlertCommand command, CancellationToken cancellationToken)
    {
        await Store.AddCommandAsync(command, cancellationToken).ConfigureAwait(false);
        Notifier?.Wake();
        Invalidate();
    }

    /// <summary>Ends silence <paramref name="id"/> now; false when no active silence has that id.</summary>
    /// <exception cref="System.Data.Common.DbException">When the store cannot be written.</exception>
    public async Task<bool> EndSilenceAsync(Guid id, CancellationToken cancellationToken)
    {
        bool ended = await Store.EndSilenceAsync(id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        Notifier?.Wake();
        Invalidate();
        return ended;
    }

    /// <summary>The state registered in services, or one made over the outbox when alerting is not registered.</summary>
    internal static AlertingState Create(IServiceProvider services)
    {
        var store = services.GetService<IAlertStore>() ?? new SqliteAlertStore(services.GetRequiredService<SqliteOutbox>());
        return new AlertingState(store, services.GetService<Notifier>(), services.GetService<TimeProvider>() ?? TimeProvider.System);
    }

    private async Task<AlertingSnapshot> ReadAsync()
    {
        var now = _time.GetUtcNow();
        var records = await Store.ReadRecordsAsync(CancellationToken.None).ConfigureAwait(false);
        var silences = await Store.ReadSilencesAsync(now, CancellationToken.None).ConfigureAwait(false);
        var snapshot = new AlertingSnapshot(
            records.ToDictionary(r => r.CheckName, StringComparer.Ordinal),
            silences.GroupBy(s => s.CheckName, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.MaxBy(s => s.EndsAt)!, StringComparer.Ordinal),
            now);
        lock (_lock)
        {
            _current = snapshot;
        }

        return snapshot;
    }
}
