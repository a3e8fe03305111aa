using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.State;

namespace Tocsin.Storage.Sqlite;

/// <summary>
/// The agent's local SQLite database (WAL mode): the outbox every result is committed to before
/// anything else acts on it, the latest state per check, and the agent's identity.
/// <para>Durability: WAL with <c>synchronous=NORMAL</c>; a committed batch survives the process being
/// killed at any moment (<c>kill -9</c>); after a power loss the last batches before it may be lost.</para>
/// <para>Writes go through one connection owned by the caller of <see cref="WriteBatch"/> (the
/// <see cref="ResultWriter"/>); reads open pooled connections and may run concurrently.</para>
/// </summary>
public sealed partial class SqliteOutbox : IDisposable
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _insertChange;
    private readonly SqliteCommand _upsertIncident;
    private readonly SqliteCommand _upsertHour;
    private readonly SqliteCommand _upsertDay;
    private readonly SqliteCommand _insertEvent;
    private readonly Lock _writeLock = new();

    // Each check's tracked state as committed; read at open, changed only by WriteBatch under _writeLock after its commit.
    private readonly Dictionary<string, TrackedState> _tracked;

    // Checks whose hard state was told to alerting (by a change or a resync event) since this outbox was opened.
    private readonly HashSet<string> _announced = new(StringComparer.Ordinal);
    private UptimeSnapshot? _uptime;

    /// <summary>Opens (creating when missing) the database at <paramref name="path"/> and applies pending migrations.</summary>
    /// <exception cref="SqliteException">When the file cannot be opened or is not a database.</exception>
    /// <exception cref="IOException">When its directory cannot be created.</exception>
    public SqliteOutbox(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        string? dir = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        _connectionString = SqliteFiles.ConnectionString(Path);
        _writer = new SqliteConnection(_connectionString);
        try
        {
            _writer.Open();
            Execute(_writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
            Migrate(_writer);
            AgentId = EnsureAgentId(_writer);
        }
        catch
        {
            _writer.Dispose();
            throw;
        }

        _insert = _writer.CreateCommand();
        _insert.CommandText = SqliteSchema.InsertResult;
        foreach (string p in new[] { "$id", "$check", "$kind", "$state", "$scheduled", "$started", "$finished", "$duration", "$status", "$message", "$details" })
        {
            _insert.Parameters.Add(new SqliteParameter(p, null));
        }

        _upsert = Command(SqliteSchema.UpsertState,
            "$check", "$kind", "$state", "$id", "$started", "$duration", "$message", "$failures", "$successes", "$softChange",
            "$hard", "$hardChange", "$failingSince", "$flapHistory", "$flapCount", "$flapping", "$incident");
        _insertChange = Command(SqliteSchema.InsertStateChange, "$id", "$check", "$from", "$to", "$at", "$message", "$result", "$incident");
        _upsertIncident = Command(SqliteSchema.UpsertIncident,
            "$id", "$check", "$opened", "$closed", "$failingSince", "$worst", "$first", "$last", "$openedResult", "$closedResult", "$failed");
        string[] aggregate = ["$check", "$bucket", "$runs", "$ok", "$warning", "$sum", "$max"];
        _upsertHour = Command(SqliteSchema.UpsertAggregate.Replace("{0}", "check_hours", StringComparison.Ordinal), aggregate);
        _upsertDay = Command(SqliteSchema.UpsertAggregate.Replace("{0}", "check_days", StringComparison.Ordinal), aggregate);
        _insertEvent = Command(SqliteSchema.InsertAlertEvent, "$id", "$check", "$kind", "$type", "$from", "$to", "$at", "$since", "$message", "$incident");
        _tracked = new Dictionary<string, TrackedState>(ReadTrackedStates(_writer), StringComparer.Ordinal);
    }

    /// <summary>Raised on the writer's thread after a batch that wrote alert events commits (wakes the notifier); must return at once.</summary>
    public event Action? AlertEventsWritten;

    private void WriteEvent(AlertEvent e)
    {
        var p = _insertEvent.Parameters;
        p[0].Value = e.Id.ToString("D");
        p[1].Value = e.CheckName;
        p[2].Value = e.Kind;
        p[3].Value = e.TypeName;
        p[4].Value = (int)e.From;
        p[5].Value = (int)e.To;
        p[6].Value = e.At.ToUnixTimeMilliseconds();
        p[7].Value = e.Since is { } since ? since.ToUnixTimeMilliseconds() : DBNull.Value;
        p[8].Value = e.Message;
        p[9].Value = e.IncidentId is { } i ? i.ToString("D") : DBNull.Value;
        _insertEvent.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql, params string[] parameters)
    {
        var cmd = _writer.CreateCommand();
        cmd.CommandText = sql;
        foreach (string p in parameters)
        {
            cmd.Parameters.Add(new SqliteParameter(p, null));
        }

        return cmd;
    }

    /// <summary>Absolute path of the database file.</summary>
    public string Path { get; }

    /// <summary>This agent's persistent id (a UUIDv7 made when the file was created).</summary>
    public Guid AgentId { get; }

    /// <summary>The highest schema version this build knows.</summary>
    public static int SchemaVersion => SqliteSchema.Migrations[^1].Version;

    /// <summary>
    /// Commits <paramref name="results"/> in one transaction: inserts each (an id already stored is ignored, so a
    /// retried batch stores nothing twice), applies each new result to its check's tracked state with the
    /// <see cref="StateMachine"/> (records hard state changes, opens, updates and closes incidents) and adds it to the
    /// hourly and daily aggregates that uptime is read from.
    /// </summary>
    /// <param name="results">The results, in any order (each check's are applied oldest first).</param>
    /// <param name="thresholds">Each check's thresholds by name; null gives every check <see cref="StateThresholds.Default"/>.</param>
    /// <exception cref="SqliteException">When the write fails (disk full, I/O error); nothing of the batch is committed
    /// and the tracked states stay as they were.</exception>
    public void WriteBatch(IReadOnlyList<CheckResult> results, Func<string, StateThresholds>? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(results);
        lock (_writeLock)
        {
            var changed = new Dictionary<string, TrackedState>(StringComparer.Ordinal);
            var incidents = new Dictionary<Guid, Incident>();
            var hours = new Dictionary<(string, long), Aggregate>();
            var days = new Dictionary<(string, long), Aggregate>();
            using var tx = _writer.BeginTransaction();
            int events = 0;
            var announced = new HashSet<string>(StringComparer.Ordinal);
            foreach (var cmd in new[] { _insert, _upsert, _insertChange, _upsertIncident, _upsertHour, _upsertDay, _insertEvent })
            {
                cmd.Transaction = tx;
            }

            var ordered = results.Count > 1
                ? results.OrderBy(r => r.StartedAt).ThenBy(r => r.Id.ToString("D"), StringComparer.Ordinal)
                : (IEnumerable<CheckResult>)results;
            foreach (var r in ordered)
            {
                string id = r.Id.ToString("D");
                var ip = _insert.Parameters;
                ip[0].Value = id;
                ip[1].Value = r.CheckName;
                ip[2].Value = r.Kind;
                ip[3].Value = (int)r.State;
                ip[4].Value = r.ScheduledAt.ToUnixTimeMilliseconds();
                ip[5].Value = r.StartedAt.ToUnixTimeMilliseconds();
                ip[6].Value = r.FinishedAt.ToUnixTimeMilliseconds();
                ip[7].Value = r.DurationMs;
                ip[8].Value = r.StatusCode is { } sc ? sc : DBNull.Value;
                ip[9].Value = r.Message;
                ip[10].Value = r.Details is null ? DBNull.Value : r.Details.ToJsonString();
                if (_insert.ExecuteNonQuery() == 0)
                {
                    continue; // Stored already (a retried batch): counted and applied then.
                }

                long started = r.StartedAt.ToUnixTimeMilliseconds();
                Add(hours, (r.CheckName, started - (started % HourMs)), r);
                Add(days, (r.CheckName, started - (started % DayMs)), r);

                var current = changed.TryGetValue(r.CheckName, out var c) ? c : _tracked.GetValueOrDefault(r.CheckName);
                var step = StateMachine.Apply(current, r, thresholds?.Invoke(r.CheckName) ?? StateThresholds.Default);
                if (!step.Applied)
                {
                    continue;
                }

                changed[r.CheckName] = step.Next;
                if (step.Incident is { } incident)
                {
                    incidents[incident.Id] = incident;
                }

                // Flapping first: a result that makes the check flap and changes its hard state is decided as flapping (Nagios
                // detects flapping before it notifies).
                if (step.Next.Flapping != (current?.Flapping ?? false))
                {
                    var type = step.Next.Flapping ? AlertEventType.FlappingStart : AlertEventType.FlappingStop;
                    WriteEvent(new AlertEvent(
                        Guid.CreateVersion7(r.StartedAt), r.CheckName, r.Kind, type, step.Next.HardState, step.Next.HardState, r.StartedAt, step.Next.FailingSince,
                        $"{(step.Next.Flapping ? "started" : "stopped")} flapping ({step.Next.PercentStateChange:0.#}% state change over the last {step.Next.FlapCount} results)",
                        step.Next.OpenIncident?.Id));
                    events++;
                }

                if (step.Change is { } change)
                {
                    WriteChange(change);
                    WriteEvent(new AlertEvent(
                        change.Id, r.CheckName, r.Kind, AlertEventType.State, change.From, change.To, change.At, step.Next.FailingSince ?? step.Next.OpenIncident?.FailingSince,
                        change.Message, change.IncidentId));
                    events++;
                }
                else if (!_announced.Contains(r.CheckName) && !announced.Contains(r.CheckName) && (r.State == CheckState.OK || step.Next.HardState != CheckState.OK))
                {
                    // The first result of this check since the agent started, without a change: says the hard state it knows, so a
                    // leader whose record is stale (the check ran on another agent, which stopped) learns it. Not for a non-OK result
                    // below the threshold: this agent does not know yet.
                    WriteEvent(new AlertEvent(
                        Guid.CreateVersion7(r.StartedAt), r.CheckName, r.Kind, AlertEventType.State, step.Next.HardState, step.Next.HardState, r.StartedAt,
                        step.Next.FailingSince, r.Message, step.Next.OpenIncident?.Id));
                    events++;
                }

                if (step.Change is not null || r.State == CheckState.OK || step.Next.HardState != CheckState.OK)
                {
                    announced.Add(r.CheckName);
                }
            }

            foreach (var incident in incidents.Values)
            {
                WriteIncident(incident);
            }

            foreach (var state in changed.Values)
            {
                WriteState(state);
            }

            WriteAggregates(_upsertHour, hours);
            WriteAggregates(_upsertDay, days);
            tx.Commit();
            foreach (var (name, state) in changed)
            {
                _tracked[name] = state;
            }

            _announced.UnionWith(announced);
            if (events > 0)
            {
                AlertEventsWritten?.Invoke();
            }
        }
    }

    private const long HourMs = 3_600_000;
    private const long DayMs = 86_400_000;

    private static void Add(Dictionary<(string, long), Aggregate> buckets, (string, long) key, CheckResult r)
    {
        var a = buckets.GetValueOrDefault(key);
        buckets[key] = new Aggregate(
            a.Runs + 1, a.Ok + (r.State == CheckState.OK ? 1 : 0), a.Warning + (r.State == CheckState.WARNING ? 1 : 0),
            a.SumMs + r.DurationMs, Math.Max(a.MaxMs, r.DurationMs));
    }

    private static void WriteAggregates(SqliteCommand cmd, Dictionary<(string, long), Aggregate> buckets)
    {
        foreach (var ((check, bucket), a) in buckets)
        {
            var p = cmd.Parameters;
            p[0].Value = check;
            p[1].Value = bucket;
            p[2].Value = a.Runs;
            p[3].Value = a.Ok;
            p[4].Value = a.Warning;
            p[5].Value = a.SumMs;
            p[6].Value = a.MaxMs;
            cmd.ExecuteNonQuery();
        }
    }

    private void WriteState(TrackedState t)
    {
        var p = _upsert.Parameters;
        p[0].Value = t.CheckName;
        p[1].Value = t.Kind;
        p[2].Value = (int)t.SoftState;
        p[3].Value = t.LastResultId.ToString("D");
        p[4].Value = t.LastStartedAt.ToUnixTimeMilliseconds();
        p[5].Value = t.DurationMs;
        p[6].Value = t.Message;
        p[7].Value = t.ConsecutiveFailures;
        p[8].Value = t.ConsecutiveSuccesses;
        p[9].Value = t.SoftChangeAt.ToUnixTimeMilliseconds();
        p[10].Value = (int)t.HardState;
        p[11].Value = t.HardChangeAt.ToUnixTimeMilliseconds();
        p[12].Value = t.FailingSince is { } f ? f.ToUnixTimeMilliseconds() : DBNull.Value;
        p[13].Value = t.FlapHistory;
        p[14].Value = t.FlapCount;
        p[15].Value = t.Flapping ? 1 : 0;
        p[16].Value = t.OpenIncident is { } i ? i.Id.ToString("D") : DBNull.Value;
        _upsert.ExecuteNonQuery();
    }

    private void WriteChange(HardStateChange c)
    {
        var p = _insertChange.Parameters;
        p[0].Value = c.Id.ToString("D");
        p[1].Value = c.CheckName;
        p[2].Value = (int)c.From;
        p[3].Value = (int)c.To;
        p[4].Value = c.At.ToUnixTimeMilliseconds();
        p[5].Value = c.Message;
        p[6].Value = c.ResultId.ToString("D");
        p[7].Value = c.IncidentId is { } i ? i.ToString("D") : DBNull.Value;
        _insertChange.ExecuteNonQuery();
    }

    private void WriteIncident(Incident i)
    {
        var p = _upsertIncident.Parameters;
        p[0].Value = i.Id.ToString("D");
        p[1].Value = i.CheckName;
        p[2].Value = i.OpenedAt.ToUnixTimeMilliseconds();
        p[3].Value = i.ClosedAt is { } c ? c.ToUnixTimeMilliseconds() : DBNull.Value;
        p[4].Value = i.FailingSince.ToUnixTimeMilliseconds();
        p[5].Value = (int)i.WorstState;
        p[6].Value = i.FirstMessage;
        p[7].Value = i.LastMessage;
        p[8].Value = i.OpenedResultId.ToString("D");
        p[9].Value = i.ClosedResultId is { } cr ? cr.ToString("D") : DBNull.Value;
        p[10].Value = i.FailedRuns;
        _upsertIncident.ExecuteNonQuery();
    }

    /// <summary>The latest state of every check that has a result, by check name, with its tracked (soft/hard) state.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyDictionary<string, CheckStatus> ReadStates()
    {
        using var c = OpenRead();
        return ReadTrackedStates(c).ToDictionary(
            p => p.Key,
            p => new CheckStatus(p.Key, p.Value.Kind, p.Value.SoftState, p.Value.LastStartedAt, p.Value.DurationMs, p.Value.Message,
                p.Value.ConsecutiveFailures, p.Value.SoftChangeAt) { Tracked = p.Value },
            StringComparer.Ordinal);
    }

    /// <summary>Every check's tracked state as last committed, by check name (read from the database, so from any process).</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyDictionary<string, TrackedState> ReadTrackedStates()
    {
        using var c = OpenRead();
        return ReadTrackedStates(c);
    }

    private static Dictionary<string, TrackedState> ReadTrackedStates(SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectStates;
        using var r = cmd.ExecuteReader();
        var states = new Dictionary<string, TrackedState>(StringComparer.Ordinal);
        while (r.Read())
        {
            string name = r.GetString(0);
            states[name] = new TrackedState(
                name, r.GetString(1), (CheckState)r.GetInt32(2), (CheckState)r.GetInt32(3), Guid.Parse(r.GetString(4)),
                Ms(r.GetInt64(5)), r.GetDouble(6), r.GetString(7), r.GetInt32(8), r.GetInt32(9), Ms(r.GetInt64(10)), Ms(r.GetInt64(11)),
                r.IsDBNull(12) ? null : Ms(r.GetInt64(12)), r.GetInt64(13), r.GetInt32(14), r.GetInt64(15) != 0,
                r.IsDBNull(16) ? null : ReadIncident(r, 16));
        }

        return states;
    }

    private static Incident ReadIncident(SqliteDataReader r, int o) => new(
        Guid.Parse(r.GetString(o)), r.GetString(o + 1), Ms(r.GetInt64(o + 2)), r.IsDBNull(o + 3) ? null : Ms(r.GetInt64(o + 3)),
        Ms(r.GetInt64(o + 4)), (CheckState)r.GetInt32(o + 5), r.GetString(o + 6), r.GetString(o + 7), Guid.Parse(r.GetString(o + 8)),
        r.IsDBNull(o + 9) ? null : Guid.Parse(r.GetString(o + 9)), r.GetInt32(o + 10));

    private static DateTimeOffset Ms(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <summary>
    /// Hard state changes, newest first: of one check when <paramref name="checkName"/> is set, at or after
    /// <paramref name="since"/> when set, and older than the change <paramref name="before"/> (a page cursor) when set.
    /// </summary>
    /// <param name="checkName">Only this check's changes, or null for every check.</param>
    /// <param name="since">Only changes at or after this time (UTC), or null.</param>
    /// <param name="before">Only changes whose id sorts below this one (the last id of the previous page), or null.</param>
    /// <param name="limit">Most changes returned (≥ 1).</param>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<HardStateChange> ReadStateChanges(string? checkName, DateTimeOffset? since, Guid? before, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT id, check_name, from_state, to_state, at, message, result_id, incident_id FROM state_changes
            WHERE ($check IS NULL OR check_name = $check) AND id >= $since AND ($before IS NULL OR id < $before)
            ORDER BY id DESC LIMIT $limit;
            """;
        cmd.Parameters.AddWithValue("$check", (object?)checkName ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$since", since is { } s ? IdLowerBound(s) : "");
        cmd.Parameters.AddWithValue("$before", before is { } b ? b.ToString("D") : DBNull.Value);
        cmd.Parameters.AddWithValue("$limit", limit);
        using var r = cmd.ExecuteReader();
        var list = new List<HardStateChange>();
        while (r.Read())
        {
            list.Add(new HardStateChange(
                Guid.Parse(r.GetString(0)), r.GetString(1), (CheckState)r.GetInt32(2), (CheckState)r.GetInt32(3), Ms(r.GetInt64(4)),
                r.GetString(5), Guid.Parse(r.GetString(6)), r.IsDBNull(7) ? null : Guid.Parse(r.GetString(7))));
        }

        return list;
    }

    /// <summary>
    /// Incidents, newest opened first: of one check when <paramref name="checkName"/> is set, only open (true) or only
    /// closed (false) ones when <paramref name="open"/> is set, older than the incident <paramref name="before"/> when set.
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<Incident> ReadIncidents(string? checkName, bool? open, Guid? before, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            SELECT {SqliteSchema.IncidentColumns} FROM incidents
            WHERE ($check IS NULL OR check_name = $check) AND ($open IS NULL OR (closed_at IS NULL) = $open)
              AND ($before IS NULL OR id < $before)
            ORDER BY id DESC LIMIT $limit;
            """;
        cmd.Parameters.AddWithValue("$check", (object?)checkName ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$open", open is { } o ? (o ? 1 : 0) : DBNull.Value);
        cmd.Parameters.AddWithValue("$before", before is { } b ? b.ToString("D") : DBNull.Value);
        cmd.Parameters.AddWithValue("$limit", limit);
        using var r = cmd.ExecuteReader();
        var list = new List<Incident>();
        while (r.Read())
        {
            list.Add(ReadIncident(r, 0));
        }

        return list;
    }

    /// <summary>
    /// Uptime of every check with results in the last 30 days: the share of runs that were up (OK or WARNING) over the
    /// current hour and the 23 before it (<c>24h</c>, from hourly aggregates), and over the current UTC day and the 6
    /// (<c>7d</c>) or 29 (<c>30d</c>) before it (from daily aggregates). Computed for all checks at once and reused for
    /// <see cref="UptimeCacheTime"/> (10 s); for up to 6 times that, the previous figures are answered while new ones
    /// are computed in the background. So a list of 10,000 checks costs one aggregate read every 10 s, off the request.
    /// </summary>
    /// <param name="now">The current time (UTC), from the caller's <see cref="TimeProvider"/>.</param>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyDictionary<string, Uptime> ReadUptime(DateTimeOffset now)
    {
        var cached = Volatile.Read(ref _uptime);
        if (cached is not null && now >= cached.At && UptimeCacheTime > TimeSpan.Zero)
        {
            if (now - cached.At < UptimeCacheTime)
            {
                return cached.Values;
            }

            if (now - cached.At < UptimeCacheTime * 6)
            {
                // Stale but recent: answer it and refresh in the background, one refresh at a time, so no request waits
                // for the aggregate read (a few hundred ms with 10,000 checks).
                if (Interlocked.CompareExchange(ref _uptimeRefreshing, 1, 0) == 0)
                {
                    _ = Task.Run(() =>
                    {
                        try
                        {
                            ComputeUptime(now);
                        }
                        catch (SqliteException)
                        {
                            // The next request tries again.
                        }
                        finally
                        {
                            Volatile.Write(ref _uptimeRefreshing, 0);
                        }
                    });
                }

                return cached.Values;
            }
        }

        return ComputeUptime(now);
    }

    private int _uptimeRefreshing;

    private Dictionary<string, Uptime> ComputeUptime(DateTimeOffset now)
    {
        long ms = now.ToUnixTimeMilliseconds();
        long hour = ms - (ms % HourMs), day = ms - (ms % DayMs);
        using var c = OpenRead();
        using var tx = c.BeginTransaction(deferred: true);
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = SqliteSchema.SelectUptimeHours;
        cmd.Parameters.AddWithValue("$hour24", hour - (23 * HourMs));
        var hours = new Dictionary<string, (long Runs, long Up, double SumMs)>(StringComparer.Ordinal);
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                hours[r.GetString(0)] = (r.GetInt64(1), r.GetInt64(2), r.GetDouble(3));
            }
        }

        cmd.CommandText = SqliteSchema.SelectUptimeDays;
        cmd.Parameters.Clear();
        cmd.Parameters.AddWithValue("$day7", day - (6 * DayMs));
        cmd.Parameters.AddWithValue("$day30", day - (29 * DayMs));
        var values = new Dictionary<string, Uptime>(StringComparer.Ordinal);
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var (h, up, sum) = hours.GetValueOrDefault(r.GetString(0));
                long d7 = r.GetInt64(1), d30 = r.GetInt64(3);
                values[r.GetString(0)] = new Uptime(
                    Percent(up, h), Percent(r.GetInt64(2), d7), Percent(r.GetInt64(4), d30), h, h == 0 ? null : Math.Round(sum / h, 3));
            }
        }

        Volatile.Write(ref _uptime, new UptimeSnapshot(now, values));
        return values;
    }

    /// <summary>How long <see cref="ReadUptime"/> reuses its figures. <value>Default: 10 s.</value></summary>
    public TimeSpan UptimeCacheTime { get; init; } = TimeSpan.FromSeconds(10);

    private static double? Percent(long up, long runs) => runs == 0 ? null : Math.Round(100.0 * up / runs, 3);

    /// <summary>
    /// Deletes daily aggregates whose day starts before <paramref name="cutoff"/>, hourly aggregates whose hour starts
    /// before <paramref name="hourlyCutoff"/> (default: the same), state changes made before <paramref name="cutoff"/> and
    /// incidents closed before it, in one transaction; open incidents and check states are kept. Returns how many rows
    /// were deleted. The collector calls it with cutoffs 35 days (8 days for hours) back.
    /// </summary>
    /// <exception cref="SqliteException">When the delete fails.</exception>
    public int DeleteHistoryBefore(DateTimeOffset cutoff, DateTimeOffset? hourlyCutoff = null)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using var cmd = _writer.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = SqliteSchema.DeleteOldAggregates;
            cmd.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$cutoffId", IdLowerBound(cutoff));
            cmd.Parameters.AddWithValue("$hourCutoff", (hourlyCutoff ?? cutoff).ToUnixTimeMilliseconds());
            int n = cmd.ExecuteNonQuery();
            tx.Commit();
            return n;
        }
    }

    /// <summary>The newest <paramref name="limit"/> results of one check, newest first.</summary>
    public IReadOnlyList<CheckResult> ReadResults(string checkName, int limit)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectResults;
        cmd.Parameters.AddWithValue("$check", checkName);
        cmd.Parameters.AddWithValue("$limit", limit);
        return ReadResultRows(cmd);
    }

    private static List<CheckResult> ReadResultRows(SqliteCommand cmd)
    {
        using var reader = cmd.ExecuteReader();
        var list = new List<CheckResult>();
        while (reader.Read())
        {
            list.Add(new CheckResult(
                Guid.Parse(reader.GetString(0)),
                reader.GetString(1),
                reader.GetString(2),
                (CheckState)reader.GetInt32(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                reader.GetDouble(7),
                reader.IsDBNull(8) ? null : reader.GetInt32(8),
                reader.GetString(9),
                reader.IsDBNull(10) ? null : JsonNode.Parse(reader.GetString(10)) as JsonObject));
        }

        return list;
    }

    /// <summary>
    /// One page of a check's results, newest first (by start, then id): started in [<paramref name="from"/>,
    /// <paramref name="to"/>) and, when <paramref name="before"/> is set, before that position (the last result of
    /// the previous page).
    /// </summary>
    /// <param name="checkName">The check.</param>
    /// <param name="from">Earliest start (UTC, inclusive), or null for no bound.</param>
    /// <param name="to">Latest start (UTC, exclusive), or null for no bound.</param>
    /// <param name="before">Start and id of the last result of the previous page, or null for the first page.</param>
    /// <param name="limit">Most results returned (≥ 1).</param>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<CheckResult> ReadResults(string checkName, DateTimeOffset? from, DateTimeOffset? to, ResultPosition? before, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectResultsPage;
        cmd.Parameters.AddWithValue("$check", checkName);
        cmd.Parameters.AddWithValue("$from", from?.ToUnixTimeMilliseconds() ?? long.MinValue);
        cmd.Parameters.AddWithValue("$to", to?.ToUnixTimeMilliseconds() ?? long.MaxValue);
        cmd.Parameters.AddWithValue("$beforeStarted", before?.StartedAt.ToUnixTimeMilliseconds() ?? long.MaxValue);
        cmd.Parameters.AddWithValue("$beforeId", before?.Id.ToString("D") ?? "~");
        cmd.Parameters.AddWithValue("$limit", limit);
        return ReadResultRows(cmd);
    }

    /// <summary>The result with id <paramref name="id"/> of check <paramref name="checkName"/>, or null when the outbox does not hold it.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public CheckResult? ReadResult(string checkName, Guid id)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectResult;
        cmd.Parameters.AddWithValue("$check", checkName);
        cmd.Parameters.AddWithValue("$id", id.ToString("D"));
        return ReadResultRows(cmd).FirstOrDefault();
    }

    /// <summary>How many results the outbox holds.</summary>
    public long CountResults()
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.CountResults;
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Deletes up to <paramref name="limit"/> results that started before <paramref name="cutoff"/>,
    /// oldest first, in one short transaction; with <paramref name="exportedOnly"/>, only rows already
    /// exported. The per-check state is kept. Returns how many rows were deleted.
    /// </summary>
    /// <exception cref="SqliteException">When the delete fails.</exception>
    public int DeleteResultsBefore(DateTimeOffset cutoff, bool exportedOnly, int limit)
    {
        lock (_writeLock)
        {
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = SqliteSchema.DeleteOldResults;
            cmd.Parameters.AddWithValue("$cutoff", IdLowerBound(cutoff));
            cmd.Parameters.AddWithValue("$exportedOnly", exportedOnly ? 1 : 0);
            cmd.Parameters.AddWithValue("$limit", limit);
            return cmd.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// The space the outbox's data takes: pages in use (all tables and indexes, free pages left by deletes
    /// excluded) times the page size, in bytes; and the file's size on disk (it keeps its largest size, since
    /// free pages are reused rather than returned). Cheap: reads three counters, not the rows.
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public OutboxSize ReadSize()
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectPageCounts;
        using var r = cmd.ExecuteReader();
        r.Read();
        long pageCount = r.GetInt64(0), freePages = r.GetInt64(1), pageSize = r.GetInt64(2);
        return new OutboxSize((pageCount - freePages) * pageSize, pageCount * pageSize);
    }

    /// <summary>
    /// Deletes up to <paramref name="limit"/> of the oldest results that are not exported yet, in one short
    /// transaction, and says how many and which start times they covered. This loses results for good: only the
    /// collector calls it, when the outbox is over its size limit. The per-check state is kept.
    /// </summary>
    /// <exception cref="SqliteException">When the delete fails; nothing is deleted.</exception>
    public DroppedResults DropOldestUnexported(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using var cmd = _writer.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = SqliteSchema.SelectOldestUnexportedRange;
            cmd.Parameters.AddWithValue("$limit", limit);
            long? first = null, last = null;
            using (var r = cmd.ExecuteReader())
            {
                if (r.Read() && !r.IsDBNull(0))
                {
                    first = r.GetInt64(0);
                    last = r.GetInt64(1);
                }
            }

            cmd.CommandText = SqliteSchema.DeleteOldestUnexported;
            int n = cmd.ExecuteNonQuery();
            tx.Commit();
            return new DroppedResults(
                n,
                first is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null,
                last is { } l ? DateTimeOffset.FromUnixTimeMilliseconds(l) : null);
        }
    }

    /// <summary>
    /// Up to <paramref name="limit"/> results not yet exported, oldest first (by UUIDv7 id), as stored.
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<OutboxRow> ReadUnexported(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectUnexported;
        cmd.Parameters.AddWithValue("$limit", limit);
        using var reader = cmd.ExecuteReader();
        var rows = new List<OutboxRow>(Math.Min(limit, 4096));
        while (reader.Read())
        {
            rows.Add(new OutboxRow(
                Guid.Parse(reader.GetString(0)),
                reader.GetString(1),
                reader.GetString(2),
                (short)reader.GetInt32(3),
                reader.GetInt64(4),
                reader.GetInt64(5),
                reader.GetInt64(6),
                reader.GetDouble(7),
                reader.IsDBNull(8) ? null : reader.GetInt32(8),
                reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetString(10)));
        }

        return rows;
    }

    /// <summary>
    /// Reads one export batch, handing each row to <paramref name="visit"/> as UTF-8 views into SQLite's buffers
    /// (no object per row) and its id to <paramref name="ids"/> (cleared first): up to <paramref name="oldest"/>
    /// unexported results oldest first (by UUIDv7 id) and, when those fill their share (so a backlog waits), up to
    /// <paramref name="newest"/> of the newest unexported results above them, newest first, so that new results
    /// reach the centre while an old backlog drains. The two slices never overlap. With <paramref name="inFlight"/>
    /// (a batch read earlier and still being sent, not marked yet) the read continues after that batch's oldest
    /// slice and skips the id range of its newest slice; rows skipped that way (results written late with an
    /// older id) are read by a later read without <paramref name="inFlight"/>. Both slices come from one snapshot.
    /// </summary>
    /// <param name="oldest">Most rows from the oldest end; at least 1.</param>
    /// <param name="newest">Most rows from the newest end; 0 for none.</param>
    /// <param name="inFlight">The batch still being sent, or null to read from the start.</param>
    /// <param name="ids">Receives the ids of the rows read, in the order visited.</param>
    /// <param name="visit">Called once per row, oldest slice first.</param>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public ExportRead ReadForExport(int oldest, int newest, ExportRead? inFlight, OutboxIdList ids, OutboxRowVisitor visit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(oldest);
        ArgumentOutOfRangeException.ThrowIfNegative(newest);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(visit);
        string after = inFlight?.OldestHigh ?? "";
        string skipLo = inFlight?.NewestLow ?? "", skipHi = inFlight?.NewestHigh ?? "";
        ids.Clear();
        using var c = OpenRead();
        using var tx = c.BeginTransaction(deferred: true);
        int old = ReadSlice(c, SqliteSchema.SelectUnexportedAfter, after, skipLo, skipHi, oldest, ids, visit);
        string? oldHigh = old > 0 ? ids.TextAt(old - 1) : null;
        int fresh = 0;
        if (newest > 0 && old == oldest)
        {
            fresh = ReadSlice(c, SqliteSchema.SelectNewestUnexported, oldHigh!, skipLo, skipHi, newest, ids, visit);
        }

        return new ExportRead(old, fresh, oldHigh, fresh > 0 ? ids.TextAt(old + fresh - 1) : null, fresh > 0 ? ids.TextAt(old) : null);
    }

    /// <summary>Steps one export query with SQLite's own API, so column text is read in place as UTF-8 (no strings).</summary>
    private static int ReadSlice(
        SqliteConnection c, string sql, string bound, string skipLo, string skipHi, int limit, OutboxIdList ids, OutboxRowVisitor visit)
    {
        var db = c.Handle!;
        Check(raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt stmt), db);
        using (stmt)
        {
            Check(raw.sqlite3_bind_text(stmt, 1, bound), db);
            Check(raw.sqlite3_bind_text(stmt, 2, skipLo), db);
            Check(raw.sqlite3_bind_text(stmt, 3, skipHi), db);
            Check(raw.sqlite3_bind_int(stmt, 4, limit), db);
            int n = 0;
            int rc;
            while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
            {
                var id = raw.sqlite3_column_blob(stmt, 0);
                if (!Utf8Parser.TryParse(id, out Guid guid, out int used, 'D') || used != id.Length)
                {
                    throw new InvalidOperationException($"outbox row with a malformed id \"{Encoding.UTF8.GetString(id)}\"");
                }

                ids.Add(id);
                bool hasDetails = raw.sqlite3_column_type(stmt, 10) != raw.SQLITE_NULL;
                visit(new OutboxRowView
                {
                    Id = guid,
                    CheckName = raw.sqlite3_column_blob(stmt, 1),
                    Kind = raw.sqlite3_column_blob(stmt, 2),
                    State = (short)raw.sqlite3_column_int(stmt, 3),
                    ScheduledAtMs = raw.sqlite3_column_int64(stmt, 4),
                    StartedAtMs = raw.sqlite3_column_int64(stmt, 5),
                    FinishedAtMs = raw.sqlite3_column_int64(stmt, 6),
                    DurationMs = raw.sqlite3_column_double(stmt, 7),
                    StatusCode = raw.sqlite3_column_type(stmt, 8) == raw.SQLITE_NULL ? null : raw.sqlite3_column_int(stmt, 8),
                    Message = raw.sqlite3_column_blob(stmt, 9),
                    Details = hasDetails ? raw.sqlite3_column_blob(stmt, 10) : default,
                    HasDetails = hasDetails,
                });
                n++;
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, db);
            }

            return n;
        }
    }

    private static void Check(int rc, sqlite3 db)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    /// <summary>
    /// Marks the results with these ids exported, in transactions of up to 5,000 ids (a failure may leave the
    /// first chunks marked, which is right: the rows are committed centrally). Call only after the central commit:
    /// a crash before this re-sends the rows, which the central insert then ignores.
    /// Returns how many rows changed (ids unknown or already exported are skipped).
    /// </summary>
    /// <exception cref="SqliteException">When the write fails; the ids of the failed chunk and after are not marked.</exception>
    public int MarkExported(IReadOnlyCollection<Guid> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = new OutboxIdList();
        foreach (var id in ids)
        {
            list.Add(id);
        }

        return MarkExported(list);
    }

    /// <summary>
    /// Marks the results with the ids in <paramref name="ids"/> exported, as <see cref="MarkExported(IReadOnlyCollection{Guid})"/>
    /// does (in transactions of up to 5,000), binding each id's text as it is (no string per id).
    /// Returns how many rows changed.
    /// </summary>
    /// <exception cref="SqliteException">When the write fails; the ids of the failed chunk and after are not marked.</exception>
    public int MarkExported(OutboxIdList ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int changed = 0;
        for (int start = 0; start < ids.Count; start += MarkChunk)
        {
            lock (_writeLock)
            {
                using var tx = _writer.BeginTransaction();
                var db = _writer.Handle!;
                Check(raw.sqlite3_prepare_v2(db, SqliteSchema.MarkExported, out sqlite3_stmt stmt), db);
                using (stmt)
                {
                    for (int i = start; i < Math.Min(ids.Count, start + MarkChunk); i++)
                    {
                        Check(raw.sqlite3_bind_text(stmt, 1, ids[i]), db);
                        int rc = raw.sqlite3_step(stmt);
                        if (rc != raw.SQLITE_DONE)
                        {
                            SqliteException.ThrowExceptionForRC(rc, db);
                        }

                        changed += raw.sqlite3_changes(db);
                        Check(raw.sqlite3_reset(stmt), db);
                    }
                }

                tx.Commit();
            }
        }

        return changed;
    }

    /// <summary>Ids <see cref="MarkExported(IReadOnlyCollection{Guid})"/> marks per transaction.</summary>
    internal const int MarkChunk = 5_000;

    /// <summary>How many results wait for export, and when the oldest of them started (UTC; null when none wait).</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public ExportBacklog ReadExportBacklog()
    {
        using var c = OpenRead();
        using var tx = c.BeginTransaction(deferred: true);
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = SqliteSchema.CountUnexported;
        long count = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        cmd.CommandText = SqliteSchema.SelectOldestUnexported;
        object? oldest = cmd.ExecuteScalar();
        return new ExportBacklog(count, oldest is null or DBNull ? null : DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(oldest, CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// Stores small facts about this agent (e.g. the exporter's last success and error, for
    /// <c>tocsin export status</c> run from another process), in one transaction; a null value removes the key.
    /// </summary>
    /// <exception cref="SqliteException">When the write fails.</exception>
    public void WriteAgentValues(IReadOnlyDictionary<string, string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using var cmd = _writer.CreateCommand();
            cmd.Transaction = tx;
            foreach (var (key, value) in values)
            {
                cmd.Parameters.Clear();
                cmd.CommandText = value is null ? SqliteSchema.DeleteAgentValue : SqliteSchema.UpsertAgentValue;
                cmd.Parameters.AddWithValue("$key", key);
                if (value is not null)
                {
                    cmd.Parameters.AddWithValue("$value", value);
                }

                cmd.ExecuteNonQuery();
            }

            tx.Commit();
        }
    }

    /// <summary>Every stored fact about this agent, by key (includes <c>agent_id</c>).</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyDictionary<string, string> ReadAgentValues()
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectAgentValues;
        using var reader = cmd.ExecuteReader();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            values[reader.GetString(0)] = reader.GetString(1);
        }

        return values;
    }

    /// <summary>
    /// The smallest UUIDv7 text for a time: ids of results started before <paramref name="at"/> sort below
    /// it (the first 48 bits of a UUIDv7 are the Unix time in ms).
    /// </summary>
    internal static string IdLowerBound(DateTimeOffset at)
    {
        string hex = Math.Max(0, at.ToUnixTimeMilliseconds()).ToString("x12", CultureInfo.InvariantCulture);
        return $"{hex[..8]}-{hex[8..12]}-0000-0000-000000000000";
    }

    private SqliteConnection OpenRead()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    private static void Migrate(SqliteConnection c)
    {
        Execute(c, SqliteSchema.CreateMigrationsTable);
        using var q = c.CreateCommand();
        q.CommandText = "SELECT coalesce(max(version), 0) FROM schema_migrations;";
        long current = Convert.ToInt64(q.ExecuteScalar(), CultureInfo.InvariantCulture);
        if (current > SchemaVersion)
        {
            throw new InvalidOperationException(
                $"The local database {c.DataSource} has schema version {current}, newer than this Tocsin's {SchemaVersion}; upgrade Tocsin or use another file.");
        }

        foreach (var (version, description, sql) in SqliteSchema.Migrations.Where(m => m.Version > current))
        {
            using var tx = c.BeginTransaction();
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
            cmd.CommandText = "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($v, $d, $at);";
            cmd.Parameters.AddWithValue("$v", version);
            cmd.Parameters.AddWithValue("$d", description);
            cmd.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            cmd.ExecuteNonQuery();
            tx.Commit();
        }
    }

    private static Guid EnsureAgentId(SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.InsertAgentId;
        cmd.Parameters.AddWithValue("$id", Guid.CreateVersion7().ToString("D"));
        cmd.ExecuteNonQuery();
        cmd.CommandText = SqliteSchema.SelectAgentId;
        return Guid.Parse((string)cmd.ExecuteScalar()!);
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_writeLock)
        {
            _insert.Dispose();
            _upsert.Dispose();
            _insertChange.Dispose();
            _upsertIncident.Dispose();
            _upsertHour.Dispose();
            _upsertDay.Dispose();
            _insertEvent.Dispose();
            _writer.Dispose();
        }
    }
}

