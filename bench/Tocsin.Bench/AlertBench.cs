using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Checks.Http;
using Tocsin.Configuration;
using Tocsin.Diagnostics;
using Tocsin.Scheduling;
using Tocsin.State;
using Tocsin.Storage;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Bench;

/// <summary>
/// Issue 7's benchmark: N http checks run by the real scheduler against an in-process target; once each has a result, the
/// target fails and every check turns CRITICAL at once (one CRITICAL result per check handed to the writer, as a run
/// would); the real notifier delivers one problem per check to a webhook channel whose receiver (in-process Kestrel,
/// loopback) counts them. Prints the time from the flip to the last delivery, notifications/s, the schedule lag meanwhile,
/// and whether any notification arrived twice or never.
/// </summary>
internal static class AlertBench
{
    public static async Task<int> RunAsync(BenchOptions o)
    {
        // As `tocsin` does (ThreadPoolSettings); TOCSIN_BENCH_MIN_THREADS=n sets another minimum, to compare.
        if (int.TryParse(Environment.GetEnvironmentVariable("TOCSIN_BENCH_MIN_THREADS"), NumberStyles.None, CultureInfo.InvariantCulture, out int minThreads))
        {
            ThreadPool.GetMinThreads(out _, out int io);
            ThreadPool.SetMinThreads(minThreads, io);
        }
        else
        {
            ThreadPoolSettings.Apply();
        }

        ThreadPool.GetMinThreads(out int workers, out _);
        Console.Error.WriteLine($"thread pool: at least {workers} worker threads");

        var dir = Directory.CreateTempSubdirectory("tocsin-alert-bench-").FullName;
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        long firstAt = 0, lastAt = 0;
        bool failing = false;
        await using var receiver = await StartAsync(app => app.MapPost("/hook", async (HttpContext c) =>
        {
            await c.Request.Body.CopyToAsync(Stream.Null);
            received.AddOrUpdate(c.Request.Headers["Idempotency-Key"].ToString(), 1, (_, n) => n + 1);
            long now = Stopwatch.GetTimestamp();
            Interlocked.CompareExchange(ref firstAt, now, 0);
            Interlocked.Exchange(ref lastAt, now);
            return Results.Ok();
        }));
        await using var target = await StartAsync(app => app.MapGet("/switch", () => Volatile.Read(ref failing) ? Results.StatusCode(500) : Results.Text("ok")));

        var time = TimeProvider.System;
        using var metrics = new TocsinMetrics();
        using var listener = new EngineMetricsListener();
        var channelType = NotificationChannelTypes.CreateDefault().Get("webhook");
        var errors = new List<ConfigError>();
        using var channelJson = System.Text.Json.JsonDocument.Parse($$"""{ "url": "{{Address(receiver)}}hook" }""");
        var channelOptions = channelType.ReadOptions(new ConfigObjectReader(channelJson.RootElement, "bench", "notifications[0]", errors));
        if (errors.Count > 0)
        {
            Console.Error.WriteLine(string.Join(Environment.NewLine, errors));
            return 1;
        }

        using var http = NotificationChannelTypes.CreateHttpClient();
        var channel = channelType.Create("hook", channelOptions, new NotificationChannelContext(http, time, NullLoggerFactory.Instance));

        var url = new Uri(Address(target), "switch");
        var timeout = o.Interval / 2 < TimeSpan.FromSeconds(10) ? o.Interval / 2 : TimeSpan.FromSeconds(10);
        var checks = Enumerable.Range(0, o.Checks).Select(i => new CheckDefinition($"alert-{i:D5}", "http", o.Interval, timeout, new HttpCheckOptions { Url = url })
        {
            Index = i,
            Alerting = new AlertPolicy { Notify = ["hook"] },
        }).ToList();
        var catalog = new CheckCatalog(checks);
        using var outbox = new SqliteOutbox(Path.Combine(dir, "outbox.db"));
        var writer = new ResultWriter(outbox, new ResultWriterOptions { Thresholds = StateThresholds.Lookup(checks) }, time, metrics, NullLogger<ResultWriter>.Instance);
        var executor = new CheckExecutor(CheckKinds.CreateDefault(time), time, metrics, NullLogger<CheckExecutor>.Instance);
        var scheduler = new Scheduler(catalog, executor, writer, new SchedulerOptions(), time, metrics, NullLogger<Scheduler>.Instance);
        var store = new SqliteAlertStore(outbox);
        await using var notifier = new Notifier(store, catalog, [], new Dictionary<string, INotificationChannel> { ["hook"] = channel }, () => true,
            NotifierFromEnvironment(), time, metrics, NullLogger<Notifier>.Instance);
        outbox.AlertEventsWritten += notifier.Wake;
        writer.Start();
        notifier.Start();
        using var stop = new CancellationTokenSource();
        var scheduling = scheduler.RunAsync(stop.Token);

        Console.Error.WriteLine($"{o.Checks} http checks every {Duration.Format(o.Interval)}; waiting for a result of each ...");
        var warm = Stopwatch.StartNew();
        while (outbox.ReadStates().Count < o.Checks)
        {
            await Task.Delay(500);
            if (warm.Elapsed > o.Interval * 3)
            {
                Console.Error.WriteLine($"only {outbox.ReadStates().Count} of {o.Checks} checks have a result after {warm.Elapsed.TotalSeconds:0} s");
                return 1;
            }
        }

        // Let the first results' resync events be processed (they make no notification), then measure the lag of the checks
        // alone for 10 s as the baseline.
        await Task.Delay(TimeSpan.FromSeconds(3));
        listener.StartWindow();
        await Task.Delay(TimeSpan.FromSeconds(10));
        var baseline = listener.Lag;
        listener.StartWindow();
        Volatile.Write(ref failing, true);
        long flip = Stopwatch.GetTimestamp();
        var now = time.GetUtcNow();
        foreach (var c in checks)
        {
            await writer.WriteAsync(new CheckResult(Guid.CreateVersion7(now), c.Name, "http", CheckState.CRITICAL, now, now, now, 1, 500, "HTTP 500", null), default);
        }

        var limit = Stopwatch.StartNew();
        while (received.Count < o.Checks && limit.Elapsed < TimeSpan.FromMinutes(5))
        {
            await Task.Delay(100);
        }

        double seconds = Stopwatch.GetElapsedTime(flip, Interlocked.Read(ref lastAt)).TotalSeconds;
        var lag = listener.Lag;
        await Task.Delay(TimeSpan.FromSeconds(2)); // anything sent twice would show now
        await stop.CancelAsync();
        try
        {
            await scheduling;
        }
        catch (OperationCanceledException)
        {
        }

        await notifier.StopAsync();
        await writer.StopAsync();
        int delivered = received.Count, twice = received.Values.Count(n => n > 1);
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(ci, $"checks={o.Checks} interval={Duration.Format(o.Interval)}"));
        Console.WriteLine(string.Create(ci, $"delivered={delivered} missing={o.Checks - delivered} twice={twice}"));
        Console.WriteLine(string.Create(ci, $"flip_to_last_delivery_s={seconds:0.00} notifications_per_s={delivered / seconds:0}"));
        Console.WriteLine(string.Create(ci, $"first_delivery_after_ms={Stopwatch.GetElapsedTime(flip, Interlocked.Read(ref firstAt)).TotalMilliseconds:0}"));
        Console.WriteLine(string.Create(ci, $"baseline_lag_runs={baseline.Count} baseline_lag_p50_ms={baseline.Percentile(0.5):0.0} baseline_lag_p99_ms={baseline.Percentile(0.99):0.0} baseline_lag_max_ms={baseline.MaxMs:0.0}"));
        Console.WriteLine(string.Create(ci, $"lag_runs={lag.Count} lag_p50_ms={lag.Percentile(0.5):0.0} lag_p99_ms={lag.Percentile(0.99):0.0} lag_max_ms={lag.MaxMs:0.0}"));
        SqliteConnection.ClearAllPools();
        Directory.Delete(dir, recursive: true);
        return delivered == o.Checks && twice == 0 ? 0 : 2;
    }

    /// <summary>The engine's defaults, or what <c>TOCSIN_BENCH_PARALLEL</c> / <c>TOCSIN_BENCH_EVENT_BATCH</c> / <c>TOCSIN_BENCH_DELIVERY_BATCH</c> say (to compare settings).</summary>
    private static NotifierOptions NotifierFromEnvironment()
    {
        var o = new NotifierOptions();
        static int? Env(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
        o = Env("TOCSIN_BENCH_PARALLEL") is { } p ? o with { MaxParallelPerChannel = p } : o;
        o = Env("TOCSIN_BENCH_EVENT_BATCH") is { } e ? o with { EventBatch = e } : o;
        o = Env("TOCSIN_BENCH_DELIVERY_BATCH") is { } d ? o with { DeliveryBatch = d } : o;
        Console.Error.WriteLine($"notifier: {o.MaxParallelPerChannel} in flight per channel, events {o.EventBatch} per pass, deliveries {o.DeliveryBatch} per round");
        return o;
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single().TrimEnd('/') + "/");

    private static async Task<WebApplication> StartAsync(Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return app;
    }
}
