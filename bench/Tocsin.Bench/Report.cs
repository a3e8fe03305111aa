using System.Globalization;
using System.Text;

namespace Tocsin.Bench;

/// <summary>Prints the figures for people and writes them as key=value lines for <c>bench/run</c>.</summary>
internal static class Report
{
    public static void Print(BenchOptions o, Figures f)
    {
        var s = new StringBuilder();
        void Line(string label, FormattableString text) =>
            s.Append(CultureInfo.InvariantCulture, $"  {label,-16}").AppendLine(text.ToString(CultureInfo.InvariantCulture));

        s.AppendLine(CultureInfo.InvariantCulture,
            $"== {o.Name}: {o.Checks} {o.CheckNoun} every {Configuration.Duration.Format(o.Interval)} for {f.ElapsedSeconds:F1} s measured after {Configuration.Duration.Format(o.Warmup)} warm-up against {(o.CommandDir is null ? o.Target.ToString() : o.CommandDir)} (max {o.MaxConcurrent} concurrent, timeout {Configuration.Duration.Format(o.EffectiveTimeout)}) ==");
        Line("runs/s", $"{f.AchievedRate:F1} achieved of {o.ScheduledRate:F1} scheduled ({f.AchievedRate / o.ScheduledRate * 100:F1} %); {f.OkRate:F1} OK runs/s");
        Line("schedule lag", $"p50 {f.Lag.Percentile(0.50):F2} ms  p99 {f.Lag.Percentile(0.99):F2} ms  max {f.Lag.MaxMs:F1} ms  (tocsin.scheduler.lag, {f.Lag.Count} runs)");
        Line("", $"p50 {f.StoredLagMs.P50:F0} ms  p99 {f.StoredLagMs.P99:F0} ms  max {f.StoredLagMs.Max:F0} ms  (stored rows started in the window: started_at - scheduled_at, ms resolution)");
        Line("", $"p50 {f.SteadyLagMs.P50:F0} ms  p99 {f.SteadyLagMs.P99:F0} ms  max {f.SteadyLagMs.Max:F0} ms  (stored rows started after the window's first {f.SteadyAfterSeconds:F0} s)");
        Line("run duration", $"p50 {f.RunDuration.Percentile(0.50):F2} ms  p99 {f.RunDuration.Percentile(0.99):F2} ms  max {f.RunDuration.MaxMs:F1} ms");
        Line("results", $"{f.ResultsStored} stored of {f.RunsMade} runs made (whole run, warm-up and stop included): {(f.ResultsStored == f.RunsMade ? "all stored" : "MISSING " + (f.RunsMade - f.ResultsStored))} (writer committed {f.WriterCommitted}); OK {f.Ok}, not OK {f.NotOk}");
        Line("outbox writer", $"{f.WriterBatches} transactions for {f.WriterBatched} results since the window started: {AvgBatch(f):F1} results per transaction");
        if (f.FirstProblem is not null)
        {
            Line("first problem", $"{f.FirstProblem}");
        }

        Line("skipped", $"{f.SkippedOverlap} (previous run still going), {f.SkippedBehind} (fell behind), {f.CancelledByStop} cancelled by the stop; stop took {f.StopSeconds:F2} s");
        Line("CPU", $"{f.Cpu.TotalSeconds:F1} s in the window and the stop ({f.CpuUser.TotalSeconds:F1} user, {(f.Cpu - f.CpuUser).TotalSeconds:F1} system) = {f.Cpu.TotalSeconds / (f.ElapsedSeconds + f.StopSeconds):F2} cores; {CpuPerRunMicros(f):F0} µs per run");
        Line("memory", $"peak RSS {f.PeakRssMb:F0} MB (whole process life; RSS {f.RssBeforeMb:F0} MB before the scheduler started); GC heap {f.GcHeapMb:F0} MB at end; {f.AllocatedMb:F0} MB allocated ({AllocKbPerRun(f):F1} KB per run)");
        Line("GC", $"gen0 {f.GcCollections[0]}, gen1 {f.GcCollections[1]}, gen2 {f.GcCollections[2]}; paused {f.GcPause.TotalMilliseconds:F0} ms in all");
        Line("engine log", $"{f.Warnings} warning(s), {f.Errors} error(s) (counted, not written)");
        foreach (string sample in f.LogSamples)
        {
            Line("", $"{sample}");
        }

        if (f.Export is { } e)
        {
            Line("export", $"{e.BacklogRows} results waiting at the start; exporter beside the load: {e.DrainRate(f.ElapsedSeconds):F0} rows/s until {(e.DrainedAfterSeconds is { } d ? $"the backlog was drained after {d:F1} s" : "the end of the window (backlog NOT drained)")}; {e.ExportedInWindow} rows exported in the window");
            Line("", $"while the backlog drained, the newest result exported was at most {e.MaxStalenessDuringDrainSeconds:F1} s old; the oldest result made during the run waited at most {e.MaxNewWaitDuringDrainSeconds:F1} s then, {e.MaxNewWaitAfterDrainSeconds:F1} s after (sampled every 0.5 s)");
            Line("", $"central {e.CentralRows} rows, {e.CentralDistinct} distinct ids, of {e.BacklogRows + f.RunsMade} (backlog + runs made); outbox pending {e.PendingAfter} after a final flush of {e.FlushSeconds:F1} s: {(ExportedOnce(f, e) ? "every result once" : "MISMATCH")}");
        }

        foreach (var (goal, pass) in Goals(o, f))
        {
            Line("goal", $"{goal}: {(pass ? "MET" : "MISSED")}");
        }

        Console.Write(s.ToString());
    }

