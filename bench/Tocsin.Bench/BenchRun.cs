using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using Tocsin.Checks;
using Tocsin.Checks.Command;
using Tocsin.Checks.Http;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>Everything one benchmark run measured.</summary>
internal sealed record Figures
{
    public required double ElapsedSeconds { get; init; }

    public required long RunsInWindow { get; init; }

    public required long OkInWindow { get; init; }

    public required long RunsSinceWindow { get; init; }

    public required long RunsMade { get; init; }

    public required long ResultsStored { get; init; }

    public required long WriterCommitted { get; init; }

    public required long Ok { get; init; }

    public required long NotOk { get; init; }

    public required string? FirstProblem { get; init; }

    public required long SkippedOverlap { get; init; }

    public required long SkippedBehind { get; init; }

    public required long CancelledByStop { get; init; }

    public required LatencyHistogram Lag { get; init; }

    public required LatencyHistogram RunDuration { get; init; }

    public required (double P50, double P99, double Max) StoredLagMs { get; init; }

    /// <summary>Lag of the stored rows that started after the first <see cref="SteadyAfterSeconds"/> of the window.</summary>
    public required (double P50, double P99, double Max) SteadyLagMs { get; init; }

    public required double SteadyAfterSeconds { get; init; }

    public required double StopSeconds { get; init; }

    /// <summary>Outbox transactions committed from the window's start to the end.</summary>
    public required long WriterBatches { get; init; }

    public required long WriterBatched { get; init; }

    public required TimeSpan Cpu { get; init; }

    public required TimeSpan CpuUser { get; init; }

    public required double RssBeforeMb { get; init; }

    public required double PeakRssMb { get; init; }

    public required double GcHeapMb { get; init; }

    public required double AllocatedMb { get; init; }

    public required int[] GcCollections { get; init; }

    public required TimeSpan GcPause { get; init; }

    public required long Warnings { get; init; }

    public required long Errors { get; init; }

    public required IReadOnlyList<string> LogSamples { get; init; }

    /// <summary>The exporter beside the load (with <c>--pg</c> and <c>--backlog-db</c>), or null.</summary>
    public ExportFigures? Export { get; init; }

    public double AchievedRate => RunsInWindow / ElapsedSeconds;

    public double OkRate => OkInWindow / ElapsedSeconds;
}

/// <summary>What the exporter did beside the scheduled load.</summary>
internal sealed record ExportFigures(
    long BacklogRows, double? DrainedAfterSeconds, long ExportedAtDrain, long ExportedInWindow, double MaxStalenessDuringDrainSeconds, double MaxNewWaitDuringDrainSeconds,
    double MaxNewWaitAfterDrainSeconds, long CentralRows, long CentralDistinct, long PendingAfter, double FlushSeconds)
{
    /// <summary>Rows per second until the backlog was drained, or over the window when it was not.</summary>
    public double DrainRate(double windowSeconds) =>
        DrainedAfterSeconds is { } s && s > 0 ? ExportedAtDrain / s : ExportedInWindow / windowSeconds;
}

