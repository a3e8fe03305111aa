using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tocsin.Export;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>
/// The exporter beside the scheduled load (<c>--pg</c> with <c>--backlog-db</c>): the real <see cref="Exporter"/>
/// drains a backlog copied from a filled outbox while the scheduler produces results into the same file. Watches,
/// twice a second, whether the backlog is drained and how long the newest results wait for export.
/// </summary>
internal sealed class ExportWatch : IAsyncDisposable
{
    private readonly SqliteOutbox _outbox;
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _dbPath;
    private readonly string _backlogMaxId;
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock;
    private Task? _running;
    private Task? _watching;
    private TimeSpan _started;

    private ExportWatch(SqliteOutbox outbox, NpgsqlDataSource dataSource, string dbPath, long backlogRows, string backlogMaxId, Stopwatch clock)
    {
        _outbox = outbox;
        _dataSource = dataSource;
        _dbPath = dbPath;
        BacklogRows = backlogRows;
        _backlogMaxId = backlogMaxId;
        _clock = clock;
        Exporter = new Exporter(outbox, dataSource, new ExporterOptions(), TimeProvider.System, NullLogger<Exporter>.Instance);
    }

    public Exporter Exporter { get; }

    /// <summary>Rows waiting for export when the run started.</summary>
    public long BacklogRows { get; }

    /// <summary>Seconds from <see cref="Start"/> until no row of the backlog waited any more, or null.</summary>
    public double? DrainedAfterSeconds { get; private set; }

    /// <summary>Rows the exporter had exported when the backlog was seen drained (backlog and new rows).</summary>
    public long ExportedAtDrain { get; private set; }

    /// <summary>
    /// How old, at worst, the newest result exported so far among those made during the run was while the
    /// backlog drained (how stale the centre's newest view was), in seconds; sampled every 0.5 s.
    /// </summary>
    public double MaxCentralStalenessDuringDrainSeconds { get; private set; }

    /// <summary>The longest a result made during the run was seen waiting for export while the backlog drained, in seconds.</summary>
    public double MaxNewWaitDuringDrainSeconds { get; private set; }

    /// <summary>The longest a result made during the run was seen waiting for export after the backlog was drained, in seconds.</summary>
    public double MaxNewWaitAfterDrainSeconds { get; private set; }

    /// <summary>Copies the filled outbox <paramref name="backlogDb"/> to <paramref name="dbPath"/> and empties <c>tocsin.results</c>.</summary>
    public static async Task PrepareAsync(string backlogDb, string dbPath, NpgsqlDataSource dataSource)
    {
        File.Copy(backlogDb, dbPath);
        await new CentralDatabase(dataSource).MigrateAsync(CancellationToken.None).ConfigureAwait(false);
        await using var c = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        foreach (string sql in (string[])["TRUNCATE tocsin.results;", "VACUUM ANALYZE tocsin.results;", "CHECKPOINT;"])
        {
            await using var cmd = new NpgsqlCommand(sql, c);
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Creates the watch on the opened outbox; reads the backlog's size and newest id.</summary>
    public static ExportWatch Create(SqliteOutbox outbox, NpgsqlDataSource dataSource, Stopwatch clock)
    {
        string max = Scalar(outbox.Path, "SELECT coalesce(max(id), '') FROM results WHERE exported = 0;") as string ?? "";
        return new ExportWatch(outbox, dataSource, outbox.Path, outbox.ReadExportBacklog().Pending, max, clock);
    }

    /// <summary>Starts the exporter (<see cref="Exporter.RunAsync"/>) and the watch; times count from here.</summary>
    public void Start()
    {
        _started = _clock.Elapsed;
        _running = Task.Run(() => Exporter.RunAsync(_stop.Token));
        _watching = Task.Run(WatchAsync);
    }

    private async Task WatchAsync()
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _dbPath, Mode = SqliteOpenMode.ReadOnly }.ToString());
        c.Open();
        using var oldest = c.CreateCommand();
        oldest.CommandText = "SELECT id FROM results WHERE exported = 0 ORDER BY id LIMIT 1;";
        using var newest = c.CreateCommand();
        newest.CommandText = "SELECT started_at FROM results WHERE exported = 0 AND id > $max ORDER BY id LIMIT 1;";
        newest.Parameters.AddWithValue("$max", _backlogMaxId);
        using var freshest = c.CreateCommand();
        freshest.CommandText = "SELECT started_at FROM results WHERE id > $max AND exported = 1 ORDER BY id DESC LIMIT 1;";
        freshest.Parameters.AddWithValue("$max", _backlogMaxId);
        long startedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(500, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (DrainedAfterSeconds is null && (oldest.ExecuteScalar() is not string id || string.CompareOrdinal(id, _backlogMaxId) > 0))
            {
                DrainedAfterSeconds = (_clock.Elapsed - _started).TotalSeconds;
                ExportedAtDrain = Exporter.RowsExported;
            }

            if (DrainedAfterSeconds is null)
            {
                long nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                long freshMs = freshest.ExecuteScalar() is long f ? f : startedUnixMs;
                MaxCentralStalenessDuringDrainSeconds = Math.Max(MaxCentralStalenessDuringDrainSeconds, (nowMs - freshMs) / 1000.0);
            }

            if (newest.ExecuteScalar() is long startedMs)
            {
                double wait = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - startedMs) / 1000.0;
                if (DrainedAfterSeconds is null)
                {
                    MaxNewWaitDuringDrainSeconds = Math.Max(MaxNewWaitDuringDrainSeconds, wait);
                }
                else
                {
                    MaxNewWaitAfterDrainSeconds = Math.Max(MaxNewWaitAfterDrainSeconds, wait);
                }
            }
        }
    }

    /// <summary>
    /// Stops the exporter, then exports what is left (the writer has stopped) and counts both ends:
    /// rows in <c>tocsin.results</c>, distinct ids there, rows still pending in the outbox.
    /// </summary>
    public async Task<(long Central, long Distinct, long Pending, double FlushSeconds)> FinishAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await (_running ?? Task.CompletedTask).ConfigureAwait(false);
        await (_watching ?? Task.CompletedTask).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        while (await Exporter.FlushAsync(TimeSpan.FromMinutes(2)).ConfigureAwait(false) > 0 && _outbox.ReadExportBacklog().Pending > 0)
        {
        }

        double flush = clock.Elapsed.TotalSeconds;
        await using var c = await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("SELECT count(*), count(DISTINCT id) FROM tocsin.results;", c);
        await using var r = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        await r.ReadAsync().ConfigureAwait(false);
        return (r.GetInt64(0), r.GetInt64(1), _outbox.ReadExportBacklog().Pending, flush);
    }

    private static object? Scalar(string dbPath, string sql)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await (_running ?? Task.CompletedTask).ConfigureAwait(false);
        }
        finally
        {
            Exporter.Dispose();
            _stop.Dispose();
        }
    }

    /// <summary>A one-line summary of the exporter for the progress line.</summary>
    public string Progress() => string.Create(CultureInfo.InvariantCulture, $"exported {Exporter.RowsExported,8}");
}
