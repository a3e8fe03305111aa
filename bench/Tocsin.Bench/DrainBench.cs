using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tocsin.Export;
using Tocsin.Storage.Postgres;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>
/// The export benchmark: fills an outbox (<c>--fill</c>), drains it into PostgreSQL with the real
/// <see cref="Exporter"/>, then copies the same rows with <c>psql \copy</c> (binary) into the same table as the
/// limit, and prints both rates and their ratio (<c>--drain</c>).
/// </summary>
internal static class DrainBench
{
    /// <summary>Fills a new outbox file with <see cref="BenchOptions.Rows"/> realistic results.</summary>
    public static int Fill(BenchOptions o)
    {
        string path = o.DatabaseFile ?? throw new ArgumentException("--fill needs --db FILE");
        var clock = Stopwatch.StartNew();
        var end = DateTimeOffset.UtcNow;
        using (var outbox = new SqliteOutbox(path))
        {
            DrainData.Fill(outbox, o.Rows, end, o.Span, n =>
            {
                if (n % 200_000 == 0)
                {
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[fill] {n,9} rows  {n / clock.Elapsed.TotalSeconds,7:F0} rows/s"));
                }
            });
        }

        SqliteConnection.ClearAllPools();
        long bytes = new FileInfo(path).Length;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"== fill: {o.Rows} results over the {Configuration.Duration.Format(o.Span)} before {end:u} into {path} ({bytes / 1048576.0:F0} MB) in {clock.Elapsed.TotalSeconds:F1} s through SqliteOutbox.WriteBatch =="));
        return 0;
    }

    /// <summary>Runs the exporter over a copy of the filled outbox, then <c>psql \copy</c> of the same rows, <see cref="BenchOptions.Repeat"/> times.</summary>
    public static async Task<int> RunAsync(BenchOptions o)
    {
        string source = o.DatabaseFile ?? throw new ArgumentException("--drain needs --db FILE (made by --fill)");
        string cs = o.Postgres ?? throw new ArgumentException("--drain needs --pg CONNECTION-STRING");
        string dir = Directory.CreateTempSubdirectory("tocsin-drain-").FullName;
        var summary = new StringBuilder();
        bool allOk = true;
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(cs);
            await new CentralDatabase(dataSource).MigrateAsync(CancellationToken.None).ConfigureAwait(false);
            var exporterRates = new List<double>();
            var copyRates = new List<double>();
            for (int round = 1; round <= o.Repeat; round++)
            {
                string work = Path.Combine(dir, "outbox.db");
                File.Copy(source, work, overwrite: true);
                long rows;
                Guid agentId;
                using (var probe = new SqliteOutbox(work))
                {
                    rows = probe.ReadExportBacklog().Pending;
                    agentId = probe.AgentId;
                }

                SqliteConnection.ClearAllPools();

                // (a) the real exporter, as the agent runs it (its default options).
                await ResetCentralAsync(dataSource).ConfigureAwait(false);
                var (seconds, cpu, batches) = await DrainAsync(work, dataSource, rows, o).ConfigureAwait(false);
                var (central, distinct) = await CountCentralAsync(dataSource).ConfigureAwait(false);
                long pending;
                using (var after = new SqliteOutbox(work))
                {
                    pending = after.ReadExportBacklog().Pending;
                }

                SqliteConnection.ClearAllPools();
                bool exact = central == rows && distinct == rows && pending == 0;
                allOk &= exact;
                double rate = rows / seconds;
                exporterRates.Add(rate);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  [{round}] exporter   {rows} rows in {seconds:F2} s = {rate,9:F0} rows/s  (bench process CPU {cpu.TotalSeconds:F1} s = {cpu.TotalSeconds / seconds:F2} cores; {batches})"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  [{round}]            central rows {central}, distinct ids {distinct}, outbox pending {pending}: {(exact ? "every row once" : "MISMATCH")}"));

                // (b) the limit: psql \copy of the same rows (binary, as the exporter sends them) into the same table.
                string file = Path.Combine(dir, "results.copy");
                long written = DrainData.WriteBinaryCopyFile(work, agentId, file);
                await ResetCentralAsync(dataSource).ConfigureAwait(false);
                double copySeconds = await PsqlCopyAsync(o, cs, file).ConfigureAwait(false);
                var (copied, _) = await CountCentralAsync(dataSource).ConfigureAwait(false);
                allOk &= copied == written;
                double copyRate = copied / copySeconds;
                copyRates.Add(copyRate);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  [{round}] psql \\copy {copied} rows in {copySeconds:F2} s = {copyRate,9:F0} rows/s  (binary file of {new FileInfo(file).Length / 1048576.0:F0} MB from the same outbox, straight into tocsin.results)"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{round}] ratio      exporter / COPY = {rate / copyRate:F2}"));
                File.Delete(file);
            }

            double best = exporterRates.Max();
            double bestCopy = copyRates.Max();
            double median = Median(exporterRates);
            double medianCopy = Median(copyRates);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  exporter   median {median:F0} rows/s, best {best:F0} rows/s over {o.Repeat} round(s)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  psql \\copy median {medianCopy:F0} rows/s, best {bestCopy:F0} rows/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ratio      {median / medianCopy:F2} (medians)"));
            Console.WriteLine($"  goal       exporter >= 100,000 rows/s: {(median >= 100_000 ? "MET" : "MISSED")}");
            Console.WriteLine($"  goal       exporter / COPY >= 0.5: {(median / medianCopy >= 0.5 ? "MET" : "MISSED")}");
            Console.WriteLine($"  goal       every row exported once: {(allOk ? "MET" : "MISSED")}");
            summary.AppendLine(CultureInfo.InvariantCulture, $"rounds={exporterRates.Count}")
                .AppendLine(CultureInfo.InvariantCulture, $"exporter_rate={median:F0}")
                .AppendLine(CultureInfo.InvariantCulture, $"exporter_rates={string.Join(" / ", exporterRates.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}")
                .AppendLine(CultureInfo.InvariantCulture, $"copy_rate={medianCopy:F0}")
                .AppendLine(CultureInfo.InvariantCulture, $"copy_rates={string.Join(" / ", copyRates.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}")
                .AppendLine(CultureInfo.InvariantCulture, $"ratio={median / medianCopy:F2}")
                .AppendLine(CultureInfo.InvariantCulture, $"exact={(allOk ? "yes" : "no")}");
            if (o.SummaryFile is not null)
            {
                await File.WriteAllTextAsync(o.SummaryFile, summary.ToString()).ConfigureAwait(false);
            }

            return allOk ? 0 : 2;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Median(List<double> values)
    {
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>Drains the outbox at <paramref name="path"/> with <see cref="Exporter.RunAsync"/>; returns the wall time, this process's CPU, and the batch sizes seen.</summary>
    private static async Task<(double Seconds, TimeSpan Cpu, string Batches)> DrainAsync(string path, NpgsqlDataSource dataSource, long rows, BenchOptions o)
    {
        using var outbox = new SqliteOutbox(path);
        using var exporter = new Exporter(outbox, dataSource, new ExporterOptions(), TimeProvider.System, NullLogger<Exporter>.Instance);
        using var self = Process.GetCurrentProcess();
        using var stop = new CancellationTokenSource();
        self.Refresh();
        var cpu0 = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var running = Task.Run(() => exporter.RunAsync(stop.Token));
        var sizes = new SortedSet<int>();
        long last = 0;
        double lastT = 0;
        var nextReport = TimeSpan.FromSeconds(2);
        while (exporter.RowsExported < rows)
        {
            if (running.IsCompleted || clock.Elapsed > TimeSpan.FromMinutes(10))
            {
                break;
            }

            await Task.Delay(5).ConfigureAwait(false);
            sizes.Add(exporter.CurrentBatchSize);
            if (o.Progress > TimeSpan.Zero && clock.Elapsed >= nextReport)
            {
                double t = clock.Elapsed.TotalSeconds;
                long now = exporter.RowsExported;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[drain] t={t,5:F1}s  {now,8} exported  {(now - last) / (t - lastT),8:F0} rows/s  batch {exporter.CurrentBatchSize}"));
                (last, lastT) = (now, t);
                nextReport += o.Progress;
            }
        }

        double seconds = clock.Elapsed.TotalSeconds;
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpu0;
        await stop.CancelAsync().ConfigureAwait(false);
        await running.ConfigureAwait(false);
        return (seconds, cpu, "batch sizes " + string.Join(", ", sizes));
    }

    private static async Task ResetCentralAsync(NpgsqlDataSource dataSource)
    {
        await using var c = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        foreach (string sql in (string[])["TRUNCATE tocsin.results;", "VACUUM ANALYZE tocsin.results;", "CHECKPOINT;"])
        {
            await using var cmd = new NpgsqlCommand(sql, c);
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    private static async Task<(long Rows, long Distinct)> CountCentralAsync(NpgsqlDataSource dataSource)
    {
        await using var c = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("SELECT count(*), count(DISTINCT id) FROM tocsin.results;", c);
        await using var r = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        await r.ReadAsync().ConfigureAwait(false);
        return (r.GetInt64(0), r.GetInt64(1));
    }

    /// <summary>Runs <c>psql \copy tocsin.results FROM file (FORMAT binary)</c> and returns its wall time in seconds.</summary>
    private static async Task<double> PsqlCopyAsync(BenchOptions o, string cs, string file)
    {
        var b = new NpgsqlConnectionStringBuilder(cs);
        var psi = new ProcessStartInfo(o.Psql) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in (string[])["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", b.Host ?? "127.0.0.1", "-p", b.Port.ToString(CultureInfo.InvariantCulture),
                     "-U", b.Username ?? "postgres", "-d", b.Database ?? "postgres",
                     "-c", $"\\copy tocsin.results ({DrainData.CopyColumns}) FROM '{file}' WITH (FORMAT binary)"])
        {
            psi.ArgumentList.Add(a);
        }

        if (b.Password is { Length: > 0 } password)
        {
            psi.Environment["PGPASSWORD"] = password;
        }

        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {o.Psql}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"psql \\copy exited {p.ExitCode}: {await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
        }

        return seconds;
    }
}