/// <summary>Builds the engine exactly as <c>tocsin start</c> composes it (minus the web server) and runs it.</summary>
internal static class BenchRun
{
    public static async Task<Figures> RunAsync(BenchOptions o, string dbPath)
    {
        var time = TimeProvider.System;
        var logs = new LogCounter();
        using var listener = new EngineMetricsListener();
        using var metrics = new TocsinMetrics();
        var kinds = o.MaxProcesses is { } maxProcesses
            ? new CheckKindRegistry([new HttpCheckKind(new HttpCheckRunner(time)), new CommandCheckKind(time, new CommandRunnerOptions { MaxProcesses = maxProcesses })])
            : CheckKinds.CreateDefault(time);
        var checks = BuildChecks(o);
        await using var central = o.Postgres is { } cs && o.BacklogDb is not null ? NpgsqlDataSource.Create(cs) : null;
        if (central is not null)
        {
            await ExportWatch.PrepareAsync(o.BacklogDb!, dbPath, central).ConfigureAwait(false);
        }

        using var outbox = new SqliteOutbox(dbPath);
        var writer = new ResultWriter(outbox, new ResultWriterOptions(), time, metrics, logs.For<ResultWriter>());
        var sink = new CountingSink(writer);
        var executor = new CheckExecutor(kinds, time, metrics, logs.For<CheckExecutor>());
        using var scheduler = new Scheduler(
            checks, executor, sink, new SchedulerOptions { MaxConcurrentRuns = o.MaxConcurrent }, time, metrics, logs.For<Scheduler>());

        GC.Collect();
        double rssBefore = ProcStatus.ReadMb("VmRSS");
        using var self = Process.GetCurrentProcess();

        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{o.Name}] {o.Checks} {o.CheckNoun} every {Configuration.Duration.Format(o.Interval)} ({o.ScheduledRate:F0} runs/s scheduled) "
            + $"for {Configuration.Duration.Format(o.Warmup)} warm-up + {Configuration.Duration.Format(o.Duration)} measured against {(o.CommandDir is null ? o.Target.ToString() : o.CommandDir)}, "
            + $"max {o.MaxConcurrent} concurrent, outbox {dbPath}"));
        using var stopping = new CancellationTokenSource();
        writer.Start();
        var clock = Stopwatch.StartNew();
        await using var export = central is null ? null : ExportWatch.Create(outbox, central, clock);
        var running = Task.Run(() => scheduler.RunAsync(stopping.Token));

        if (o.Warmup > TimeSpan.Zero)
        {
            await ProgressAsync(o, o.Warmup, "warm-up", clock, sink, scheduler, writer, listener, self, export).ConfigureAwait(false);
        }

        // The measured window starts here: fresh histograms and counter baselines. The exporter starts with it,
        // after the warm-up's checking, as when PostgreSQL comes back to an agent that kept checking.
        if (export is not null)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{o.Name}] exporter starts beside the load: {export.BacklogRows} results waiting in the outbox (copied from {o.BacklogDb})"));
            export.Start();
        }

        listener.StartWindow();
        var commits0 = listener.Commits;
        var w = Snapshot.Take(self, sink, clock);
        long exported0 = export?.Exporter.RowsExported ?? 0;
        await ProgressAsync(o, o.Warmup + o.Duration, "measure", clock, sink, scheduler, writer, listener, self, export).ConfigureAwait(false);
        long exportedInWindow = (export?.Exporter.RowsExported ?? 0) - exported0;
        long runsInWindow = sink.Count - w.Runs;
        long okInWindow = sink.CountOf(CheckState.OK) - w.Ok;
        double windowSeconds = clock.Elapsed.TotalSeconds - w.Seconds;

        await stopping.CancelAsync().ConfigureAwait(false);
        await running.ConfigureAwait(false);
        await writer.StopAsync().ConfigureAwait(false);
        double stopSeconds = clock.Elapsed.TotalSeconds - w.Seconds - windowSeconds;

        var end = Snapshot.Take(self, sink, clock);
        var commits = listener.Commits;
        ExportFigures? exportFigures = null;
        if (export is not null)
        {
            var (rows, distinct, pending, flush) = await export.FinishAsync().ConfigureAwait(false);
            exportFigures = new ExportFigures(
                export.BacklogRows, export.DrainedAfterSeconds, export.ExportedAtDrain, exportedInWindow, export.MaxCentralStalenessDuringDrainSeconds,
                export.MaxNewWaitDuringDrainSeconds,
                export.MaxNewWaitAfterDrainSeconds, rows, distinct, pending, flush);
        }

        return new Figures
        {
            ElapsedSeconds = windowSeconds,
            RunsInWindow = runsInWindow,
            OkInWindow = okInWindow,
            RunsSinceWindow = end.Runs - w.Runs,
            RunsMade = sink.Count,
            ResultsStored = outbox.CountResults() - (export?.BacklogRows ?? 0),
            WriterCommitted = writer.Written,
            Ok = sink.CountOf(CheckState.OK),
            NotOk = sink.Count - sink.CountOf(CheckState.OK),
            FirstProblem = sink.FirstProblem,
            SkippedOverlap = scheduler.RunsSkippedOverlap,
            SkippedBehind = scheduler.RunsSkippedBehind,
            CancelledByStop = scheduler.RunsCancelled,
            Lag = listener.Lag,
            RunDuration = listener.RunDuration,
            StoredLagMs = StoredLag(dbPath, w.UnixMs),
            SteadyLagMs = StoredLag(dbPath, w.UnixMs + (long)(SteadyAfter(o).TotalMilliseconds)),
            SteadyAfterSeconds = SteadyAfter(o).TotalSeconds,
            StopSeconds = stopSeconds,
            WriterBatches = commits.Batches - commits0.Batches,
            WriterBatched = commits.Results - commits0.Results,
            Cpu = end.Cpu - w.Cpu,
            CpuUser = end.CpuUser - w.CpuUser,
            RssBeforeMb = rssBefore,
            PeakRssMb = ProcStatus.ReadMb("VmHWM"),
            GcHeapMb = GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0,
            AllocatedMb = (end.Allocated - w.Allocated) / 1048576.0,
            GcCollections = [end.Gc0 - w.Gc0, end.Gc1 - w.Gc1, end.Gc2 - w.Gc2],
            GcPause = end.GcPause - w.GcPause,
            Warnings = logs.CountOf(Microsoft.Extensions.Logging.LogLevel.Warning),
            Errors = logs.CountOf(Microsoft.Extensions.Logging.LogLevel.Error) + logs.CountOf(Microsoft.Extensions.Logging.LogLevel.Critical),
            LogSamples = [.. logs.Samples],
            Export = exportFigures,
        };
    }

    /// <summary>Start-up (JIT tiering, the first interval's burst) is over by then: 15 s, or a quarter of a shorter window.</summary>
    private static TimeSpan SteadyAfter(BenchOptions o) =>
        TimeSpan.FromSeconds(Math.Min(15, Math.Floor(o.Duration.TotalSeconds / 4)));

    private static List<CheckDefinition> BuildChecks(BenchOptions o)
    {
        var list = new List<CheckDefinition>(o.Checks);
        if (o.CommandDir is { } dir)
        {
            string[] scripts = [.. Directory.EnumerateFiles(Path.GetFullPath(dir)).Order(StringComparer.Ordinal)];
            if (scripts.Length == 0)
            {
                throw new ArgumentException($"--command-dir {dir} has no files");
            }

            for (int i = 0; i < o.Checks; i++)
            {
                var command = new CommandCheckOptions([scripts[i % scripts.Length]], false, null, new Dictionary<string, string>(StringComparer.Ordinal));
                list.Add(new CheckDefinition($"promise-{i:D6}", CommandCheckKind.KindName, o.Interval, o.EffectiveTimeout, command) { Index = i });
            }

            return list;
        }

        var http = new HttpCheckOptions { Url = o.Target }; // fresh connection per run: the default
        for (int i = 0; i < o.Checks; i++)
        {
            list.Add(new CheckDefinition($"bench-{i:D6}", "http", o.Interval, o.EffectiveTimeout, http) { Index = i });
        }

        return list;
    }

    private static async Task ProgressAsync(
        BenchOptions o, TimeSpan until, string phase, Stopwatch clock, CountingSink sink, Scheduler scheduler, ResultWriter writer,
        EngineMetricsListener listener, Process self, ExportWatch? export)
    {
        long lastRuns = sink.Count;
        double lastT = clock.Elapsed.TotalSeconds;
        self.Refresh();
        var lastCpu = self.TotalProcessorTime;
        while (clock.Elapsed < until)
        {
            var left = until - clock.Elapsed;
            var step = o.Progress > TimeSpan.Zero && o.Progress < left ? o.Progress : left;
            if (step > TimeSpan.Zero)
            {
                await Task.Delay(step).ConfigureAwait(false);
            }

            if (o.Progress <= TimeSpan.Zero || clock.Elapsed >= until)
            {
                continue;
            }

            double t = clock.Elapsed.TotalSeconds;
            long runs = sink.Count;
            self.Refresh();
            var cpuNow = self.TotalProcessorTime;
            string exported = export is null ? "" : "  " + export.Progress();
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{o.Name}] {phase,-7} t={t,5:F1}s  {(runs - lastRuns) / (t - lastT),7:F0} runs/s  in flight {scheduler.InFlight,5}  "
                + $"queued {writer.Queued,5}  stored {writer.Written,8}  max lag {listener.Lag.TakeWindowMaxMs(),8:F1} ms  "
                + $"CPU {(cpuNow - lastCpu).TotalSeconds / (t - lastT) * 100,4:F0} %  RSS {ProcStatus.ReadMb("VmRSS"),5:F0} MB{exported}"));
            (lastRuns, lastT, lastCpu) = (runs, t, cpuNow);
        }
    }

    /// <summary>Lag percentiles from the stored rows: started_at − scheduled_at, both Unix ms.</summary>
    private static (double, double, double) StoredLag(string dbPath, long fromUnixMs)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM results WHERE started_at >= $from;";
        cmd.Parameters.AddWithValue("$from", fromUnixMs);
        long n = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        if (n == 0)
        {
            return (double.NaN, double.NaN, double.NaN);
        }

        double At(double p)
        {
            cmd.CommandText = "SELECT started_at - scheduled_at AS lag FROM results WHERE started_at >= $from ORDER BY lag LIMIT 1 OFFSET $k;";
            cmd.Parameters.Clear();
            cmd.Parameters.AddWithValue("$from", fromUnixMs);
            cmd.Parameters.AddWithValue("$k", Math.Max(0, (long)Math.Ceiling(p * n) - 1));
            return Convert.ToDouble(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        return (At(0.50), At(0.99), At(1.0));
    }
}

