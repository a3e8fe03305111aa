using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Checks;
using Tocsin.Configuration;
using Tocsin.Status;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>
/// The helpers of <c>bench/web</c> (issue 5): <c>--web-config</c> writes the agent's configuration,
/// <c>--seed-web</c> fills a new outbox with the checks' history through <see cref="SqliteOutbox.WriteBatch"/>, and
/// <c>--web-profile</c> times, in-process, the pieces that <c>GET /api/v1/checks</c> and
/// <c>GET /api/v1/checks/{name}/results</c> are made of.
/// </summary>
internal static class WebBench
{
    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>--web-config FILE</c>: writes the configuration of <see cref="WebData"/>.</summary>
    public static int WriteConfig(BenchOptions o)
    {
        string file = o.WebConfig ?? throw new ArgumentException("--web-config needs a FILE");
        string db = o.DatabaseFile ?? throw new ArgumentException("--web-config needs --db FILE (the agent's outbox)");
        if (o.TargetPort is not { } target || o.ClosedPort is not { } closed || o.Urls is not { } urls)
        {
            throw new ArgumentException("--web-config needs --target-port, --closed-port and --urls");
        }

        WebData.WriteConfig(file, o.Checks, o.Interval, target, closed, Path.GetFullPath(db), urls);
        var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(file);
        Console.WriteLine(F($"wrote {file}: {config.Checks.Count} checks every {Configuration.Duration.Format(o.Interval)}, {config.Checks.Count(c => c.Public)} public, {config.Checks.Select(c => c.Tags).SelectMany(t => t).Distinct().Count()} tags, {Enumerable.Range(0, o.Checks).Count(WebData.IsFailing)} failing"));
        Console.WriteLine("sample_check=" + WebData.Name(o.Checks / 2));
        return 0;
    }

    /// <summary><c>--seed-web --db FILE</c>: seeds a new outbox, runs the collector once as the agent would, prints the figures.</summary>
    public static int Seed(BenchOptions o)
    {
        string path = o.DatabaseFile ?? throw new ArgumentException("--seed-web needs --db FILE");
        long rows = o.Rows;
        if (rows % o.Checks != 0)
        {
            throw new ArgumentException("--rows must be a multiple of --checks");
        }

        var end = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var lastReport = TimeSpan.Zero;
        long lastRows = 0;
        TimeSpan inWriteBatch;
        using (var outbox = new SqliteOutbox(path))
        {
            inWriteBatch = WebData.Seed(outbox, o.Checks, rows, end, o.Span, o.Batch, n =>
            {
                if (clock.Elapsed - lastReport >= TimeSpan.FromSeconds(15) || n == rows)
                {
                    double rate = (n - lastRows) / (clock.Elapsed - lastReport).TotalSeconds;
                    Console.Error.WriteLine(F($"[seed] {n,9} rows  {rate,7:F0} rows/s now  {n / clock.Elapsed.TotalSeconds,7:F0} rows/s overall  {clock.Elapsed.TotalSeconds,6:F0} s"));
                    lastReport = clock.Elapsed;
                    lastRows = n;
                }
            });
        }

        double seedSeconds = clock.Elapsed.TotalSeconds;
        double seedCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;

        // What a running agent's collector would have done by now (same options as tocsin start with this config):
        // hourly aggregates older than 8 days go, results within localRetention stay.
        var collect = Stopwatch.StartNew();
        CollectionReport report;
        using (var outbox = new SqliteOutbox(path))
        {
            var collector = new Collector(outbox, new CollectorOptions { LocalRetention = TimeSpan.FromDays(35), ExportedOnly = false, MaxOutboxSize = 64L << 30 },
                TimeProvider.System, NullLogger<Collector>.Instance);
            report = collector.CollectOnce();
        }

        SqliteConnection.ClearAllPools();
        double collectSeconds = collect.Elapsed.TotalSeconds;
        long bytes = new FileInfo(path).Length;
        string counts = WebData.Describe(path);
        Console.WriteLine(F($"== seed-web: {rows} results of {o.Checks} checks over the {Configuration.Duration.Format(o.Span)} before {end:u} into {path}"));
        Console.WriteLine(F($"  seed           {seedSeconds:F1} s ({rows / seedSeconds:F0} results/s, batches of {o.Batch}), CPU {seedCpu:F1} s; {inWriteBatch.TotalSeconds:F1} s of it in WriteBatch, the rest making the results"));
        Console.WriteLine(F($"  collector      {collectSeconds:F1} s (deleted {report.Expired} results past retention; hourly aggregates older than 8 days)"));
        Console.WriteLine(F($"  outbox         {bytes / 1048576.0:F0} MB ({report.UsedBytes / 1048576.0:F0} MB used)"));
        Console.WriteLine("  tables         " + counts.Trim().Replace('\n', ' '));
        if (o.SummaryFile is { } summary)
        {
            File.WriteAllText(summary, F($"""
                seed_end={end:O}
                seed_rows={rows}
                seed_checks={o.Checks}
                seed_span={Configuration.Duration.Format(o.Span)}
                seed_batch={o.Batch}
                seed_s={seedSeconds:F1}
                seed_rate={rows / seedSeconds:F0}
                seed_cpu_s={seedCpu:F1}
                seed_writebatch_s={inWriteBatch.TotalSeconds:F1}
                collect_s={collectSeconds:F1}
                outbox_mb={bytes / 1048576.0:F0}

                """) + counts);
        }

        return 0;
    }

