using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Tocsin.Bench;

/// <summary>
/// The ingestion benchmark's client side (bench/ingest, issue 9): <c>tocsin-bench ingest load|copy|idle …</c>.
/// <list type="bullet">
/// <item><c>load</c>: <c>--connections M</c> WebSockets to <c>--url</c> (one token each from <c>--tokens FILE</c>, sent as
/// <c>Authorization: Bearer</c>), each keeping up to <c>--in-flight K</c> <c>uploadLogs</c> frames of <c>--batch N</c> rows
/// (seed 002's frame) waiting for their answer, for <c>--duration D</c> after <c>--warmup D</c>; with <c>--rate R</c> the
/// connections together send about R rows/s (else as fast as answers come). Prints acknowledged rows/s, the ack latency
/// (send → <c>success:true</c>) p50/p99/max, and failures, as <c>key=value</c> lines; with <c>--metrics URL</c> (the
/// server's /metrics) also the server's queue wait, commit and ack durations over the measured window (count, mean, and
/// the histogram bucket bound under which p50/p99 fall) and its transactions.</item>
/// <item><c>copy</c>: the limit: <c>--rows N</c> rows of the same shape written by binary COPY straight into
/// <c>tocsin.ingest_logs</c> of <c>--pg CS</c> in <c>--batch N</c>-row COPYs, one connection, each in its own transaction;
/// prints rows/s and the latency of one COPY + commit (p50, p99).</item>
/// <item><c>idle</c>: opens <c>--connections M</c> authenticated WebSockets, answers one <c>ping</c> each, holds them
/// <c>--hold D</c>, prints how many opened; the script reads the server's RSS meanwhile.</item>
/// </list>
/// </summary>
internal static class IngestBench
{
    private static readonly string[] Senders = ["dns", "dhcp", "firewall", "watchdog", "updater", "scanner"];

    public static async Task<int> RunAsync(string[] args)
    {
        var a = Args.Parse(args);
        return args.FirstOrDefault() switch
        {
            "load" => await LoadAsync(a).ConfigureAwait(false),
            "copy" => await CopyAsync(a).ConfigureAwait(false),
            "idle" => await IdleAsync(a).ConfigureAwait(false),
            _ => Usage(),
        };
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: tocsin-bench ingest load|copy|idle [--url ws://127.0.0.1:P/ws] [--tokens FILE] [--connections M] [--batch N] [--in-flight K] [--rate R] [--metrics URL] [--warmup D] [--duration D] [--pg CS] [--rows N] [--hold D]");
        return 64;
    }

    /// <summary>The rows of one frame: realistic senders, levels (mostly info) and messages of about 100 bytes.</summary>
    private static IEnumerable<(string Sender, string Message, int Level)> Rows(int count, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            string sender = Senders[random.Next(Senders.Length)];
            int level = random.Next(100) switch { < 70 => 20, < 90 => 10, < 98 => 30, _ => 40 };
            yield return (sender, $"{sender}: request {random.Next(1_000_000)} from 192.168.{random.Next(256)}.{random.Next(256)} handled in {random.Next(2000)} us, cache {(random.Next(2) == 0 ? "hit" : "miss")}", level);
        }
    }

