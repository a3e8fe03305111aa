using System.Globalization;
using Npgsql;

namespace Tocsin.Storage.Postgres;

/// <summary>
/// The day partitions (UTC) of one table of schema <c>tocsin</c> range-partitioned on a <c>timestamptz</c>: partition
/// <c>{table}_pYYYYMMDD</c> holds <c>[day 00:00, next day 00:00)</c>. Creations and drops run in short transactions holding
/// <see cref="PostgresSchema.MigrationLockKey"/>, so replicas doing them at once do each once. Remembers the days it knows to
/// exist, so ensuring them again costs nothing; <see cref="Forget"/> after an error that may mean another replica dropped one.
/// Thread-safe. Methods throw <see cref="NpgsqlException"/> when PostgreSQL cannot be reached or refuses a statement.
/// </summary>
internal sealed class DayPartitions
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _prefix;
    private readonly HashSet<DateOnly> _known = [];
    private readonly Lock _knownLock = new();

    /// <summary>For <c>tocsin.<paramref name="table"/></c> (a constant name of <see cref="PostgresSchema"/>: lower-case letters and <c>_</c>).</summary>
    public DayPartitions(NpgsqlDataSource dataSource, string table)
    {
        if (table.Length == 0 || !table.All(c => c is (>= 'a' and <= 'z') or '_'))
        {
            throw new ArgumentException("a table name of lower-case letters and '_' is needed", nameof(table));
        }

        _dataSource = dataSource;
        Table = table;
        _prefix = table + "_p";
    }

    /// <summary>The partitioned table's name in schema <c>tocsin</c>.</summary>
    public string Table { get; }

    /// <summary>The partition name for a UTC day: <c>{table}_pYYYYMMDD</c>.</summary>
    public static string NameOf(string table, DateOnly day) => table + "_p" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    /// <summary>The UTC day of <paramref name="time"/>, whose partition holds it.</summary>
    public static DateOnly DayOf(DateTimeOffset time) => DateOnly.FromDateTime(time.UtcDateTime);

    /// <summary>
    /// Makes sure a partition exists for each of <paramref name="days"/>. Days already known to exist cost nothing; the others
    /// are created (if absent) in one transaction.
    /// </summary>
    public async Task EnsureAsync(IEnumerable<DateOnly> days, CancellationToken cancellationToken)
    {
        List<DateOnly> missing;
        lock (_knownLock)
        {
            missing = days.Distinct().Where(d => !_known.Contains(d)).Order().ToList();
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
            await ExecuteAsync(c, tx, PostgresSchema.CreatePartition(Table, NameOf(Table, day), day), cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        lock (_knownLock)
        {
            _known.UnionWith(missing);
        }
    }

    /// <summary>
    /// Drops, in one transaction, every partition whose whole day ends at or before <paramref name="cutoff"/>. Returns what was
    /// dropped, with each partition's row count: PostgreSQL's estimate (<c>pg_class.reltuples</c>, kept by ANALYZE and
    /// autovacuum) when there is one, else counted before the drop (a partition never analysed has few rows).
    /// </summary>
    public async Task<IReadOnlyList<DroppedPartition>> DropOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockAsync(c, tx, cancellationToken).ConfigureAwait(false);
        var old = new List<(string Name, DateOnly Day, long Estimate)>();
        await using (var q = new NpgsqlCommand(PostgresSchema.SelectPartitions, c, tx))
        {
            q.Parameters.AddWithValue("parent", "tocsin." + Table);
            await using var r = await q.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                string name = r.GetString(0);
                if (TryParseDay(name, out var day) && new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) <= cutoff)
                {
                    old.Add((name, day, (long)r.GetFloat(1)));
                }
            }
        }

        var dropped = new List<DroppedPartition>(old.Count);
        foreach (var (name, day, estimate) in old.OrderBy(p => p.Day))
        {
            long rows = estimate;
            if (estimate < 0)
            {
                await using var count = new NpgsqlCommand($"SELECT count(*) FROM tocsin.{name};", c, tx);
                rows = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            await ExecuteAsync(c, tx, PostgresSchema.DropPartition(name), cancellationToken).ConfigureAwait(false);
            dropped.Add(new DroppedPartition(name, day, rows));
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        lock (_knownLock)
        {
            _known.ExceptWith(dropped.Select(d => d.Day));
        }

        return dropped;
    }

    /// <summary>Forgets which partitions are known to exist (after an error that may mean they were dropped).</summary>
    public void Forget()
    {
        lock (_knownLock)
        {
            _known.Clear();
        }
    }

    private bool TryParseDay(string name, out DateOnly day) =>
        DateOnly.TryParseExact(name.StartsWith(_prefix, StringComparison.Ordinal) ? name[_prefix.Length..] : "", "yyyyMMdd",
            CultureInfo.InvariantCulture, DateTimeStyles.None, out day);

    /// <summary>Takes the transaction-level advisory lock of migrations and partition changes.</summary>
    public static async Task LockAsync(NpgsqlConnection c, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(PostgresSchema.Lock, c, tx);
        cmd.Parameters.AddWithValue("key", PostgresSchema.MigrationLockKey);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="sql"/> (no parameters) in <paramref name="tx"/>.</summary>
    public static async Task ExecuteAsync(NpgsqlConnection c, NpgsqlTransaction tx, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, c, tx);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A day partition that was dropped.</summary>
/// <param name="Name">Its name (<c>{table}_pYYYYMMDD</c>).</param>
/// <param name="Day">The UTC day it held.</param>
/// <param name="Rows">Its rows: PostgreSQL's estimate, or the exact count for a partition never analysed.</param>
internal sealed record DroppedPartition(string Name, DateOnly Day, long Rows);
