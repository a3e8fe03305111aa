namespace Tocsin.Ingestion;

/// <summary>
/// Where uploaded logs, notifications, agent configurations and ingestion tokens are kept: SQLite
/// (<c>ingestion.databasePath</c>) by default, the central PostgreSQL (<c>externalDatabaseUri</c>, schema <c>tocsin</c>) when
/// configured, then shared by every replica. Thread-safe. Every method throws <see cref="IngestionStoreException"/> when the
/// database cannot be used (nothing of a failed write is kept) and <see cref="OperationCanceledException"/> when cancelled.
/// </summary>
public interface IIngestionStore : IAsyncDisposable
{
    /// <summary>What it is, for logs: <c>SQLite /var/lib/tocsin/ingestion.db</c>, <c>PostgreSQL db1:5432/tocsin</c> (no password).</summary>
    string Description { get; }

    /// <summary>How many <see cref="AppendAsync"/> calls may usefully run at once (the writer's commit loops per kind):
    /// 1 where writes are serialised anyway (SQLite). <value>Default: 1.</value></summary>
    int ConcurrentAppends => 1;

    /// <summary>Creates or migrates the schema. Called once before any other method.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes every row of <paramref name="batches"/> in one transaction (binary COPY on PostgreSQL). When it returns, the
    /// rows are committed; the ids of each batch's rows come back in order, one list per batch.
    /// </summary>
    Task<IReadOnlyList<IReadOnlyList<long>>> AppendAsync(RowKind kind, IReadOnlyList<IngestionBatch> batches, CancellationToken cancellationToken);

    /// <summary>One identity's rows by <paramref name="query"/>, newest first.</summary>
    Task<IReadOnlyList<StoredRow>> QueryAsync(RowKind kind, RowQuery query, CancellationToken cancellationToken);

    /// <summary>The rows with these ids (any identity; missing ids are skipped), in id order: how another replica's
    /// notifications are fetched for live fan-out.</summary>
    Task<IReadOnlyList<StoredRow>> ReadAsync(RowKind kind, IReadOnlyList<long> ids, CancellationToken cancellationToken);

    /// <summary>Deletes the rows whose time is before <paramref name="olderThan"/> (on PostgreSQL, logs by dropping whole day
    /// partitions, then deleting in the partition that straddles the limit). Returns how many rows went (an estimate when
    /// partitions were dropped).</summary>
    Task<long> PurgeAsync(RowKind kind, DateTimeOffset olderThan, CancellationToken cancellationToken);

    /// <summary>The configuration document stored for <paramref name="identity"/> (JSON text), or null (seed 002's
    /// <c>getConfig</c>).</summary>
    Task<string?> GetConfigAsync(string identity, CancellationToken cancellationToken);

    /// <summary>Stores (replaces) the configuration document of <paramref name="identity"/> (seed 002's <c>insertConfig</c>).</summary>
    Task PutConfigAsync(string identity, string json, CancellationToken cancellationToken);

    /// <summary>Stores a token by its SHA-256 (<see cref="Access.AccessTokens.Sha256"/>).</summary>
    Task<IngestionToken> AddTokenAsync(string identity, IngestionRole role, byte[] sha256, CancellationToken cancellationToken);

    /// <summary>The valid (not revoked) token with this SHA-256, or null.</summary>
    Task<IngestionToken?> FindTokenAsync(byte[] sha256, CancellationToken cancellationToken);

    /// <summary>Every token, revoked ones included, oldest first.</summary>
    Task<IReadOnlyList<IngestionToken>> ListTokensAsync(CancellationToken cancellationToken);

    /// <summary>Revokes the token with this public id; false when there is none (or it is already revoked).</summary>
    Task<bool> RevokeTokenAsync(string id, CancellationToken cancellationToken);
}
