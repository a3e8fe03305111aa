using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Tocsin.Checks;

namespace Tocsin.Storage.Sqlite;

/// <summary>
/// The agent's local SQLite database (WAL mode): the outbox every result is committed to before
/// anything else acts on it, the latest state per check, and the agent's identity.
/// <para>Durability: WAL with <c>synchronous=NORMAL</c>; a committed batch survives the process being
/// killed at any moment (<c>kill -9</c>); after a power loss the last batches before it may be lost.</para>
/// <para>Writes go through one connection owned by the caller of <see cref="WriteBatch"/> (the
/// <see cref="ResultWriter"/>); reads open pooled connections and may run concurrently.</para>
/// </summary>
public sealed class SqliteOutbox : IDisposable
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _upsert;
    private readonly Lock _writeLock = new();

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

        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
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

        _upsert = _writer.CreateCommand();
        _upsert.CommandText = SqliteSchema.UpsertState;
        foreach (string p in new[] { "$id", "$check", "$kind", "$state", "$started", "$duration", "$message" })
        {
            _upsert.Parameters.Add(new SqliteParameter(p, null));
        }
    }

    /// <summary>Absolute path of the database file.</summary>
    public string Path { get; }

    /// <summary>This agent's persistent id (a UUIDv7 made when the file was created).</summary>
    public Guid AgentId { get; }

    /// <summary>The highest schema version this build knows.</summary>
    public static int SchemaVersion => SqliteSchema.Migrations[^1].Version;

    /// <summary>
    /// Commits <paramref name="results"/> in one transaction: inserts each (an id already stored is
    /// ignored, so a retried batch stores nothing twice) and updates the per-check state.
    /// </summary>
    /// <exception cref="SqliteException">When the write fails (disk full, I/O error); nothing of the batch is committed.</exception>
    public void WriteBatch(IReadOnlyList<CheckResult> results)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            _insert.Transaction = tx;
            _upsert.Transaction = tx;
            foreach (var r in results)
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
                _insert.ExecuteNonQuery();

                var up = _upsert.Parameters;
                up[0].Value = id;
                up[1].Value = r.CheckName;
                up[2].Value = r.Kind;
                up[3].Value = (int)r.State;
                up[4].Value = r.StartedAt.ToUnixTimeMilliseconds();
                up[5].Value = r.DurationMs;
                up[6].Value = r.Message;
                _upsert.ExecuteNonQuery();
            }

            tx.Commit();
        }
    }

    /// <summary>The latest state of every check that has a result, by check name.</summary>
    public IReadOnlyDictionary<string, CheckStatus> ReadStates()
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectStates;
        using var reader = cmd.ExecuteReader();
        var states = new Dictionary<string, CheckStatus>(StringComparer.Ordinal);
        while (reader.Read())
        {
            string name = reader.GetString(0);
            states[name] = new CheckStatus(
                name,
                reader.GetString(1),
                (CheckState)reader.GetInt32(2),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                reader.GetDouble(4),
                reader.GetString(5),
                reader.GetInt32(6),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)));
        }

        return states;
    }

    /// <summary>The newest <paramref name="limit"/> results of one check, newest first.</summary>
    public IReadOnlyList<CheckResult> ReadResults(string checkName, int limit)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectResults;
        cmd.Parameters.AddWithValue("$check", checkName);
        cmd.Parameters.AddWithValue("$limit", limit);
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
    int ConsecutiveFailures, DateTimeOffset LastChange);