    private static byte[] UploadFrame(int rows, int seed, double time)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("action", "uploadLogs");
            w.WriteStartArray("logs");
            foreach (var (sender, message, level) in Rows(rows, seed))
            {
                w.WriteStartObject();
                w.WriteNumber("level", level);
                w.WriteNumber("time", time);
                w.WriteString("sender", sender);
                w.WriteString("message", message);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static async Task<ClientWebSocket> ConnectAsync(Uri url, string token, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(url, ct).ConfigureAwait(false);
        return socket;
    }

    private static async Task<string?> ReceiveTextAsync(ClientWebSocket socket, byte[] buffer, CancellationToken ct)
    {
        int used = 0;
        while (true)
        {
            if (used == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var r = await socket.ReceiveAsync(buffer.AsMemory(used), ct).ConfigureAwait(false);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            used += r.Count;
            if (r.EndOfMessage)
            {
                return Encoding.UTF8.GetString(buffer, 0, used);
            }
        }
    }

    private static async Task<int> LoadAsync(Args a)
    {
        var url = new Uri(a.Get("url", "ws://127.0.0.1:8080/ws"));
        string[] tokens = File.ReadAllLines(a.Get("tokens", "tokens.txt")).Where(t => t.Length > 0).ToArray();
        int connections = a.Int("connections", 16);
        int batch = a.Int("batch", 1000);
        int inFlight = a.Int("in-flight", 4);
        double rate = a.Double("rate", 0);
        var warmup = a.Duration("warmup", TimeSpan.FromSeconds(5));
        var duration = a.Duration("duration", TimeSpan.FromSeconds(20));
        double time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var metrics = a.Get("metrics", "") is { Length: > 0 } m ? new Uri(m) : null;

        var latency = new LatencyHistogram();
        long acked = 0, failed = 0, measuring = 0;
        using var stop = new CancellationTokenSource();
        var sockets = new List<ClientWebSocket>();
        for (int i = 0; i < connections; i++)
        {
            sockets.Add(await ConnectAsync(url, tokens[i % tokens.Length], CancellationToken.None).ConfigureAwait(false));
        }

        // Frames are sent at a steady pace when --rate is given: each connection one frame every M·N/R seconds.
        TimeSpan? gap = rate > 0 ? TimeSpan.FromSeconds(connections * (double)batch / rate) : null;
        var tasks = sockets.Select((socket, i) => Task.Run(async () =>
        {
            byte[] frame = UploadFrame(batch, i, time);
            var sent = new Queue<long>();
            using var slots = new SemaphoreSlim(inFlight, inFlight);
            var lockSent = new Lock();
            var receiver = Task.Run(async () =>
            {
                byte[] buffer = new byte[64 * 1024];
                while (!stop.IsCancellationRequested || sent.Count > 0)
                {
                    string? reply;
                    try
                    {
                        reply = await ReceiveTextAsync(socket, buffer, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (WebSocketException)
                    {
                        return;
                    }

                    if (reply is null)
                    {
                        return;
                    }

                    long at;
                    lock (lockSent)
                    {
                        if (sent.Count == 0)
                        {
                            continue;
                        }

                        at = sent.Dequeue();
                    }

                    bool ok = reply.Contains("\"success\":true", StringComparison.Ordinal);
                    if (Interlocked.Read(ref measuring) == 1)
                    {
                        if (ok)
                        {
                            Interlocked.Add(ref acked, batch);
                            latency.Record(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                        }
                        else
                        {
                            Interlocked.Increment(ref failed);
                        }
                    }

                    slots.Release();
                    if (stop.IsCancellationRequested && sent.Count == 0)
                    {
                        return;
                    }
                }
            });

            // Connections are spread over the gap (connection i starts i/M of it later): all M sending in the same instant
            // every gap would be a burst no fleet of independent agents makes, and its queue the latency measured.
            long next = Stopwatch.GetTimestamp() + (gap is { } first ? (long)(first.TotalSeconds * Stopwatch.Frequency * i / connections) : 0);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await slots.WaitAsync(stop.Token).ConfigureAwait(false);
                    if (gap is { } g)
                    {
                        next += (long)(g.TotalSeconds * Stopwatch.Frequency);
                        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                        if (wait > TimeSpan.Zero)
                        {
                            await Task.Delay(wait, stop.Token).ConfigureAwait(false);
                        }
                    }

                    lock (lockSent)
                    {
                        sent.Enqueue(Stopwatch.GetTimestamp());
                    }

                    await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            await Task.WhenAny(receiver, Task.Delay(TimeSpan.FromSeconds(30))).ConfigureAwait(false);
        })).ToList();

        await Task.Delay(warmup).ConfigureAwait(false);
        using var scraper = metrics is null ? null : new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var before = scraper is null ? null : await ServerHistograms.ScrapeAsync(scraper, metrics!).ConfigureAwait(false);
        Interlocked.Exchange(ref measuring, 1);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        await Task.Delay(duration).ConfigureAwait(false);
        Interlocked.Exchange(ref measuring, 0);
        var after = scraper is null ? null : await ServerHistograms.ScrapeAsync(scraper, metrics!).ConfigureAwait(false);
        double seconds = watch.Elapsed.TotalSeconds;
        double clientCores = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / seconds;
        long ackedRows = Interlocked.Read(ref acked);
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(tasks).ConfigureAwait(false);
        foreach (var s in sockets)
        {
            s.Abort();
            s.Dispose();
        }

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"connections={connections}"));
        Console.WriteLine(string.Create(inv, $"batch_rows={batch}"));
        Console.WriteLine(string.Create(inv, $"in_flight={inFlight}"));
        Console.WriteLine(string.Create(inv, $"target_rows_per_s={rate:0}"));
        Console.WriteLine(string.Create(inv, $"acked_rows_per_s={ackedRows / seconds:0}"));
        Console.WriteLine(string.Create(inv, $"acks={latency.Count}"));
        Console.WriteLine(string.Create(inv, $"ack_p50_ms={latency.Percentile(0.50):0.0}"));
        Console.WriteLine(string.Create(inv, $"ack_p99_ms={latency.Percentile(0.99):0.0}"));
        Console.WriteLine(string.Create(inv, $"ack_max_ms={latency.MaxMs:0.0}"));
        Console.WriteLine(string.Create(inv, $"failed_frames={Interlocked.Read(ref failed)}"));
        Console.WriteLine(string.Create(inv, $"cpu_cores_client={clientCores:0.00}"));
        if (before is not null && after is not null)
        {
            // The server's own view of the measured window (its /metrics histograms, logs): where the ack time went.
            foreach (var (key, family) in new[] { ("server_queue_wait", "tocsin_ingest_queue_wait_seconds"), ("server_commit", "tocsin_ingest_commit_duration_seconds"), ("server_ack", "tocsin_ingest_ack_duration_seconds") })
            {
                var window = after.Since(before, family);
                Console.WriteLine(string.Create(inv, $"{key}_count={window.Count:0}"));
                Console.WriteLine(string.Create(inv, $"{key}_mean_ms={window.Mean * 1000:0.0}"));
                Console.WriteLine(string.Create(inv, $"{key}_p50_le_ms={window.UpperBound(0.50) * 1000:0}"));
                Console.WriteLine(string.Create(inv, $"{key}_p99_le_ms={window.UpperBound(0.99) * 1000:0}"));
            }

            var rows = after.Since(before, "tocsin_ingest_transaction_rows");
            Console.WriteLine(string.Create(inv, $"server_transactions={rows.Count:0}"));
            Console.WriteLine(string.Create(inv, $"server_rows_per_transaction_mean={rows.Mean:0}"));
        }

        return 0;
    }

    private static async Task<int> CopyAsync(Args a)
    {
        string cs = a.Get("pg", "");
        int rows = a.Int("rows", 2_000_000);
        int batch = a.Int("batch", 1000);
        var time = DateTimeOffset.UtcNow;
        var frames = Enumerable.Range(0, 16).Select(seed => Rows(batch, seed).ToArray()).ToArray();
        await using var source = NpgsqlDataSource.Create(cs);
        await using var c = await source.OpenConnectionAsync().ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        var latency = new LatencyHistogram();
        int written = 0;
        for (int f = 0; written < rows; f++)
        {
            long started = Stopwatch.GetTimestamp();
            await using var tx = await c.BeginTransactionAsync().ConfigureAwait(false);
            await using (var copy = await c.BeginBinaryImportAsync("COPY tocsin.ingest_logs (identity, level, time, sender, message) FROM STDIN (FORMAT BINARY)").ConfigureAwait(false))
            {
                foreach (var (sender, message, level) in frames[f % frames.Length])
                {
                    await copy.StartRowAsync().ConfigureAwait(false);
                    await copy.WriteAsync($"bench-{f % 64}", NpgsqlDbType.Text).ConfigureAwait(false);
                    await copy.WriteAsync((short)level, NpgsqlDbType.Smallint).ConfigureAwait(false);
                    await copy.WriteAsync(time, NpgsqlDbType.TimestampTz).ConfigureAwait(false);
                    await copy.WriteAsync(sender, NpgsqlDbType.Text).ConfigureAwait(false);
                    await copy.WriteAsync(message, NpgsqlDbType.Text).ConfigureAwait(false);
                }

                await copy.CompleteAsync().ConfigureAwait(false);
            }

            await tx.CommitAsync().ConfigureAwait(false);
            latency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            written += batch;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"copy_rows={written}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"copy_rows_per_s={written / watch.Elapsed.TotalSeconds:0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"copy_tx_p50_ms={latency.Percentile(0.50):0.0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"copy_tx_p99_ms={latency.Percentile(0.99):0.0}"));
        return 0;
    }

    private static async Task<int> IdleAsync(Args a)
    {
        var url = new Uri(a.Get("url", "ws://127.0.0.1:8080/ws"));
        string[] tokens = File.ReadAllLines(a.Get("tokens", "tokens.txt")).Where(t => t.Length > 0).ToArray();
        int connections = a.Int("connections", 10_000);
        var hold = a.Duration("hold", TimeSpan.FromSeconds(20));
        var sockets = new List<ClientWebSocket>(connections);
        int opened = 0, failures = 0;
        byte[] ping = Encoding.UTF8.GetBytes("""{"action":"ping"}""");
        using var gate = new SemaphoreSlim(64);
        var opening = Enumerable.Range(0, connections).Select(async i =>
        {
            await gate.WaitAsync().ConfigureAwait(false);
            try
            {
                var s = await ConnectAsync(url, tokens[i % tokens.Length], CancellationToken.None).ConfigureAwait(false);
                await s.SendAsync(ping, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
                byte[] own = new byte[4096];
                _ = await ReceiveTextAsync(s, own, CancellationToken.None).ConfigureAwait(false);
                lock (sockets)
                {
                    sockets.Add(s);
                }

                Interlocked.Increment(ref opened);
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(opening).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"idle_opened={opened}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"idle_failed={failures}"));
        Console.Out.Flush();
        await Task.Delay(hold).ConfigureAwait(false);
        foreach (var s in sockets)
        {
            s.Abort();
            s.Dispose();
        }

        return opened == connections ? 0 : 1;
    }

    /// <summary>The <c>--name value</c> pairs after the mode.</summary>
    private sealed class Args(Dictionary<string, string> values)
    {
        public static Args Parse(string[] args)
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 1; i + 1 < args.Length; i += 2)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new ArgumentException($"expected an option at {args[i]}");
                }

                d[args[i][2..]] = args[i + 1];
            }

            return new Args(d);
        }

        public string Get(string name, string fallback) => values.GetValueOrDefault(name, fallback);

        public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

        public double Double(string name, double fallback) => values.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

        public TimeSpan Duration(string name, TimeSpan fallback) =>
            values.TryGetValue(name, out var v) ? Tocsin.Configuration.Duration.Parse(v) : fallback;
    }
}
