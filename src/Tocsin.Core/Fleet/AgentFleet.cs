using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Fleet;

/// <summary>Settings of the agents sharing one central database.</summary>
public sealed record FleetOptions
{
    /// <summary>Time between heartbeats. An agent whose last heartbeat is older than two of these is gone. <value>Default: 10 s.</value></summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Key of the session-level advisory lock the leader holds ("tocsin-leader" in ASCII, truncated). <value>Default: 0x746f6373696e4c.</value></summary>
    public long LeaderLockKey { get; init; } = 0x746f6373696e4c;
}

/// <summary>
/// This agent's membership in the fleet of agents sharing one central PostgreSQL: it registers in
/// <c>tocsin.agents</c> (id, hostname, version, start, heartbeat — times from the database's clock, so
/// agents' clock skew does not matter), learns which agents are live (heartbeat within two intervals),
/// decides which <c>"placement": "shard"</c> checks it owns by rendezvous hashing over the live agents,
/// and tries to be the <b>leader</b> by holding a PostgreSQL advisory lock on a dedicated connection
/// (re-tried every heartbeat when lost).
/// <para>Besides its own heartbeats, an agent reads the fleet again at the moment the oldest heartbeat it knows
/// of goes stale, so an agent that dies (last heartbeat at <c>t</c>) is out of every other agent's view at
/// <c>t + 2 × interval</c>, not up to one more interval later at their next heartbeat, and the others agree on
/// it within a query's time.</para>
/// <para>When the database cannot be reached for more than two heartbeats, the agent owns every check:
/// duplicates are better than gaps.</para>
/// </summary>
public sealed partial class AgentFleet : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _hostname;
    private readonly string _version;
    private volatile Guid[] _live;
    private long _nextStale = long.MaxValue;
    private NpgsqlConnection? _leaderConnection;
    private long _lastSuccess;
    private volatile bool _isLeader;

    /// <summary>Creates the membership of agent <paramref name="agentId"/> (the outbox's persistent id).</summary>
    public AgentFleet(NpgsqlDataSource dataSource, Guid agentId, string hostname, string version, FleetOptions options, TimeProvider time, ILogger<AgentFleet> logger)
    {
        _dataSource = dataSource;
        AgentId = agentId;
        _hostname = hostname;
        _version = version;
        _options = options;
        _time = time;
        _logger = logger;
        _live = [agentId];
        _lastSuccess = time.GetTimestamp();
    }

    /// <summary>This agent's id.</summary>
    public Guid AgentId { get; }

    /// <summary>Whether this agent holds the leader lock now.</summary>
    public bool IsLeader => _isLeader;

    /// <summary>Live agents at the last heartbeat, sorted, always including this one.</summary>
    public IReadOnlyList<Guid> LiveAgents => _live;

    /// <summary>
    /// Whether this agent runs <paramref name="check"/> now: always for <see cref="CheckPlacement.All"/>;
    /// for <see cref="CheckPlacement.Leader"/> when this agent is the leader;
    /// for <see cref="CheckPlacement.Shard"/> when this agent has the highest rendezvous score
    /// (XxHash64 of agent id and check name) among the live agents, or when the database has not
    /// answered for more than two heartbeats.
    /// </summary>
    public bool Owns(CheckDefinition check)
    {
        if (check.Placement == CheckPlacement.All || _time.GetElapsedTime(Interlocked.Read(ref _lastSuccess)) > _options.HeartbeatInterval * 2)
        {
            return true;
        }

        return check.Placement == CheckPlacement.Leader ? _isLeader : Owner(check.Name, _live) == AgentId;
    }

    /// <summary>The agent among <paramref name="agents"/> that owns a sharded check (rendezvous hashing).</summary>
    public static Guid Owner(string checkName, IReadOnlyList<Guid> agents)
    {
        Guid best = Guid.Empty;
        ulong bestScore = 0;
        byte[] name = Encoding.UTF8.GetBytes(checkName);
        Span<byte> buffer = stackalloc byte[16];
        foreach (var agent in agents)
        {
            agent.TryWriteBytes(buffer);
            var hash = new XxHash64();
            hash.Append(buffer);
            hash.Append(name);
            ulong score = hash.GetCurrentHashAsUInt64();
            if (best == Guid.Empty || score > bestScore || (score == bestScore && agent.CompareTo(best) > 0))
            {
                best = agent;
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>One heartbeat: register or refresh this agent, read the live agents, keep or try the leader lock.</summary>
    /// <exception cref="NpgsqlException">When the database cannot be reached; leadership is dropped first.</exception>
    public async Task BeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using (var cmd = _dataSource.CreateCommand(FleetSql.Heartbeat))
            {
                cmd.Parameters.AddWithValue("id", AgentId);
                cmd.Parameters.AddWithValue("hostname", _hostname);
                cmd.Parameters.AddWithValue("version", _version);
                cmd.Parameters.AddWithValue("window", _options.HeartbeatInterval * 2);
                await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await ReadLiveAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastSuccess, _time.GetTimestamp());
            await KeepOrTryLeadershipAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            await DropLeadershipAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Reads the live agents (heartbeat younger than two intervals, by the database's clock) into
    /// <see cref="LiveAgents"/>, and notes when the first of the other agents' heartbeats goes stale.
    /// </summary>
    private async Task ReadLiveAsync(CancellationToken cancellationToken)
    {
        var live = new List<Guid> { AgentId };
        double soonestStale = double.PositiveInfinity;
        await using (var cmd = _dataSource.CreateCommand(FleetSql.LiveAgents))
        {
            cmd.Parameters.AddWithValue("window", _options.HeartbeatInterval * 2);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetGuid(0);
                if (id != AgentId)
                {
                    live.Add(id);
                    soonestStale = Math.Min(soonestStale, reader.GetDouble(1));
                }
            }
        }

        live.Sort();
        var before = _live;
        _live = [.. live];
        if (!before.AsSpan().SequenceEqual(_live))
        {
            string joined = string.Join(", ", live.Except(before));
            string left = string.Join(", ", before.Except(live));
            LogLiveAgentsChanged(_logger, live.Count, joined, left);
        }

        // Read a little after the heartbeat's last live moment, measured from now (after the query, so never early).
        Interlocked.Exchange(ref _nextStale, double.IsPositiveInfinity(soonestStale)
            ? long.MaxValue
            : _time.GetTimestamp() + (long)((Math.Max(0, soonestStale) + StaleReadDelay.TotalSeconds) * _time.TimestampFrequency));
    }

    /// <summary>How long after another agent's heartbeat goes stale this agent reads the fleet again. <value>20 ms.</value></summary>
    internal static readonly TimeSpan StaleReadDelay = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Joins the fleet before the first run: applies the central migrations (idempotent, under their
    /// advisory lock) and beats once, so the first runs already know the other agents. Failures are
    /// logged, not thrown: the agent then runs every check until a heartbeat succeeds.
    /// </summary>
    public async Task JoinAsync(CancellationToken cancellationToken)
    {
        try
        {
            await new Storage.Postgres.CentralDatabase(_dataSource).MigrateAsync(cancellationToken).ConfigureAwait(false);
            await BeatAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or OperationCanceledException or Storage.Postgres.CentralSchemaTooNewException)
        {
            LogBeatFailed(_logger, Secrets.RedactConnectionString(ex.Message));
        }
    }

    /// <summary>
    /// After <see cref="JoinAsync"/>, beats every <see cref="FleetOptions.HeartbeatInterval"/> (counted from the end of
    /// the previous beat) until cancelled, and in between reads the live agents again when another agent's heartbeat
    /// goes stale; then leaves the fleet (heartbeat cleared, lock released).
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        long nextBeat = _time.GetTimestamp() + (long)(_options.HeartbeatInterval.TotalSeconds * _time.TimestampFrequency);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                long stale = Interlocked.Read(ref _nextStale);
                bool beat = stale >= nextBeat;
                long wakeAt = beat ? nextBeat : stale;
                long wait = wakeAt - _time.GetTimestamp();
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(wait / (double)_time.TimestampFrequency), _time, stoppingToken).ConfigureAwait(false);
                }

                if (!beat)
                {
                    // Someone's heartbeat just went stale (or was renewed meanwhile): look again, no heartbeat of ours.
                    Interlocked.Exchange(ref _nextStale, long.MaxValue);
                    await ReadLiveAsync(stoppingToken).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    await BeatAsync(stoppingToken).ConfigureAwait(false);
                }
                finally
                {
                    nextBeat = _time.GetTimestamp() + (long)(_options.HeartbeatInterval.TotalSeconds * _time.TimestampFrequency);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                LogBeatFailed(_logger, Secrets.RedactConnectionString(ex.Message));
            }
        }

        await LeaveAsync().ConfigureAwait(false);
    }

    /// <summary>Leaves the fleet now: clears this agent's heartbeat so the others take its checks at their next beat, and releases the leader lock.</summary>
    public async Task LeaveAsync()
    {
        await DropLeadershipAsync().ConfigureAwait(false);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await using var cmd = _dataSource.CreateCommand(FleetSql.Leave);
            cmd.Parameters.AddWithValue("id", AgentId);
            await cmd.ExecuteNonQueryAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            // The others notice the missing heartbeat within two intervals anyway.
        }
    }

    /// <summary>
    /// Every agent registered in <c>tocsin.agents</c>, live or not, with which one holds the leader lock now.
    /// </summary>
    /// <exception cref="NpgsqlException">When the database cannot be read (e.g. not migrated yet: SQL state 42P01).</exception>
    public static async Task<IReadOnlyList<AgentInfo>> ListAsync(NpgsqlDataSource dataSource, FleetOptions options, CancellationToken cancellationToken)
    {
        string? leader = null;
        await using (var cmd = dataSource.CreateCommand(FleetSql.Leader))
        {
            cmd.Parameters.AddWithValue("key", options.LeaderLockKey);
            leader = await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        }

        var agents = new List<AgentInfo>();
        await using (var cmd = dataSource.CreateCommand(FleetSql.ListAgents))
        {
            cmd.Parameters.AddWithValue("window", options.HeartbeatInterval * 2);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = r.GetGuid(0);
                agents.Add(new AgentInfo(id, r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3), r.GetFieldValue<DateTimeOffset>(4), r.GetBoolean(5), leader == LeaderApplicationName(id)));
            }
        }

        return agents;
    }

    private static string LeaderApplicationName(Guid agentId) => "tocsin leader " + agentId.ToString("D");

    private async Task KeepOrTryLeadershipAsync(CancellationToken ct)
    {
        if (_leaderConnection is not null)
        {
            try
            {
                await using var ping = new NpgsqlCommand("SELECT 1", _leaderConnection);
                await ping.ExecuteScalarAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                LogLeadershipLost(_logger, AgentId);
                await DropLeadershipAsync().ConfigureAwait(false);
            }
        }

        var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        bool locked;
        try
        {
            await using var cmd = new NpgsqlCommand(FleetSql.TryLock, connection);
            cmd.Parameters.AddWithValue("key", _options.LeaderLockKey);
            locked = (bool)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (!locked)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            return;
        }

        // Name the session so `tocsin agents` can tell, from pg_locks and pg_stat_activity, who leads.
        await using (var name = new NpgsqlCommand("SELECT set_config('application_name', @name, false)", connection))
        {
            name.Parameters.AddWithValue("name", LeaderApplicationName(AgentId));
            await name.ExecuteScalarAsync(ct).ConfigureAwait(false);
        }

        _leaderConnection = connection;
        _isLeader = true;
        LogLeader(_logger, AgentId);
    }

    private async Task DropLeadershipAsync()
    {
        _isLeader = false;
        var connection = Interlocked.Exchange(ref _leaderConnection, null);
        if (connection is not null)
        {
            // Closing the session releases its advisory locks; a physical close, not a return to the pool.
            NpgsqlConnection.ClearPool(connection);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await DropLeadershipAsync().ConfigureAwait(false);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} is now the leader")]
    private static partial void LogLeader(ILogger logger, Guid agentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Live agents changed: {Count} live; joined: [{Joined}]; left: [{Left}]")]
    private static partial void LogLiveAgentsChanged(ILogger logger, int count, string joined, string left);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent {AgentId} lost the leader lock's connection")]
    private static partial void LogLeadershipLost(ILogger logger, Guid agentId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat to (or fleet read from) the central database failed: {Reason}")]
    private static partial void LogBeatFailed(ILogger logger, string reason);
}

/// <summary>One agent as <c>tocsin agents</c> shows it.</summary>
/// <param name="Id">The agent's persistent id.</param>
/// <param name="Hostname">Host it runs on.</param>
/// <param name="Version">Tocsin version.</param>
/// <param name="StartedAt">When it (re)joined, database clock, UTC.</param>
/// <param name="LastHeartbeat">Its last heartbeat, database clock, UTC (the Unix epoch after a clean stop).</param>
/// <param name="Live">Whether the last heartbeat is younger than two heartbeat intervals.</param>
/// <param name="Leader">Whether it holds the leader lock now.</param>
public sealed record AgentInfo(Guid Id, string Hostname, string Version, DateTimeOffset StartedAt, DateTimeOffset LastHeartbeat, bool Live, bool Leader);

/// <summary>SQL of the fleet (PostgreSQL).</summary>
internal static class FleetSql
{
    public const string Heartbeat = """
        INSERT INTO tocsin.agents (id, hostname, version, started_at, last_heartbeat)
        VALUES (@id, @hostname, @version, now(), now())
        ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, version = excluded.version,
            last_heartbeat = now(),
            started_at = CASE WHEN tocsin.agents.last_heartbeat < now() - @window THEN now() ELSE tocsin.agents.started_at END;
        """;

    /// <summary>Live agents and, per agent, the seconds until its heartbeat goes stale.</summary>
    public const string LiveAgents = """
        SELECT id, extract(epoch FROM last_heartbeat + @window - now())::float8 AS stale_in_s
        FROM tocsin.agents WHERE last_heartbeat > now() - @window ORDER BY id;
        """;

    public const string Leave = "UPDATE tocsin.agents SET last_heartbeat = 'epoch' WHERE id = @id;";

    public const string TryLock = "SELECT pg_try_advisory_lock(@key);";

    /// <summary>The application name of the session holding the bigint advisory lock @key (classid = high 32 bits, objid = low 32 bits).</summary>
    public const string Leader = """
        SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid::bigint = (@key >> 32) AND l.objid::bigint = (@key & 4294967295)
        LIMIT 1;
        """;

    public const string ListAgents = """
        SELECT id, hostname, version, started_at, last_heartbeat, last_heartbeat > now() - @window AS live
        FROM tocsin.agents ORDER BY hostname, id;
        """;
}
