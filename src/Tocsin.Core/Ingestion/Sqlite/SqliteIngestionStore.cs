using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Tocsin.Ingestion.Sqlite;

/// <summary>
/// The ingestion store of a single Tocsin (no <c>externalDatabaseUri</c>): one SQLite file (<c>ingestion.databasePath</c>,
/// WAL), apart from the outbox so that uploads never wait on the result writer. Tables <c>ingest_logs</c> and
/// <c>ingest_notifications</c> (<c>id</c> INTEGER PRIMARY KEY AUTOINCREMENT — never reused, so ids only grow —, <c>identity</c>,
/// <c>level</c>, <c>time</c> as microseconds since the Unix epoch, <c>sender</c>, <c>message</c>), <c>ingest_configs</c>
/// (<c>identity</c>, <c>document</c>, <c>updated_at</c>) and <c>ingest_tokens</c> (<c>sha256</c>, <c>id</c>, <c>identity</c>,
/// <c>role</c>, <c>created_at</c>, <c>revoked_at</c>, milliseconds). Writes go through one connection, one at a time; reads
/// use pooled connections and never wait for writes.
/// </summary>
public sealed class SqliteIngestionStore : IIngestionStore
{
    /// <summary>The schema version kept in <c>PRAGMA user_version</c>.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Rows deleted per statement by <see cref="PurgeAsync"/>, so that uploads are not held up for long.</summary>
    public const int PurgeChunk = 5000;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS ingest_logs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, identity TEXT NOT NULL, level INTEGER NOT NULL,
            time INTEGER NOT NULL, sender TEXT NOT NULL, message TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_ingest_logs_identity_time ON ingest_logs (identity, time DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_ingest_logs_time ON ingest_logs (time);
        CREATE TABLE IF NOT EXISTS ingest_notifications (
            id INTEGER PRIMARY KEY AUTOINCREMENT, identity TEXT NOT NULL, level INTEGER NOT NULL,
            time INTEGER NOT NULL, sender TEXT NOT NULL, message TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_ingest_notifications_identity_time ON ingest_notifications (identity, time DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_ingest_notifications_time ON ingest_notifications (time);
        CREATE TABLE IF NOT EXISTS ingest_configs (identity TEXT PRIMARY KEY, document TEXT NOT NULL, updated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS ingest_tokens (
            sha256 BLOB PRIMARY KEY, id TEXT NOT NULL UNIQUE, identity TEXT NOT NULL, role TEXT NOT NULL,
            created_at INTEGER NOT NULL, revoked_at INTEGER);
        """;

    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private SqliteConnection? _writer;

    /// <summary>Uses the file at <paramref name="path"/> (created, with its folder, by <see cref="InitializeAsync"/>).</summary>
    public SqliteIngestionStore(string path, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        _time = time;
        _connectionString = Storage.Sqlite.SqliteFiles.ConnectionString(Path);
    }

    /// <summary>The database file's full path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public string Description => $"SQLite {Path}";

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_writer is not null)
            {
                return;
            }

            Run("open", () =>
            {
                string? dir = System.IO.Path.GetDirectoryName(Path);
                if (!string.IsNullOrEmpty(dir))
                {
                    Directory.CreateDirectory(dir);
                }

                var c = new SqliteConnection(_connectionString);
                try
                {
                    c.Open();
                    Execute(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
                    long version = Convert.ToInt64(Scalar(c, "PRAGMA user_version;"), CultureInfo.InvariantCulture);
                    if (version > SchemaVersion)
                    {
                        throw new IngestionStoreException(
                            $"the ingestion database {Path} has schema version {version}, newer than this Tocsin's {SchemaVersion}; upgrade Tocsin or use another file");
                    }

                    using var tx = c.BeginTransaction();
                    Execute(c, Schema + $"PRAGMA user_version = {SchemaVersion};", tx);
                    tx.Commit();
                    _writer = c;
                }
                catch
                {
                    c.Dispose();
                    throw;
                }

                return 0;
            });
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IReadOnlyList<long>>> AppendAsync(RowKind kind, IReadOnlyList<IngestionBatch> batches, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batches);
        return await WriteAsync("append", c =>
        {
            using var tx = c.BeginTransaction();
            using var insert = c.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = $"INSERT INTO {Table(kind)} (identity, level, time, sender, message) VALUES ($i, $l, $t, $s, $m) RETURNING id;";
            var pi = insert.Parameters.Add("$i", SqliteType.Text);
            var pl = insert.Parameters.Add("$l", SqliteType.Integer);
            var pt = insert.Parameters.Add("$t", SqliteType.Integer);
            var ps = insert.Parameters.Add("$s", SqliteType.Text);
            var pm = insert.Parameters.Add("$m", SqliteType.Text);
            insert.Prepare();
            var result = new List<IReadOnlyList<long>>(batches.Count);
            foreach (var batch in batches)
            {
                var ids = new long[batch.Rows.Count];
                pi.Value = batch.Identity;
                for (int i = 0; i < ids.Length; i++)
                {
                    var row = batch.Rows[i];
                    pl.Value = row.Level;
                    pt.Value = Micros(row.Time);
                    ps.Value = row.Sender;
                    pm.Value = row.Message;
                    ids[i] = (long)insert.ExecuteScalar()!;
                }

                result.Add(ids);
            }

            tx.Commit();
            return (IReadOnlyList<IReadOnlyList<long>>)result;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredRow>> QueryAsync(RowKind kind, RowQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Limit, RowQuery.MaxLimit);
        return ReadAsync<IReadOnlyList<StoredRow>>("query", c =>
        {
            using var q = c.CreateCommand();
            var sql = new StringBuilder($"SELECT id, identity, sender, message, level, time FROM {Table(kind)} WHERE identity = $i AND time >= $since");
            q.Parameters.AddWithValue("$i", query.Identity);
            q.Parameters.AddWithValue("$since", Micros(query.Since));
            if (query.Sender is { } sender)
            {
                sql.Append(" AND sender = $s");
                q.Parameters.AddWithValue("$s", sender);
            }

            if (query.MaxLevel is { } level)
            {
                sql.Append(" AND level <= $l");
                q.Parameters.AddWithValue("$l", level);
            }

            if (query.Text is { Length: > 0 } text)
            {
                sql.Append(" AND instr(message, $text) > 0");
                q.Parameters.AddWithValue("$text", text);
            }

            if (query.Before is { } before)
            {
                sql.Append(" AND (time < $bt OR (time = $bt AND id < $bid))");
                q.Parameters.AddWithValue("$bt", Micros(before.Time));
                q.Parameters.AddWithValue("$bid", before.Id);
            }

            sql.Append(" ORDER BY time DESC, id DESC LIMIT $limit;");
            q.Parameters.AddWithValue("$limit", query.Limit);
            q.CommandText = sql.ToString();
            return Rows(q);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredRow>> ReadAsync(RowKind kind, IReadOnlyList<long> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<StoredRow>>([]);
        }

        return ReadAsync<IReadOnlyList<StoredRow>>("read", c =>
        {
            using var q = c.CreateCommand();
            // The ids as one JSON array parameter: any count, one statement.
            q.CommandText = $"SELECT id, identity, sender, message, level, time FROM {Table(kind)} WHERE id IN (SELECT value FROM json_each($ids)) ORDER BY id;";
            q.Parameters.AddWithValue("$ids", "[" + string.Join(',', ids.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]");
            return Rows(q);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<long> PurgeAsync(RowKind kind, DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            // One short transaction per chunk: uploads interleave with a long purge.
            int deleted = await WriteAsync("purge", c =>
            {
                using var d = c.CreateCommand();
                d.CommandText = $"DELETE FROM {Table(kind)} WHERE id IN (SELECT id FROM {Table(kind)} WHERE time < $t LIMIT {PurgeChunk});";
                d.Parameters.AddWithValue("$t", Micros(olderThan));
                return d.ExecuteNonQuery();
            }, cancellationToken).ConfigureAwait(false);
            total += deleted;
            if (deleted < PurgeChunk)
            {
                return total;
            }
        }
    }

    /// <inheritdoc />
    public Task<string?> GetConfigAsync(string identity, CancellationToken cancellationToken) =>
        ReadAsync("read the configuration", c =>
        {
            using var q = c.CreateCommand();
            q.CommandText = "SELECT document FROM ingest_configs WHERE identity = $i;";
            q.Parameters.AddWithValue("$i", identity);
            return q.ExecuteScalar() as string;
        }, cancellationToken);

    /// <inheritdoc />
    public Task PutConfigAsync(string identity, string json, CancellationToken cancellationToken) =>
        WriteAsync("store the configuration", c =>
        {
            using var u = c.CreateCommand();
            u.CommandText = """
                INSERT INTO ingest_configs (identity, document, updated_at) VALUES ($i, $d, $t)
                ON CONFLICT (identity) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at;
                """;
            u.Parameters.AddWithValue("$i", identity);
            u.Parameters.AddWithValue("$d", json);
            u.Parameters.AddWithValue("$t", _time.GetUtcNow().ToUnixTimeMilliseconds());
            return u.ExecuteNonQuery();
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IngestionToken> AddTokenAsync(string identity, IngestionRole role, byte[] sha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        var token = new IngestionToken(IngestionToken.IdOf(sha256), identity, role, _time.GetUtcNow(), null);
        return WriteAsync("store the token", c =>
        {
            using var i = c.CreateCommand();
            i.CommandText = "INSERT INTO ingest_tokens (sha256, id, identity, role, created_at) VALUES ($h, $id, $i, $r, $t);";
            i.Parameters.AddWithValue("$h", sha256);
            i.Parameters.AddWithValue("$id", token.Id);
            i.Parameters.AddWithValue("$i", identity);
            i.Parameters.AddWithValue("$r", IngestionRoles.Name(role));
            i.Parameters.AddWithValue("$t", token.CreatedAt.ToUnixTimeMilliseconds());
            i.ExecuteNonQuery();
            return token;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IngestionToken?> FindTokenAsync(byte[] sha256, CancellationToken cancellationToken) =>
        ReadAsync("find the token", c =>
        {
            using var q = c.CreateCommand();
            q.CommandText = "SELECT id, identity, role, created_at, revoked_at FROM ingest_tokens WHERE sha256 = $h AND revoked_at IS NULL;";
            q.Parameters.AddWithValue("$h", sha256);
            return Tokens(q).FirstOrDefault();
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<IngestionToken>> ListTokensAsync(CancellationToken cancellationToken) =>
        ReadAsync("list the tokens", c =>
        {
            using var q = c.CreateCommand();
            q.CommandText = "SELECT id, identity, role, created_at, revoked_at FROM ingest_tokens ORDER BY created_at, id;";
            return (IReadOnlyList<IngestionToken>)Tokens(q);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<bool> RevokeTokenAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync("revoke the token", c =>
        {
            using var u = c.CreateCommand();
            u.CommandText = "UPDATE ingest_tokens SET revoked_at = $t WHERE id = $id AND revoked_at IS NULL;";
            u.Parameters.AddWithValue("$id", id);
            u.Parameters.AddWithValue("$t", _time.GetUtcNow().ToUnixTimeMilliseconds());
            return u.ExecuteNonQuery() == 1;
        }, cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_writer is not null)
            {
                await _writer.DisposeAsync().ConfigureAwait(false);
                _writer = null;
            }
        }
        finally
        {
            _writeLock.Release();
        }

        _writeLock.Dispose();
    }

    private static string Table(RowKind kind) => kind == RowKind.Logs ? "ingest_logs" : "ingest_notifications";

    private static long Micros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static DateTimeOffset FromMicros(long us) => DateTimeOffset.UnixEpoch.AddTicks(us * 10);

    private static List<StoredRow> Rows(SqliteCommand q)
    {
        var rows = new List<StoredRow>();
        using var r = q.ExecuteReader();
        while (r.Read())
        {
            rows.Add(new StoredRow(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4), FromMicros(r.GetInt64(5))));
        }

        return rows;
    }

    private static List<IngestionToken> Tokens(SqliteCommand q)
    {
        var tokens = new List<IngestionToken>();
        using var r = q.ExecuteReader();
        while (r.Read())
        {
            tokens.Add(new IngestionToken(
                r.GetString(0), r.GetString(1), IngestionRoles.Parse(r.GetString(2)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
                r.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4))));
        }

        return tokens;
    }

    private async Task<T> WriteAsync<T>(string what, Func<SqliteConnection, T> write, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var writer = _writer ?? throw new IngestionStoreException($"not stored: {Path} is not open yet");
            return Run(what, () => write(writer));
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private Task<T> ReadAsync<T>(string what, Func<SqliteConnection, T> read, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Run(what, () =>
        {
            using var c = new SqliteConnection(_connectionString);
            c.Open();
            return read(c);
        }));
    }

    private T Run<T>(string what, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SqliteException ex)
        {
            throw new IngestionStoreException($"cannot {what} in {Path}: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new IngestionStoreException($"cannot {what} in {Path}: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new IngestionStoreException($"cannot {what} in {Path}: {ex.Message}", ex);
        }
    }

    private static object? Scalar(SqliteConnection c, string sql)
    {
        using var q = c.CreateCommand();
        q.CommandText = sql;
        return q.ExecuteScalar();
    }

    private static void Execute(SqliteConnection c, string sql, SqliteTransaction? tx = null)
    {
        using var q = c.CreateCommand();
        q.CommandText = sql;
        q.Transaction = tx;
        q.ExecuteNonQuery();
    }
}
