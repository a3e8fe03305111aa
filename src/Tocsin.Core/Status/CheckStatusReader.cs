using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Export;
using Tocsin.State;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Status;

/// <summary>Check states read by <see cref="CheckStatusReader"/>.</summary>
/// <param name="Checks">One entry per requested check, in the order asked.</param>
/// <param name="Source"><see cref="StatusReport.SourceCentral"/> or <see cref="StatusReport.SourceLocal"/>.</param>
/// <param name="FallbackReason">Why the central database was not used although configured (password hidden), or null.</param>
public sealed record StatusReading(IReadOnlyList<CheckStatusView> Checks, string Source, string? FallbackReason);

/// <summary>Which results of a check to read: newest first, up to <paramref name="Limit"/>.</summary>
/// <param name="Limit">Most results (≥ 1).</param>
/// <param name="From">Earliest start (UTC, inclusive), or null.</param>
/// <param name="To">Latest start (UTC, exclusive), or null.</param>
/// <param name="Before">The last result of the previous page (only older ones are read), or null for the first page.</param>
public sealed record ResultQuery(int Limit, DateTimeOffset? From = null, DateTimeOffset? To = null, ResultPosition? Before = null);

/// <summary>Results read by <see cref="CheckStatusReader"/>.</summary>
/// <param name="Results">Newest first.</param>
/// <param name="FallbackReason">Why the central database was not used although configured (password hidden), or null.</param>
public sealed record ResultsReading(IReadOnlyList<ResultView> Results, string? FallbackReason);

/// <summary>
/// Where <c>GET /api/v1/checks</c> and <c>tocsin status</c> read from. With a central database configured,
/// its <c>tocsin.check_states</c> (the whole fleet: every agent's newest results); when it cannot be read
/// within <see cref="CentralTimeout"/> (down, unreachable, login refused, schema older than version 2), this
/// agent's own outbox, marked <c>"source": "local"</c> with the reason, and a warning logged once per outage
/// (not per request); for <see cref="RetryCentralAfter"/> after a failure reads go straight to the outbox.
/// Without a central database, always the outbox. Never throws for a PostgreSQL failure.
/// </summary>
public sealed partial class CheckStatusReader
{
    private readonly SqliteOutbox? _outbox;
    private readonly CentralStatusReader? _central;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private int _failing;
    private long _failedAt;
    private string? _lastReason;

    /// <summary>
    /// Reads from <paramref name="central"/> when not null, else (or when it fails) from <paramref name="outbox"/>;
    /// a null <paramref name="outbox"/> means there is no local database yet (every check pending).
    /// <paramref name="time"/> (default: the system clock) times <see cref="CentralTimeout"/>.
    /// </summary>
    public CheckStatusReader(SqliteOutbox? outbox, CentralStatusReader? central, ILogger<CheckStatusReader> logger, TimeProvider? time = null)
    {
        _outbox = outbox;
        _central = central;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Longest a read of the central database may take before the local outbox is used. <value>Default: 3 s.</value></summary>
    public TimeSpan CentralTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// After a failed central read, how long reads go straight to the outbox (with the same reason) before the central
    /// database is tried again, so a dead or silent server costs one attempt per period, not one per request. <value>Default: 5 s.</value>
    /// </summary>
    public TimeSpan RetryCentralAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether a central database is configured.</summary>
    public bool HasCentral => _central is not null;

    /// <summary>The state of each of <paramref name="checks"/>, in their order; see the class remarks for the source.</summary>
    /// <exception cref="SqliteException">When the local outbox is needed and cannot be read.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public async Task<StatusReading> ReadChecksAsync(IReadOnlyList<CheckDefinition> checks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checks);
        string? reason = null;
        if (_central is not null && SkipCentral() is { } skipped)
        {
            reason = skipped;
        }
        else if (_central is not null)
        {
            using var timeout = new CancellationTokenSource(CentralTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                var states = await Bounded(_central.ReadStatesAsync([.. checks.Select(c => c.Name)], linked.Token), linked.Token).ConfigureAwait(false);
                Recovered();
                return new StatusReading(WithTracking(checks, StatusReport.Build(checks, states), null), StatusReport.SourceCentral, null);
            }
            catch (Exception ex) when (IsCentralFailure(ex, cancellationToken))
            {
                reason = Failed(ex);
            }
        }

        var localStates = _outbox is null ? new Dictionary<string, CheckStatus>() : _outbox.ReadStates();
        var local = StatusReport.Build(checks, localStates, _outbox?.AgentId);
        var tracked = localStates.Values.Where(s => s.Tracked is not null).ToDictionary(s => s.Name, s => s.Tracked!, StringComparer.Ordinal);
        return new StatusReading(WithTracking(checks, local, tracked), StatusReport.SourceLocal, reason);
    }