/// <summary>One result as stored in the outbox, for export: times in Unix epoch ms (UTC), details as JSON text.</summary>
/// <param name="Id">The result's UUIDv7 id.</param>
/// <param name="CheckName">Check name.</param>
/// <param name="Kind">Check kind.</param>
/// <param name="State">State as its Nagios code (0 OK … 3 UNKNOWN).</param>
/// <param name="ScheduledAtMs">Scheduled start, Unix ms.</param>
/// <param name="StartedAtMs">Start, Unix ms (the time the id was made from).</param>
/// <param name="FinishedAtMs">End, Unix ms.</param>
/// <param name="DurationMs">Duration in ms.</param>
/// <param name="StatusCode">HTTP status code, or null.</param>
/// <param name="Message">The result's message.</param>
/// <param name="DetailsJson">Details as a JSON object's text, or null.</param>
public sealed record OutboxRow(
    Guid Id, string CheckName, string Kind, short State, long ScheduledAtMs, long StartedAtMs, long FinishedAtMs,
    double DurationMs, int? StatusCode, string Message, string? DetailsJson);

/// <summary>The outbox's size.</summary>
/// <param name="UsedBytes">Bytes in pages holding data (tables and indexes); what <c>maxOutboxSize</c> limits.</param>
/// <param name="FileBytes">Bytes of the database file (without its WAL); never shrinks, free pages are reused.</param>
public sealed record OutboxSize(long UsedBytes, long FileBytes);

