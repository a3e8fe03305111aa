using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Tocsin.Checks;
using Tocsin.Checks.Http;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>
/// <c>--parts</c>: measures the engine's pieces one at a time, to see where the CPU of a run goes:
/// the outbox write alone, the http runner alone (no scheduler, no writer), and a plain shared
/// <see cref="HttpClient"/> doing the same request with a new connection each time (the floor).
/// </summary>
internal static class Parts
{
    public static async Task RunAsync(BenchOptions o)
    {
        var summary = new List<string>();
        var seconds = o.Duration.TotalSeconds;
        var concurrency = Math.Min(o.MaxConcurrent, 64);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"== parts: each piece alone, {concurrency} concurrent loops for {seconds:F0} s against {o.Target} =="));
        Outbox(summary);

        using var runner = new HttpCheckRunner(TimeProvider.System);
        var check = new CheckDefinition("parts", "http", o.Interval, o.EffectiveTimeout, new HttpCheckOptions { Url = o.Target });
        await LoopAsync("runner", "HttpCheckRunner.RunAsync (fresh handler per run)", summary, o.Duration, concurrency, async () =>
        {
            var outcome = await runner.RunAsync(check, CancellationToken.None).ConfigureAwait(false);
            return outcome.State == CheckState.OK;
        }).ConfigureAwait(false);

        using var handler = new SocketsHttpHandler { UseProxy = false, UseCookies = false, PooledConnectionLifetime = TimeSpan.Zero };
        using var client = new HttpClient(handler);
        await LoopAsync("floor", "shared HttpClient, Connection: close", summary, o.Duration, concurrency, async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, o.Target);
            request.Headers.ConnectionClose = true;
            using var response = await client.SendAsync(request).ConfigureAwait(false);
            await response.Content.CopyToAsync(Stream.Null).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }).ConfigureAwait(false);

        if (o.SummaryFile is not null)
        {
            await File.WriteAllLinesAsync(o.SummaryFile, summary).ConfigureAwait(false);
        }
    }

    private static void Outbox(List<string> summary)
    {
        // Batches of 2,000 (the writer's most, when results pile up) and of 1 (when they trickle in).
        OutboxWith(summary, "outbox", batches: 50, batchSize: 2_000);
        OutboxWith(summary, "outbox1", batches: 5_000, batchSize: 1);
    }

    private static void OutboxWith(List<string> summary, string key, int batches, int batchSize)
    {
        var dir = Directory.CreateTempSubdirectory("tocsin-bench-parts-");
        try
        {
            using (var outbox = new SqliteOutbox(Path.Combine(dir.FullName, "outbox.db")))
            {
                var now = DateTimeOffset.UtcNow;
                var all = new List<CheckResult[]>(batches);
                for (int b = 0; b < batches; b++)
                {
                    var batch = new CheckResult[batchSize];
                    for (int i = 0; i < batchSize; i++)
                    {
                        var details = new JsonObject { ["remoteAddress"] = "127.0.0.1", ["dnsMs"] = 0.002, ["connectMs"] = 0.1, ["ttfbMs"] = 0.8, ["totalMs"] = 0.9, ["bodyBytes"] = 52, ["httpVersion"] = "1.1" };
                        batch[i] = new CheckResult(Guid.CreateVersion7(now), $"bench-{((b * batchSize) + i) % 10_000:D6}", "http", CheckState.OK, now, now, now, 0.9, 200, "status 200 in 1 ms", details);
                    }

                    all.Add(batch);
                }

                var (cpu, wall) = Measure(() =>
                {
                    foreach (var batch in all)
                    {
                        outbox.WriteBatch(batch);
                    }
                });
                int n = batches * batchSize;
                string label = string.Create(CultureInfo.InvariantCulture, $"SqliteOutbox.WriteBatch ({batchSize:N0} per batch)");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {label,-48} {n / wall.TotalSeconds,9:F0} results/s  {cpu.TotalMilliseconds * 1000 / n,6:F1} µs CPU per result"));
                summary.Add(string.Create(CultureInfo.InvariantCulture, $"{key}_per_s={n / wall.TotalSeconds:F0}"));
                summary.Add(string.Create(CultureInfo.InvariantCulture, $"{key}_us={cpu.TotalMilliseconds * 1000 / n:F1}"));
            }

            SqliteConnection.ClearAllPools();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task LoopAsync(string key, string label, List<string> summary, TimeSpan duration, int concurrency, Func<Task<bool>> once)
    {
        // A short warm-up so the JIT's tiering does not count.
        await RunLoopsAsync(TimeSpan.FromSeconds(3), concurrency, once).ConfigureAwait(false);
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        long alloc0 = GC.GetTotalAllocatedBytes();
        var clock = Stopwatch.StartNew();
        var (ok, failed) = await RunLoopsAsync(duration, concurrency, once).ConfigureAwait(false);
        double wall = clock.Elapsed.TotalSeconds;
        self.Refresh();
        double cpuMs = (self.TotalProcessorTime - cpu0).TotalMilliseconds;
        long n = ok + failed;
        double kb = (GC.GetTotalAllocatedBytes() - alloc0) / 1024.0 / Math.Max(1, n);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {label,-48} {n / wall,9:F0} runs/s     {cpuMs * 1000 / Math.Max(1, n),6:F0} µs CPU per run  {kb,5:F1} KB allocated per run  ({failed} failed)"));
        summary.Add(string.Create(CultureInfo.InvariantCulture, $"{key}_per_s={n / wall:F0}"));
        summary.Add(string.Create(CultureInfo.InvariantCulture, $"{key}_us={cpuMs * 1000 / Math.Max(1, n):F0}"));
        summary.Add(string.Create(CultureInfo.InvariantCulture, $"{key}_kb={kb:F1}"));
        summary.Add(string.Create(CultureInfo.InvariantCulture, $"{key}_failed={failed}"));
    }

    private static async Task<(long Ok, long Failed)> RunLoopsAsync(TimeSpan duration, int concurrency, Func<Task<bool>> once)
    {
        long ok = 0, failed = 0;
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                bool good;
                try
                {
                    good = await once().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                    good = false;
                }

                Interlocked.Increment(ref good ? ref ok : ref failed);
            }
        }));
        await Task.WhenAll(loops).ConfigureAwait(false);
        return (ok, failed);
    }

    private static (TimeSpan Cpu, TimeSpan Wall) Measure(Action action)
    {
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        action();
        var wall = clock.Elapsed;
        self.Refresh();
        return (self.TotalProcessorTime - cpu0, wall);
    }
}