/// <summary>Counters at one moment, to subtract.</summary>
internal sealed record Snapshot(
    double Seconds, long UnixMs, long Runs, long Ok, TimeSpan Cpu, TimeSpan CpuUser, long Allocated, int Gc0, int Gc1, int Gc2, TimeSpan GcPause)
{
    public static Snapshot Take(Process self, CountingSink sink, Stopwatch clock)
    {
        self.Refresh();
        return new Snapshot(
            clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), sink.Count, sink.CountOf(CheckState.OK),
            self.TotalProcessorTime, self.UserProcessorTime, GC.GetTotalAllocatedBytes(),
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
    }
}

/// <summary>Reads this process's memory figures from /proc/self/status.</summary>
internal static class ProcStatus
{
    /// <summary>A <c>kB</c> field of /proc/self/status (VmRSS, VmHWM) in MB; falls back to the Process API off Linux.</summary>
    public static double ReadMb(string field)
    {
        const string path = "/proc/self/status";
        if (File.Exists(path))
        {
            foreach (string line in File.ReadLines(path))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    string kb = line[(field.Length + 1)..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
                }
            }
        }

        using var p = Process.GetCurrentProcess();
        return (field == "VmHWM" ? p.PeakWorkingSet64 : p.WorkingSet64) / 1048576.0;
    }
}

/// <summary>Makes sure the target answers before load is put on it.</summary>
internal static class Preflight
{
    public static async Task<string?> CheckTargetAsync(Uri target)
    {
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            using var response = await client.GetAsync(target).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? null : $"status {(int)response.StatusCode}";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return ex.Message;
        }
    }
}
