using System.Net.Sockets;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Tocsin.Export;
using Tocsin.Storage.Postgres;

namespace Tocsin.Ingestion.Postgres;

/// <summary>
/// The ingestion store on the central PostgreSQL, shared by every replica (schema <c>tocsin</c>, migration 5 of
/// <see cref="CentralDatabase"/>): <c>ingest_logs</c> and <c>ingest_notifications</c> (seed 002's <c>logs</c> and
/// <c>notifications</c>, partitioned by UTC day on <c>time</c>), <c>ingest_configs</c>, <c>ingest_tokens</c>.
/// <para>An append reserves its ids from the table's identity sequence in one round trip, then writes every row with a
/// binary COPY, all in one transaction: ids increase within an append, and appends of several replicas never share an id
/// (two appends committing at once may commit in the other order than their ids). The day partitions an append needs are
/// created beforehand (remembered once made; made again when another replica's purge dropped one).</para>
/// <para>Every failure of the database is an <see cref="IngestionStoreException"/> whose message starts with
/// <see cref="Description"/> and names the cause (never a password); nothing of a failed write is kept. Bad arguments are
/// <see cref="ArgumentException"/>s. Thread-safe; holds no connection between calls.</para>
/// </summary>
public sealed class PostgresIngestionStore : IIngestionStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;
    private readonly DayPartitions _logPartitions;
    private readonly DayPartitions _notificationPartitions;

    /// <summary>
    /// Uses <paramref name="dataSource"/> (built once by the caller from <c>externalDatabaseUri</c>, see
    /// <see cref="PostgresConnectionString"/>; the caller disposes it) and <paramref name="timeProvider"/> for the times of
    /// configurations and tokens.
    /// </summary>
    public PostgresIngestionStore(NpgsqlDataSource dataSource, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _dataSource = dataSource;
        _time = timeProvider;
        _logPartitions = new DayPartitions(dataSource, IngestionSql.TableOf(RowKind.Logs));
        _notificationPartitions = new DayPartitions(dataSource, IngestionSql.TableOf(RowKind.Notifications));
        Description = Describe(new NpgsqlConnectionStringBuilder(dataSource.ConnectionString));
    }

    /// <inheritdoc />
    /// <remarks><c>PostgreSQL host:port/database</c> (several hosts as in the connection string); never the user's password.</remarks>
    public string Description { get; }

    /// <summary>4: concurrent COPYs into the day partitions do not block one another, so an upload does not wait for the
    /// previous transaction's commit (its fsync) before its own starts.</summary>
    public int ConcurrentAppends => 4;

    /// <inheritdoc />
    /// <remarks>Applies the central schema's pending migrations (<see cref="CentralDatabase.MigrateAsync"/>: one transaction
    /// under an advisory lock, so replicas starting at once apply each once).</remarks>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await new CentralDatabase(_dataSource).MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CentralSchemaTooNewException ex)
        {
            throw new IngestionStoreException($"{Description}: {ex.Message}", ex);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure("could not create or migrate the schema", ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>A row's <c>Level</c> must fit PostgreSQL's smallint (−32768–32767; validated uploads hold 0–100) and its
    /// texts must not contain U+0000 (PostgreSQL text cannot hold it): else <see cref="IngestionStoreException"/> saying so,
    /// before anything is written (the batching writer then retries each upload alone, so only the bad one fails). A partition dropped by another replica's purge is made again and the append tried once more.</remarks>
    public async Task<IReadOnlyList<IReadOnlyList<long>>> AppendAsync(RowKind kind, IReadOnlyList<IngestionBatch> batches, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batches);
        string table = IngestionSql.TableOf(kind);
        int total = 0;
        var days = new HashSet<DateOnly>();
        foreach (var batch in batches)
        {
            ArgumentNullException.ThrowIfNull(batch);
            if (batch.Identity.Contains('\0', StringComparison.Ordinal))
            {
                throw new IngestionStoreException($"{Description}: not stored: an identity contains the character U+0000, which PostgreSQL text cannot hold");
            }

            foreach (var row in batch.Rows)
            {
                if (row.Level is < short.MinValue or > short.MaxValue)
                {
                    throw new IngestionStoreException($"{Description}: not stored: a row of '{batch.Identity}' has level {row.Level}; PostgreSQL keeps levels from {short.MinValue} to {short.MaxValue}");
                }

                if (row.Sender.Contains('\0', StringComparison.Ordinal) || row.Message.Contains('\0', StringComparison.Ordinal))
                {
                    throw new IngestionStoreException($"{Description}: not stored: a row of '{batch.Identity}' contains the character U+0000 in its sender or message, which PostgreSQL text cannot hold");
                }

                days.Add(DayPartitions.DayOf(row.Time));
            }

            total += batch.Rows.Count;
        }

        if (total == 0)
        {
            return batches.Select(_ => (IReadOnlyList<long>)[]).ToList();
        }

        var partitions = PartitionsOf(kind);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await partitions.EnsureAsync(days, cancellationToken).ConfigureAwait(false);
                return await CopyAsync(table, batches, total, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (attempt == 1 && ex.SqlState is PostgresErrorCodes.CheckViolation or PostgresErrorCodes.UndefinedTable)
            {
                // "no partition of relation … found for row": another replica's purge dropped a partition known here.
                partitions.Forget();
            }
            catch (Exception ex) when (IsDatabaseFailure(ex))
            {
                partitions.Forget();
                throw Failure($"could not append {total} {Noun(kind)} row(s)", ex);
            }
        }
    }

    private async Task<IReadOnlyList<IReadOnlyList<long>>> CopyAsync(string table, IReadOnlyList<IngestionBatch> batches, int total, CancellationToken cancellationToken)
    {
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long[] ids = new long[total];
        await using (var reserve = new NpgsqlCommand(IngestionSql.ReserveIds(table), c, tx))
        {
            reserve.Parameters.Add(new NpgsqlParameter<int>("n", total));
            await using var r = await reserve.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            int n = 0;
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                ids[n++] = r.GetInt64(0);
            }

            if (n != total)
            {
                throw new InvalidOperationException($"reserved {n} ids instead of {total}");
            }
        }

        var result = new IReadOnlyList<long>[batches.Count];
        await using (var copy = await c.BeginBinaryImportAsync(IngestionSql.Copy(table), cancellationToken).ConfigureAwait(false))
        {
            int k = 0;
            for (int b = 0; b < batches.Count; b++)
            {
                var batch = batches[b];
                result[b] = new ArraySegment<long>(ids, k, batch.Rows.Count);
                foreach (var row in batch.Rows)
                {
                    await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(ids[k++], NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(batch.Identity, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync((short)row.Level, NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(row.Time.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(row.Sender, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(row.Message, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                }
            }

            await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">When <see cref="RowQuery.Limit"/> is not 1 – <see cref="RowQuery.MaxLimit"/>.</exception>
    public async Task<IReadOnlyList<StoredRow>> QueryAsync(RowKind kind, RowQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is < 1 or > RowQuery.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Limit, $"Limit must be 1–{RowQuery.MaxLimit}");
        }

        string table = IngestionSql.TableOf(kind);
        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.Query(table, query));
            cmd.Parameters.Add(new NpgsqlParameter<string>("identity", query.Identity));
            cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("since", query.Since.ToUniversalTime()));
            cmd.Parameters.Add(new NpgsqlParameter<int>("limit", query.Limit));
            if (query.Sender is not null)
            {
                cmd.Parameters.Add(new NpgsqlParameter<string>("sender", query.Sender));
            }

            if (query.MaxLevel is { } maxLevel)
            {
                cmd.Parameters.Add(new NpgsqlParameter<int>("max_level", maxLevel));
            }

            if (query.Text is { Length: > 0 } text)
            {
                cmd.Parameters.Add(new NpgsqlParameter<string>("text", text));
            }

            if (query.Before is { } before)
            {
                cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("before_time", before.Time.ToUniversalTime()));
                cmd.Parameters.Add(new NpgsqlParameter<long>("before_id", before.Id));
            }

            return await ReadRowsAsync(cmd, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure($"could not read {Noun(kind)} rows", ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>Notifications are found by an index on id; logs have none, so reading logs by id scans their partitions.</remarks>
    public async Task<IReadOnlyList<StoredRow>> ReadAsync(RowKind kind, IReadOnlyList<long> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        string table = IngestionSql.TableOf(kind);
        if (ids.Count == 0)
        {
            return [];
        }

        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.ReadByIds(table));
            cmd.Parameters.Add(new NpgsqlParameter<long[]>("ids", [.. ids]));
            return await ReadRowsAsync(cmd, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure($"could not read {ids.Count} {Noun(kind)} row(s) by id", ex);
        }
    }

    private static async Task<IReadOnlyList<StoredRow>> ReadRowsAsync(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<StoredRow>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new StoredRow(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt16(4), r.GetFieldValue<DateTimeOffset>(5)));
        }

        return rows;
    }

    /// <inheritdoc />
    /// <remarks>
    /// First drops, in one short transaction, every day partition whose whole day is before <paramref name="olderThan"/>,
    /// then deletes the older rows of the partition straddling it. The count is the rows deleted plus, for each dropped
    /// partition, PostgreSQL's estimate of its rows (<c>pg_class.reltuples</c>, kept by autovacuum; counted exactly when the
    /// partition was never analysed, which only a small one is): an estimate whenever a partition was dropped.
    /// </remarks>
    public async Task<long> PurgeAsync(RowKind kind, DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        string table = IngestionSql.TableOf(kind);
        var partitions = PartitionsOf(kind);
        try
        {
            var dropped = await partitions.DropOlderThanAsync(olderThan, cancellationToken).ConfigureAwait(false);
            await using var cmd = _dataSource.CreateCommand(IngestionSql.DeleteOlder(table));
            cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("older_than", olderThan.ToUniversalTime()));
            long deleted = await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return deleted + dropped.Sum(d => d.Rows);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure($"could not purge {Noun(kind)} rows older than {olderThan.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}", ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>The document is kept as the text given (not re-encoded).</remarks>
    public async Task<string?> GetConfigAsync(string identity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.SelectConfig);
            cmd.Parameters.Add(new NpgsqlParameter<string>("identity", identity));
            return await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure($"could not read the configuration of '{identity}'", ex);
        }
    }

    /// <inheritdoc />
    public async Task PutConfigAsync(string identity, string json, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.UpsertConfig);
            cmd.Parameters.Add(new NpgsqlParameter<string>("identity", identity));
            cmd.Parameters.Add(new NpgsqlParameter<string>("document", json));
            cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", Now()));
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure($"could not store the configuration of '{identity}'", ex);
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">When <paramref name="sha256"/> is not 32 bytes.</exception>
    /// <remarks>A token whose SHA-256 (or public id) is stored already is an <see cref="IngestionStoreException"/>.</remarks>
    public async Task<IngestionToken> AddTokenAsync(string identity, IngestionRole role, byte[] sha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(sha256);
        if (sha256.Length != 32)
        {
            throw new ArgumentException($"a SHA-256 is 32 bytes, not {sha256.Length}", nameof(sha256));
        }

        var token = new IngestionToken(IngestionToken.IdOf(sha256), identity, role, Now(), null);
        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.InsertToken);
            cmd.Parameters.Add(new NpgsqlParameter<byte[]>("sha256", sha256));
            cmd.Parameters.Add(new NpgsqlParameter<string>("id", token.Id));
            cmd.Parameters.Add(new NpgsqlParameter<string>("identity", identity));
            cmd.Parameters.Add(new NpgsqlParameter<string>("role", IngestionRoles.Name(role)));
            cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", token.CreatedAt));
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return token;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new IngestionStoreException($"{Description}: a token with id {token.Id} is stored already", ex);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure($"could not store token {token.Id}", ex);
        }
    }

    /// <inheritdoc />
    public async Task<IngestionToken?> FindTokenAsync(byte[] sha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.SelectValidToken);
            cmd.Parameters.Add(new NpgsqlParameter<byte[]>("sha256", sha256));
            var tokens = await ReadTokensAsync(cmd, cancellationToken).ConfigureAwait(false);
            return tokens.Count == 0 ? null : tokens[0];
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure("could not look a token up", ex);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IngestionToken>> ListTokensAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.SelectTokens);
            return await ReadTokensAsync(cmd, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure("could not list the tokens", ex);
        }
    }

    /// <inheritdoc />
    public async Task<bool> RevokeTokenAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        try
        {
            await using var cmd = _dataSource.CreateCommand(IngestionSql.RevokeToken);
            cmd.Parameters.Add(new NpgsqlParameter<string>("id", id));
            cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", Now()));
            return await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }
        catch (Exception ex) when (IsDatabaseFailure(ex))
        {
            throw Failure($"could not revoke token {id}", ex);
        }
    }

    /// <summary>Nothing to release: the data source belongs to the caller.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static async Task<IReadOnlyList<IngestionToken>> ReadTokensAsync(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var tokens = new List<IngestionToken>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            tokens.Add(new IngestionToken(r.GetString(0), r.GetString(1), IngestionRoles.Parse(r.GetString(2)),
                r.GetFieldValue<DateTimeOffset>(3), r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4)));
        }

        return tokens;
    }

    private static string Noun(RowKind kind) => kind == RowKind.Logs ? "log" : "notification";

    private DayPartitions PartitionsOf(RowKind kind) => kind == RowKind.Logs ? _logPartitions : _notificationPartitions;

    /// <summary>Now, UTC, truncated to PostgreSQL's microseconds (so what is returned equals what is read back).</summary>
    private DateTimeOffset Now()
    {
        var now = _time.GetUtcNow().ToUniversalTime();
        return now.AddTicks(-(now.Ticks % 10));
    }

    private IngestionStoreException Failure(string what, Exception ex) => new($"{Description}: {what}: {Exporter.Describe(ex)}", ex);

    /// <summary>What the database (or the way to it) can throw; cancellation and bad arguments pass through.</summary>
    private static bool IsDatabaseFailure(Exception ex) =>
        ex is NpgsqlException or TimeoutException or IOException or SocketException or EncoderFallbackException
            or (InvalidOperationException and not ObjectDisposedException);

    private static string Describe(NpgsqlConnectionStringBuilder b)
    {
        string host = string.IsNullOrEmpty(b.Host) ? "localhost" : b.Host;
        string where = host.Contains(',', StringComparison.Ordinal) ? host : $"{host}:{b.Port}";
        return $"PostgreSQL {where}/{b.Database ?? b.Username ?? "postgres"}";
    }
}