    /// <summary>
    /// <c>--web-profile --db FILE --config FILE</c>: times, over <see cref="BenchOptions.Repeat"/> rounds after a warm-up,
    /// each piece of <c>GET /api/v1/checks</c> as <see cref="CheckStatusReader.ReadChecksAsync"/> does it without a central
    /// database (outbox reads, building the views, JSON), and of one check's results page.
    /// </summary>
    public static async Task<int> ProfileAsync(BenchOptions o)
    {
        string db = o.DatabaseFile ?? throw new ArgumentException("--web-profile needs --db FILE");
        string cfg = o.WebConfig ?? throw new ArgumentException("--web-profile needs --web-config FILE (the configuration bench/web wrote)");
        var config = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System)).Load(cfg);
        var checks = config.Checks;
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web); // what ASP.NET Core's minimal APIs use
        using var outbox = new SqliteOutbox(db);
        using var uncached = new SqliteOutbox(db) { UptimeCacheTime = TimeSpan.Zero };
        var reader = new CheckStatusReader(outbox, null, NullLogger<CheckStatusReader>.Instance);
        var now = DateTimeOffset.UtcNow;
        string one = checks[checks.Count / 2].Name;
        var views = (await reader.ReadChecksAsync(checks, CancellationToken.None)).Checks;
        var states = outbox.ReadStates();
        var tracked = states.Values.ToDictionary(s => s.Name, s => s.Tracked!, StringComparer.Ordinal);
        var uptime = outbox.ReadUptime(now);
        var results = outbox.ReadResults(one, null, null, null, 100);
        var resultViews = results.Select(r => ResultView.From(r, outbox.AgentId)).ToList();
        var counting = new CountingStream();

        var pieces = new (string Name, Func<Task> Run)[]
        {
            (F($"SqliteOutbox.ReadStates (check_states ⟕ incidents, {checks.Count:N0} rows → dictionary)"), () => { outbox.ReadStates(); return Task.CompletedTask; }),
            ("SqliteOutbox.ReadUptime, uncached (hourly + daily aggregates)", () => { uncached.ReadUptime(now); return Task.CompletedTask; }),
            ("SqliteOutbox.ReadUptime, cached (as in the agent: refreshed every 10 s off the request)", () => { outbox.ReadUptime(now); return Task.CompletedTask; }),
            ("StatusReport.Build + WithTracking (views, no I/O)", () =>
            {
                var built = StatusReport.Build(checks, states, outbox.AgentId);
                for (int i = 0; i < built.Count; i++)
                {
                    StatusReport.WithTracking(built[i], checks[i], tracked.GetValueOrDefault(checks[i].Name), uptime.GetValueOrDefault(checks[i].Name));
                }

                return Task.CompletedTask;
            }),
            ("CheckStatusReader.ReadChecksAsync, all of the above (cached uptime)", () => reader.ReadChecksAsync(checks, CancellationToken.None)),
            (F($"JSON of the {checks.Count:N0} views (System.Text.Json, web defaults, to a counting stream)"), () => JsonSerializer.SerializeAsync(counting, views, json)),
            ("/api/v1/checks without HTTP: ReadChecksAsync + JSON", async () =>
            {
                var r = await reader.ReadChecksAsync(checks, CancellationToken.None);
                await JsonSerializer.SerializeAsync(counting, r.Checks, json);
            }),
            ($"SqliteOutbox.ReadResults({one}, limit 100)", () => { outbox.ReadResults(one, null, null, null, 100); return Task.CompletedTask; }),
            ("its 100 results → views → JSON", () => JsonSerializer.SerializeAsync(counting, resultViews, json)),
        };

        counting.Reset();
        await JsonSerializer.SerializeAsync(counting, views, json);
        long checksBytes = counting.Length;
        counting.Reset();
        await JsonSerializer.SerializeAsync(counting, resultViews, json);
        long resultsBytes = counting.Length;

        int rounds = o.Repeat;
        Console.WriteLine(F($"== web-profile: the pieces of GET /api/v1/checks ({checks.Count} checks, JSON {checksBytes / 1024.0:F0} KiB) and of one results page (JSON {resultsBytes / 1024.0:F1} KiB), in-process, one thread; {rounds} rounds after 5 warm-up rounds"));
        Console.WriteLine("  piece                                                                               median      p90   alloc/call");
        var summary = new StringBuilder();
        summary.Append(F($"profile_checks_json_bytes={checksBytes}\nprofile_results_json_bytes={resultsBytes}\nprofile_rounds={rounds}\n"));
        int index = 0;
        foreach (var (name, run) in pieces)
        {
            for (int i = 0; i < 5; i++)
            {
                await run();
            }

            var times = new List<double>(rounds);
            long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < rounds; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                await run();
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }

            double alloc = (GC.GetTotalAllocatedBytes(precise: true) - alloc0) / (double)rounds;
            times.Sort();
            double median = times[times.Count / 2], p90 = times[Math.Min(times.Count - 1, (int)Math.Ceiling(times.Count * 0.9) - 1)];
            Console.WriteLine(F($"  {name,-82} {median,7:F2} ms {p90,7:F2} ms {alloc / 1048576.0,8:F2} MB"));
            summary.Append(F($"profile_{index}_name={name}\nprofile_{index}_median_ms={median:F2}\nprofile_{index}_p90_ms={p90:F2}\nprofile_{index}_alloc_mb={alloc / 1048576.0:F2}\n"));
            index++;
        }

        summary.Append(F($"profile_count={index}\n"));
        if (o.SummaryFile is { } file)
        {
            await File.WriteAllTextAsync(file, summary.ToString());
        }

        SqliteConnection.ClearAllPools();
        return 0;
    }

    /// <summary>A write-only stream that counts bytes and keeps none.</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public void Reset() => _length = 0;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _length += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}
