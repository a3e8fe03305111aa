using System.Globalization;
using Npgsql;

namespace Tocsin.Storage.Postgres;

/// <summary>
/// The central PostgreSQL: applies the schema migrations and manages the day partitions of
/// <c>tocsin.results</c>. Holds no connection itself; uses the shared <see cref="NpgsqlDataSource"/>.
/// </summary>
public sealed class CentralDatabase
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly DayPartitions _partitions;

    /// <summary>Uses <paramref name="dataSource"/> (built once by the caller, who disposes it).</summary>
    public CentralDatabase(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource;
        _partitions = new DayPartitions(dataSource, "results");
    }

    /// <summary>The highest central schema version this build knows.</summary>
    public static int SchemaVersion => PostgresSchema.Migrations[^1].Version;

    /// <summary>
    /// Applies the pending migrations in one transaction under an advisory lock, so several agents
    /// starting at once apply each exactly once. Returns the schema version now in the database.
    /// </summary>
    /// <exception cref="CentralSchemaTooNewException">When the database's schema is newer than this build's.</exception>
    /// <exception cref="NpgsqlException">When PostgreSQL cannot be reached or refuses a statement.</exception>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await DayPartitions.LockAsync(c, tx, cancellationToken).ConfigureAwait(false);
        await DayPartitions.ExecuteAsync(c, tx, PostgresSchema.CreateMigrationsTable, cancellationToken).ConfigureAwait(false);
        int current;
        await using (var q = new NpgsqlCommand(PostgresSchema.SelectVersion, c, tx))
        {
            current = Convert.ToInt32(await q.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }

        if (current > SchemaVersion)
        {
            throw new CentralSchemaTooNewException(current, SchemaVersion);
        }

        foreach (var (version, description, sql) in PostgresSchema.Migrations.Where(m => m.Version > current))
        {
            await DayPartitions.ExecuteAsync(c, tx, sql, cancellationToken).ConfigureAwait(false);
            await using var ins = new NpgsqlCommand(PostgresSchema.InsertMigration, c, tx);
            ins.Parameters.AddWithValue("version", version);
            ins.Parameters.AddWithValue("description", description);
            await ins.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Math.Max(current, SchemaVersion);
    }

    /// <summary>The partition name for a UTC day: <c>results_pYYYYMMDD</c>.</summary>
    public static string PartitionName(DateOnly day) => DayPartitions.NameOf("results", day);

    /// <summary>
    /// Makes sure a partition exists for each of <paramref name="days"/> (UTC). Days already known to
    /// exist cost nothing; the others are created in one transaction under the advisory lock.
    /// </summary>
    /// <exception cref="NpgsqlException">When PostgreSQL cannot be reached or refuses a statement.</exception>
    public Task EnsurePartitionsAsync(IEnumerable<DateOnly> days, CancellationToken cancellationToken) =>
        _partitions.EnsureAsync(days, cancellationToken);

    /// <summary>
    /// Creates the partitions from yesterday to a week ahead of <paramref name="now"/> and drops the
    /// partitions whose whole day is older than <paramref name="retention"/>. Returns the names dropped.
    /// </summary>
    /// <exception cref="NpgsqlException">When PostgreSQL cannot be reached or refuses a statement.</exception>
    public async Task<IReadOnlyList<string>> MaintainPartitionsAsync(DateTimeOffset now, TimeSpan retention, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        await EnsurePartitionsAsync(Enumerable.Range(-1, 9).Select(today.AddDays), cancellationToken).ConfigureAwait(false);

        // A day's partition goes once its end (next midnight) is older than the retention cutoff.
        var dropped = await _partitions.DropOlderThanAsync(now - retention, cancellationToken).ConfigureAwait(false);
        return dropped.Select(d => d.Name).ToList();
    }

    /// <summary>Forgets which partitions are known to exist (after an error that may mean they were dropped).</summary>
    public void ForgetPartitions() => _partitions.Forget();
}

/// <summary>
/// The central database holds a schema version newer than this build knows: an older agent must not
/// write into it. Upgrade the agent.
/// </summary>
public sealed class CentralSchemaTooNewException : Exception
{
    /// <summary>Creates the exception for a database at <paramref name="databaseVersion"/> and a build knowing <paramref name="buildVersion"/>.</summary>
    public CentralSchemaTooNewException(int databaseVersion, int buildVersion)
        : base($"The central database has schema version {databaseVersion}, newer than this Tocsin's {buildVersion}; upgrade Tocsin on this agent. Export is paused.")
    {
        DatabaseVersion = databaseVersion;
        BuildVersion = buildVersion;
    }

    /// <summary>The version found in <c>tocsin.schema_migrations</c>.</summary>
    public int DatabaseVersion { get; }

    /// <summary>The highest version this build knows.</summary>
    public int BuildVersion { get; }
}