/// <summary>Unexported results deleted because the outbox was over its size limit.</summary>
/// <param name="Count">How many results were deleted.</param>
/// <param name="FirstStartedAt">Start of the oldest of them (UTC), or null when none.</param>
/// <param name="LastStartedAt">Start of the newest of them (UTC), or null when none.</param>
public sealed record DroppedResults(int Count, DateTimeOffset? FirstStartedAt, DateTimeOffset? LastStartedAt);

/// <summary>The outbox rows waiting for export.</summary>
/// <param name="Pending">How many results are not exported yet.</param>
/// <param name="OldestStartedAt">When the oldest of them started (UTC), or null when none wait.</param>
public sealed record ExportBacklog(long Pending, DateTimeOffset? OldestStartedAt);

/// <summary>The latest known state of one check, from the outbox.</summary>
/// <param name="Name">Check name.</param>
/// <param name="Kind">Check kind.</param>
/// <param name="State">State of the latest result.</param>
/// <param name="LastRun">When the latest run started (UTC).</param>
/// <param name="DurationMs">Duration of the latest run in ms.</param>
/// <param name="Message">Message of the latest result.</param>
/// <param name="ConsecutiveFailures">Non-OK results in a row, up to the latest (0 when it is OK).</param>
/// <param name="LastChange">When the state last changed (UTC).</param>
public sealed record CheckStatus(
    string Name, string Kind, CheckState State, DateTimeOffset LastRun, double DurationMs, string Message,
    int ConsecutiveFailures, DateTimeOffset LastChange)
{
    /// <summary>The check's soft/hard state tracking, or null when not read.</summary>
    public TrackedState? Tracked { get; init; }
}

