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
    private readonly HashSet<DateOnly> _knownPartitions = [];
    private readonly Lock _knownLock = new();

    /// <summary>Uses <paramref name="dataSource"/> (built once by the caller, who disposes it).</summary>
    public CentralDatabase(NpgsqlDataSource dataSource) => _dataSource = dataSource;

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
        await LockAsync(c, tx, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(c, tx, PostgresSchema.CreateMigrationsTable, cancellationToken).ConfigureAwait(false);
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
            await ExecuteAsync(c, tx, sql, cancellationToken).ConfigureAwait(false);
            await using var ins = new NpgsqlCommand(PostgresSchema.InsertMigration, c, tx);
            ins.Parameters.AddWithValue("version", version);
            ins.Parameters.AddWithValue("description", description);
            await ins.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Math.Max(current, SchemaVersion);
    }

    /// <summary>The partition name for a UTC day: <c>results_pYYYYMMDD</c>.</summary>
    public static string PartitionName(DateOnly day) => "results_p" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    /// <summary>
    /// Makes sure a partition exists for each of <paramref name="days"/> (UTC). Days already known to
    /// exist cost nothing; the others are created in one transaction under the advisory lock.
    /// </summary>
    /// <exception cref="NpgsqlException">When PostgreSQL cannot be reached or refuses a statement.</exception>
    public async Task EnsurePartitionsAsync(IEnumerable<DateOnly> days, CancellationToken cancellationToken)
    {
        List<DateOnly> missing;
        lock (_knownLock)
        {
            missing = days.Distinct().Where(d => !_knownPartitions.Contains(d)).Order().ToList();
        }

        if (missing.Count == 0)
        {
            return;
        }

        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockAsync(c, tx, cancellationToken).ConfigureAwait(false);
        foreach (var day in missing)
        {
            await ExecuteAsync(c, tx, PostgresSchema.CreatePartition(PartitionName(day), day), cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        lock (_knownLock)
        {
            _knownPartitions.UnionWith(missing);
        }
    }

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
        var cutoff = now - retention;
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockAsync(c, tx, cancellationToken).ConfigureAwait(false);
        var names = new List<string>();
        await using (var q = new NpgsqlCommand(PostgresSchema.SelectPartitions, c, tx))
        await using (var r = await q.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                names.Add(r.GetString(0));
            }
        }

        var dropped = new List<string>();
        foreach (string name in names)
        {
            if (!TryParsePartitionDay(name, out var day))
            {
                continue;
            }

            var end = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            if (end <= cutoff)
            {
                await ExecuteAsync(c, tx, PostgresSchema.DropPartition(name), cancellationToken).ConfigureAwait(false);
                dropped.Add(name);
            }
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        lock (_knownLock)
        {
            foreach (string name in dropped)
            {
                if (TryParsePartitionDay(name, out var day))
                {
                    _knownPartitions.Remove(day);
                }
            }
        }

        return dropped;
    }

    /// <summary>Forgets which partitions are known to exist (after an error that may mean they were dropped).</summary>
    public void ForgetPartitions()
    {
        lock (_knownLock)
        {
            _knownPartitions.Clear();
        }
    }

    private static bool TryParsePartitionDay(string name, out DateOnly day) =>
        DateOnly.TryParseExact(name.StartsWith("results_p", StringComparison.Ordinal) ? name["results_p".Length..] : "", "yyyyMMdd",
            CultureInfo.InvariantCulture, DateTimeStyles.None, out day);

    private static async Task LockAsync(NpgsqlConnection c, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(PostgresSchema.Lock, c, tx);
        cmd.Parameters.AddWithValue("key", PostgresSchema.MigrationLockKey);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(NpgsqlConnection c, NpgsqlTransaction tx, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, c, tx);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
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