    /// <summary>
    /// Adds this agent's state tracking and uptime (<see cref="StatusReport.WithTracking"/>) to <paramref name="views"/>
    /// (one per check, same order). With the central view, a local outbox that cannot be read leaves the views as they are.
    /// </summary>
    private List<CheckStatusView> WithTracking(IReadOnlyList<CheckDefinition> checks, IReadOnlyList<CheckStatusView> views, IReadOnlyDictionary<string, TrackedState>? tracked)
    {
        IReadOnlyDictionary<string, Uptime> uptime = new Dictionary<string, Uptime>();
        bool central = tracked is null;
        if (_outbox is not null)
        {
            try
            {
                tracked ??= _outbox.ReadTrackedStates();
                uptime = _outbox.ReadUptime(_time.GetUtcNow());
            }
            catch (SqliteException) when (central)
            {
                // The central view stands without this agent's tracking.
            }
        }

        var list = new List<CheckStatusView>(views.Count);
        for (int i = 0; i < views.Count; i++)
        {
            string name = checks[i].Name;
            list.Add(StatusReport.WithTracking(views[i], checks[i], tracked?.GetValueOrDefault(name), uptime.GetValueOrDefault(name)));
        }

        return list;
    }

    /// <summary>
    /// The newest <paramref name="limit"/> results of <paramref name="checkName"/>, newest first. With a central
    /// database: its results from every agent merged with this agent's own newest results (those not exported
    /// yet among them), each once, each marked with its source; when the central database cannot be read, the
    /// outbox's alone.
    /// </summary>
    /// <exception cref="SqliteException">When the local outbox cannot be read.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public Task<ResultsReading> ReadResultsAsync(string checkName, int limit, CancellationToken cancellationToken) =>
        ReadResultsAsync(checkName, new ResultQuery(limit), cancellationToken);

    /// <summary>
    /// One page of <paramref name="checkName"/>'s results as <paramref name="query"/> asks (time range, position of the
    /// previous page's last result, limit), newest first, from the same sources as <see cref="ReadResultsAsync(string, int, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="SqliteException">When the local outbox cannot be read.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public async Task<ResultsReading> ReadResultsAsync(string checkName, ResultQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        int limit = query.Limit;
        var local = _outbox is null ? [] : _outbox.ReadResults(checkName, query.From, query.To, query.Before, limit)
            .Select(r => ResultView.From(r, _outbox.AgentId, StatusReport.SourceLocal)).ToList();
        if (_central is null)
        {
            return new ResultsReading(local, null);
        }

        if (SkipCentral() is { } skipped)
        {
            return new ResultsReading(local, skipped);
        }

        using var timeout = new CancellationTokenSource(CentralTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var central = await Bounded(_central.ReadResultsAsync(checkName, limit, linked.Token, query.From, query.To, query.Before), linked.Token).ConfigureAwait(false);
            Recovered();
            var seen = new HashSet<Guid>();
            var merged = central.Select(c => ResultView.From(c.Result, c.AgentId, StatusReport.SourceCentral))
                .Concat(local)
                .Where(v => seen.Add(v.Id))
                .OrderByDescending(v => v.StartedAt).ThenByDescending(v => v.Id)
                .Take(limit)
                .ToList();
            return new ResultsReading(merged, null);
        }
        catch (Exception ex) when (IsCentralFailure(ex, cancellationToken))
        {
            return new ResultsReading(local, Failed(ex));
        }
    }

    /// <summary>A one-line reason for a failed central read, with any password hidden.</summary>
    internal static string Describe(Exception ex) => ex switch
    {
        PostgresException { SqlState: "42P01" or "3F000" } =>
            "the central database has no tocsin.check_states yet (schema older than version 2; an agent of this version creates it at its first export)",
        OperationCanceledException => "the central database did not answer in time",
        _ => Exporter.Describe(ex),
    };

    private static bool IsCentralFailure(Exception ex, CancellationToken callerToken) =>
        ex is NpgsqlException or TimeoutException or SocketException or IOException or InvalidOperationException
        || (ex is OperationCanceledException && !callerToken.IsCancellationRequested);

    /// <summary>
    /// Waits for <paramref name="read"/> at most until <paramref name="token"/> is cancelled: Npgsql does not always
    /// stop opening a connection when cancelled (a server that accepts and stays silent), so the wait is cut here and
    /// the read left to end on its own (its failure observed, never thrown).
    /// </summary>
    private static async Task<T> Bounded<T>(Task<T> read, CancellationToken token)
    {
        try
        {
            return await read.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!read.IsCompleted)
        {
            _ = read.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>The last failure's reason while within <see cref="RetryCentralAfter"/> of it, else null (try the central database).</summary>
    private string? SkipCentral() =>
        Volatile.Read(ref _failing) == 1 && _time.GetElapsedTime(Interlocked.Read(ref _failedAt)) < RetryCentralAfter ? Volatile.Read(ref _lastReason) : null;

    private string Failed(Exception ex)
    {
        string reason = Describe(ex);
        Volatile.Write(ref _lastReason, reason);
        Interlocked.Exchange(ref _failedAt, _time.GetTimestamp());
        if (Interlocked.Exchange(ref _failing, 1) == 0)
        {
            LogCentralUnreadable(_logger, reason);
        }

        return reason;
    }

    private void Recovered()
    {
        if (Interlocked.Exchange(ref _failing, 0) == 1)
        {
            LogCentralReadable(_logger);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot read the fleet's status from the central database ({Reason}); showing this agent's local results, marked \"source\": \"local\"")]
    private static partial void LogCentralUnreadable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reading the fleet's status from the central database again")]
    private static partial void LogCentralReadable(ILogger logger);
}