/// <summary>Where a result sits in a check's results ordered by start, then id: a page cursor.</summary>
/// <param name="StartedAt">The result's start (UTC, ms precision as stored).</param>
/// <param name="Id">The result's id.</param>
public readonly record struct ResultPosition(DateTimeOffset StartedAt, Guid Id);

/// <summary>Uptime of one check: the percent of runs that were up (OK or WARNING); null when it had no run in the window.</summary>
/// <param name="Percent24h">Over the current hour and the 23 before it (0–100).</param>
/// <param name="Percent7d">Over the current UTC day and the 6 before it (0–100).</param>
/// <param name="Percent30d">Over the current UTC day and the 29 before it (0–100).</param>
/// <param name="Runs24h">Runs counted for <paramref name="Percent24h"/>.</param>
/// <param name="AverageDurationMs24h">Mean run duration over the same 24 h, ms; null without runs.</param>
public sealed record Uptime(double? Percent24h, double? Percent7d, double? Percent30d, long Runs24h, double? AverageDurationMs24h);

/// <summary>One check's runs in one hour or one UTC day, from the hourly or daily aggregates.</summary>
/// <param name="Start">Start of the hour or day (UTC).</param>
/// <param name="Runs">Runs started in it.</param>
/// <param name="OkRuns">Of which OK.</param>
/// <param name="WarningRuns">Of which WARNING.</param>
/// <param name="DurationSumMs">Sum of their durations, ms.</param>
/// <param name="DurationMaxMs">Longest of them, ms.</param>
public sealed record AggregateBucket(DateTimeOffset Start, long Runs, long OkRuns, long WarningRuns, double DurationSumMs, double DurationMaxMs)
{
    /// <summary>Percent of runs up (OK or WARNING), or null without runs.</summary>
    public double? UpPercent => Runs == 0 ? null : 100.0 * (OkRuns + WarningRuns) / Runs;

    /// <summary>Mean run duration in ms, or null without runs.</summary>
    public double? AverageDurationMs => Runs == 0 ? null : DurationSumMs / Runs;
}

internal readonly record struct Aggregate(long Runs, long Ok, long Warning, double SumMs, double MaxMs);

internal sealed record UptimeSnapshot(DateTimeOffset At, IReadOnlyDictionary<string, Uptime> Values);