    public static void WriteSummary(BenchOptions o, Figures f, string path)
    {
        var values = new (string Key, object Value)[]
        {
            ("name", o.Name),
            ("checks", o.Checks),
            ("interval_s", o.Interval.TotalSeconds),
            ("warmup_s", o.Warmup.TotalSeconds),
            ("duration_s", Math.Round(f.ElapsedSeconds, 1)),
            ("max_concurrent", o.MaxConcurrent),
            ("scheduled_rate", Math.Round(o.ScheduledRate, 1)),
            ("achieved_rate", Math.Round(f.AchievedRate, 1)),
            ("ok_rate", Math.Round(f.OkRate, 1)),
            ("lag_p50_ms", Math.Round(f.Lag.Percentile(0.50), 2)),
            ("lag_p99_ms", Math.Round(f.Lag.Percentile(0.99), 2)),
            ("lag_max_ms", Math.Round(f.Lag.MaxMs, 1)),
            ("stored_lag_p50_ms", f.StoredLagMs.P50),
            ("stored_lag_p99_ms", f.StoredLagMs.P99),
            ("steady_after_s", f.SteadyAfterSeconds),
            ("steady_lag_p50_ms", f.SteadyLagMs.P50),
            ("steady_lag_p99_ms", f.SteadyLagMs.P99),
            ("steady_lag_max_ms", f.SteadyLagMs.Max),
            ("run_p50_ms", Math.Round(f.RunDuration.Percentile(0.50), 2)),
            ("run_p99_ms", Math.Round(f.RunDuration.Percentile(0.99), 2)),
            ("runs_made", f.RunsMade),
            ("results_stored", f.ResultsStored),
            ("all_stored", f.ResultsStored == f.RunsMade ? "yes" : "no"),
            ("not_ok", f.NotOk),
            ("skipped_overlap", f.SkippedOverlap),
            ("skipped_behind", f.SkippedBehind),
            ("cancelled_by_stop", f.CancelledByStop),
            ("writer_batches", f.WriterBatches),
            ("writer_avg_batch", Math.Round(AvgBatch(f), 1)),
            ("cpu_s", Math.Round(f.Cpu.TotalSeconds, 1)),
            ("cpu_cores", Math.Round(f.Cpu.TotalSeconds / (f.ElapsedSeconds + f.StopSeconds), 2)),
            ("cpu_us_per_run", Math.Round(CpuPerRunMicros(f))),
            ("peak_rss_mb", Math.Round(f.PeakRssMb)),
            ("alloc_kb_per_run", Math.Round(AllocKbPerRun(f), 1)),
            ("gc_pause_ms", Math.Round(f.GcPause.TotalMilliseconds)),
        };
        var s = new StringBuilder();
        foreach (var (key, value) in values)
        {
            s.Append(key).Append('=').AppendLine(Convert.ToString(value, CultureInfo.InvariantCulture));
        }

        if (f.Export is { } e)
        {
            foreach (var (key, value) in new (string, object)[]
            {
                ("export_backlog", e.BacklogRows),
                ("export_drain_rate", Math.Round(e.DrainRate(f.ElapsedSeconds))),
                ("export_drained_after_s", e.DrainedAfterSeconds is { } d ? Math.Round(d, 1) : "not drained"),
                ("export_in_window", e.ExportedInWindow),
                ("export_staleness_during_s", Math.Round(e.MaxStalenessDuringDrainSeconds, 1)),
                ("export_new_wait_during_s", Math.Round(e.MaxNewWaitDuringDrainSeconds, 1)),
                ("export_new_wait_after_s", Math.Round(e.MaxNewWaitAfterDrainSeconds, 1)),
                ("export_central", e.CentralRows),
                ("export_distinct", e.CentralDistinct),
                ("export_expected", e.BacklogRows + f.RunsMade),
                ("export_pending_after", e.PendingAfter),
            })
            {
                s.Append(key).Append('=').AppendLine(Convert.ToString(value, CultureInfo.InvariantCulture));
            }
        }

        foreach (var (goal, pass) in Goals(o, f))
        {
            s.Append("goal=").Append(goal).Append(": ").AppendLine(pass ? "MET" : "MISSED");
        }

        File.WriteAllText(path, s.ToString());
    }

    private static bool ExportedOnce(Figures f, ExportFigures e) =>
        e.CentralRows == e.BacklogRows + f.RunsMade && e.CentralDistinct == e.CentralRows && e.PendingAfter == 0;

    private static double AvgBatch(Figures f) => f.WriterBatched / (double)Math.Max(1, f.WriterBatches);

    private static double CpuPerRunMicros(Figures f) => f.Cpu.TotalMilliseconds * 1000 / Math.Max(1, f.RunsSinceWindow);

    private static double AllocKbPerRun(Figures f) => f.AllocatedMb * 1024 / Math.Max(1, f.RunsSinceWindow);

    private static IEnumerable<(string Goal, bool Pass)> Goals(BenchOptions o, Figures f)
    {
        if (o.ExpectP99LagMs is { } lag)
        {
            yield return (string.Create(CultureInfo.InvariantCulture, $"p99 schedule lag < {lag} ms"), f.Lag.Percentile(0.99) < lag);
        }

        if (o.ExpectPeakRssMb is { } rss)
        {
            yield return (string.Create(CultureInfo.InvariantCulture, $"peak RSS < {rss} MB"), f.PeakRssMb < rss);
        }

        yield return ("every result stored", f.ResultsStored == f.RunsMade);
        if (f.Export is { } e)
        {
            yield return ("every result exported once", ExportedOnce(f, e));
        }
    }
}
