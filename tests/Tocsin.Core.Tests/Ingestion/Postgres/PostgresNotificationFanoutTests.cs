using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using Tocsin.Core.Tests.TestServers;
using Tocsin.Diagnostics;
using Tocsin.Ingestion;
using Tocsin.Ingestion.Postgres;

namespace Tocsin.Core.Tests.Ingestion.Postgres;

/// <summary>Two replicas (each a data source, a store and a fan-out) on one real PostgreSQL database.</summary>
public sealed class PostgresNotificationFanoutTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static readonly PostgresFanoutOptions Fast = new() { MinReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(500) };
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>One replica: what a Tocsin process on the shared database holds.</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private readonly NpgsqlDataSource _source;
        private readonly ILoggerFactory _loggers;

        private Replica(string cs, PostgresFanoutOptions? options)
        {
            _source = NpgsqlDataSource.Create(cs);
            Store = new PostgresIngestionStore(_source, TimeProvider.System);
            _loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(Logs)));
            Fanout = new PostgresNotificationFanout(_source, Store, TimeProvider.System, _loggers, options ?? Fast, Metrics);
        }

        public FakeLogCollector Logs { get; } = new();

        public TocsinMetrics Metrics { get; } = new();

        /// <summary>Notification rows pushed here from <paramref name="source"/> (local, remote, caught_up) so far.</summary>
        public long Pushed(string source, MetricCollector<long> pushes) =>
            pushes.GetMeasurementSnapshot().Where(m => Equals(m.Tags["source"], source)).Sum(m => m.Value);

        public PostgresIngestionStore Store { get; }

        public PostgresNotificationFanout Fanout { get; }

        public static async Task<Replica> StartAsync(string cs, PostgresFanoutOptions? options = null)
        {
            var r = new Replica(cs, options);
            await r.Store.InitializeAsync(Ct);
            await r.Fanout.StartAsync(Ct);
            Assert.True(r.Fanout.IsListening);
            return r;
        }

        /// <summary>Stores <paramref name="count"/> notifications of <paramref name="identity"/> and publishes them as the server does.</summary>
        public async Task<IReadOnlyList<StoredRow>> UploadAsync(string identity, int count, string message = "n")
        {
            var now = DateTimeOffset.UtcNow;
            now = now.AddTicks(-(now.Ticks % 10)); // microseconds, as validated uploads are
            var rows = Enumerable.Range(0, count).Select(i => new IngestionRow("ups", $"{message} {i}", 30, now.AddMilliseconds(i))).ToArray();
            var ids = await Store.AppendAsync(RowKind.Notifications, [new IngestionBatch(identity, rows)], Ct);
            var stored = rows.Select((r, i) => new StoredRow(ids[0][i], identity, r.Sender, r.Message, r.Level, r.Time)).ToList();
            await Fanout.PublishAsync(identity, stored, Ct);
            return stored;
        }

        public int Count(string text) => Logs.GetSnapshot().Count(r => r.Message.Contains(text, StringComparison.Ordinal));

        public async ValueTask DisposeAsync()
        {
            await Fanout.DisposeAsync();
            await Store.DisposeAsync();
            _loggers.Dispose();
            await _source.DisposeAsync();
            Metrics.Dispose();
        }
    }

    /// <summary>Kills every listening connection of the database (both replicas'); returns how many.</summary>
    private static Task<long> KillListenersAsync(string cs) =>
        PostgresIngestionStoreTests.ScalarAsync<long>(cs,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN tocsin_ingest%'");

    /// <summary>Kills both replicas' listening connections and waits until <paramref name="replica"/> knows it does not listen.</summary>
    private static async Task StopListeningAsync(string cs, Replica replica)
    {
        Assert.Equal(2, await KillListenersAsync(cs));
        await Poll.UntilAsync(() => Task.FromResult(replica.Fanout.IsListening), listening => !listening, Deadline, "the replica noticing the outage");
    }

    /// <summary>What a receiver got, batch by batch.</summary>
    private sealed class Inbox
    {
        public ConcurrentQueue<IReadOnlyList<StoredRow>> Batches { get; } = new();

        public Func<IReadOnlyList<StoredRow>, CancellationToken, ValueTask> Deliver => (rows, _) =>
        {
            Batches.Enqueue(rows);
            return ValueTask.CompletedTask;
        };

        public IEnumerable<long> Ids => Batches.SelectMany(b => b).Select(r => r.Id);

        public Task<bool> WaitForAsync(long id, string what) =>
            Poll.UntilAsync(() => Task.FromResult(Ids.Contains(id)), got => got, Deadline, what);
    }

    [Fact]
    public async Task A_publish_on_one_replica_reaches_receivers_of_its_identity_on_both_exactly_once()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var a = await Replica.StartAsync(cs);
        await using var b = await Replica.StartAsync(cs);
        Assert.NotEqual(a.Fanout.ReplicaId, b.Fanout.ReplicaId);
        Inbox onA = new(), onB = new(), otherOnB = new();
        using var sa = a.Fanout.Subscribe("wd-1", onA.Deliver);
        using var sb = b.Fanout.Subscribe("wd-1", onB.Deliver);
        using var so = b.Fanout.Subscribe("wd-2", otherOnB.Deliver);

        var published = await a.UploadAsync("wd-1", 3, "on battery");
        await onB.WaitForAsync(published[0].Id, "the notifications on replica B");

        // A replica receives another's announcements in order on one connection: a sentinel from the other replica, once
        // received, comes after any repeat of the first publish would have.
        var fromB = await b.UploadAsync("wd-1", 1, "sentinel from B");
        await onA.WaitForAsync(fromB[0].Id, "B's sentinel on replica A");
        var fromA = await a.UploadAsync("wd-1", 1, "sentinel from A");
        await onB.WaitForAsync(fromA[0].Id, "A's sentinel on replica B");
        foreach (var inbox in new[] { onA, onB })
        {
            Assert.Equal(
                [[.. published.OrderByDescending(r => r.Time).ThenByDescending(r => r.Id)], fromB, fromA],
                inbox.Batches.Select(batch => batch.ToList()).ToList());
        }

        Assert.Empty(otherOnB.Batches);

        // Stopped, a fan-out leaves no listening session in its pool (it would hold PostgreSQL's notification queue back).
        await b.Fanout.DisposeAsync();
        Assert.Equal(1L, await PostgresIngestionStoreTests.ScalarAsync<long>(cs,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN tocsin_ingest%'"));
    }

    [Fact]
    public async Task A_publish_of_5000_scattered_notifications_crosses_in_chunks_and_arrives_as_one_batch()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var a = await Replica.StartAsync(cs);
        await using var b = await Replica.StartAsync(cs);
        var onB = new Inbox();
        using var sb = b.Fanout.Subscribe("wd-1", onB.Deliver);

        // Every second row of 10,000: no two ids consecutive, so the ids need several payloads.
        var now = DateTimeOffset.UtcNow;
        var rows = Enumerable.Range(0, 10_000).Select(i => new IngestionRow("s", $"n {i}", 30, now.AddTicks(i * 10))).ToArray();
        var ids = (await a.Store.AppendAsync(RowKind.Notifications, [new IngestionBatch("wd-1", rows)], Ct))[0];
        var scattered = Enumerable.Range(0, 5000).Select(i => new StoredRow(ids[2 * i], "wd-1", "s", rows[2 * i].Message, 30, rows[2 * i].Time)).ToList();
        Assert.True(FanoutPayload.Encode(a.Fanout.ReplicaId, 1, "wd-1", scattered.Select(r => r.Id)).Count > 1);

        await a.Fanout.PublishAsync("wd-1", scattered, Ct);

        await Poll.UntilAsync(() => Task.FromResult(onB.Batches.Count), n => n > 0, Deadline, "the 5000 notifications on replica B");
        var batch = Assert.Single(onB.Batches);
        Assert.Equal(scattered.Select(r => r.Id).Reverse(), batch.Select(r => r.Id));
        Assert.Equal(scattered[^1].Message, batch[0].Message);
    }

    [Fact]
    public async Task After_the_listening_connections_are_killed_later_publishes_arrive_and_the_outage_is_logged_once()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var a = await Replica.StartAsync(cs);
        await using var b = await Replica.StartAsync(cs);
        var onB = new Inbox();
        using var sb = b.Fanout.Subscribe("wd-1", onB.Deliver);
        var before = await a.UploadAsync("wd-1", 1, "before");
        await onB.WaitForAsync(before[0].Id, "a notification before the kill");

        Assert.Equal(2, await KillListenersAsync(cs));

        // Publish until one arrives (live or caught up once B listens again).
        var sent = new List<long>();
        await Poll.UntilAsync(async () =>
        {
            sent.Add((await a.UploadAsync("wd-1", 1, "after"))[0].Id);
            return onB.Ids.Intersect(sent).Any();
        }, arrived => arrived, Deadline, "a notification after the kill");
        var next = await a.UploadAsync("wd-1", 1, "next");
        await onB.WaitForAsync(next[0].Id, "the next notification");
        Assert.Equal(1, onB.Ids.Count(id => id == next[0].Id));
        Assert.Equal(onB.Ids.Count(), onB.Ids.Distinct().Count());

        foreach (var replica in new[] { a, b })
        {
            await Poll.UntilAsync(() => Task.FromResult(replica.Count("flow again")), n => n == 1, Deadline, "the recovery logged");
            Assert.Equal(1, replica.Count("stopped: cannot listen"));
            Assert.True(replica.Fanout.IsListening);
        }
    }

    [Fact]
    public async Task Notifications_committed_while_a_replica_does_not_listen_are_caught_up_once_it_does_each_exactly_once()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var a = await Replica.StartAsync(cs);
        // B waits at least 3 s before listening again: the uploads below are committed while it does not listen.
        await using var b = await Replica.StartAsync(cs, Fast with { MinReconnectDelay = TimeSpan.FromSeconds(3), MaxReconnectDelay = TimeSpan.FromSeconds(4) });
        Inbox onB = new(), otherOnB = new();
        using var pushes = new MetricCollector<long>(b.Metrics.IngestPushes);
        using var sb = b.Fanout.Subscribe("wd-1", onB.Deliver);
        var localOnB = await b.UploadAsync("wd-1", 1, "B's own");
        var before = await a.UploadAsync("wd-1", 1, "before");
        await onB.WaitForAsync(before[0].Id, "a notification before the outage");

        await StopListeningAsync(cs, b);

        // Committed during the outage: two uploads of wd-1 (one of 3 rows), one of an identity without receivers on B, and
        // one published by B itself (delivered locally, not to be pushed again).
        var missed = (await a.UploadAsync("wd-1", 3, "during")).Concat(await a.UploadAsync("wd-1", 1, "during too")).ToList();
        await a.UploadAsync("wd-9", 2, "nobody listens for these on B");
        var ownDuring = await b.UploadAsync("wd-1", 1, "B's own during");
        Assert.False(b.Fanout.IsListening);

        foreach (var row in missed)
        {
            await onB.WaitForAsync(row.Id, "a notification committed during the outage");
        }

        var after = await a.UploadAsync("wd-1", 1, "after");
        await onB.WaitForAsync(after[0].Id, "a notification after the outage");
        Assert.Equal(onB.Ids.Count(), onB.Ids.Distinct().Count());
        Assert.Equal(
            new[] { localOnB[0].Id, before[0].Id, ownDuring[0].Id, after[0].Id }.Concat(missed.Select(r => r.Id)).Order(),
            onB.Ids.Order());
        Assert.Equal(1, b.Count("4 notification(s) committed by other replicas while not listening are pushed now"));
        Assert.Empty(otherOnB.Ids);
        Assert.Equal(4, b.Pushed("caught_up", pushes));
        Assert.Equal(2, b.Pushed("local", pushes)); // B's own two
        Assert.Equal(2, b.Pushed("remote", pushes)); // before, after
    }

    [Fact]
    public async Task A_catch_up_that_cannot_read_costs_only_the_catch_up_and_the_replica_listens_again()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var a = await Replica.StartAsync(cs);
        await using var b = await Replica.StartAsync(cs, Fast with { MinReconnectDelay = TimeSpan.FromSeconds(2), MaxReconnectDelay = TimeSpan.FromSeconds(3) });
        var onB = new Inbox();
        using var sb = b.Fanout.Subscribe("wd-1", onB.Deliver);
        var before = await a.UploadAsync("wd-1", 1, "before");
        await onB.WaitForAsync(before[0].Id, "a notification before the outage");

        // While B does not listen, the table the catch-up reads goes away (as under a failing query or a timeout).
        await StopListeningAsync(cs, b);
        await PostgresIngestionStoreTests.ScalarAsync<int>(cs, "ALTER TABLE tocsin.ingest_notifications RENAME TO ingest_notifications_away; SELECT 1");
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(b.Count("could not read what other replicas committed")), n => n >= 1, Deadline, "the failed catch-up logged");
            await Poll.UntilAsync(() => Task.FromResult(b.Fanout.IsListening), listening => listening, Deadline, "B listening again all the same");
        }
        finally
        {
            await PostgresIngestionStoreTests.ScalarAsync<int>(cs, "ALTER TABLE tocsin.ingest_notifications_away RENAME TO ingest_notifications; SELECT 1");
        }

        var after = await a.UploadAsync("wd-1", 1, "after");
        await onB.WaitForAsync(after[0].Id, "a notification after the outage");
        Assert.Equal(1, b.Count("stopped: cannot listen"));
    }

    [Fact]
    public async Task A_catch_up_pushes_only_the_newest_up_to_its_limit_and_says_so()
    {
        string cs = await server.CreateDatabaseAsync();
        await using var a = await Replica.StartAsync(cs);
        await using var b = await Replica.StartAsync(cs, Fast with { MinReconnectDelay = TimeSpan.FromSeconds(3), MaxReconnectDelay = TimeSpan.FromSeconds(4), CatchUpLimit = 2 });
        var onB = new Inbox();
        using var sb = b.Fanout.Subscribe("wd-1", onB.Deliver);
        var before = await a.UploadAsync("wd-1", 1, "before");
        await onB.WaitForAsync(before[0].Id, "a notification before the outage");

        await StopListeningAsync(cs, b);
        var missed = await a.UploadAsync("wd-1", 5, "during");

        var newest = missed.OrderByDescending(r => r.Id).Take(2).ToList();
        foreach (var row in newest)
        {
            await onB.WaitForAsync(row.Id, "one of the newest two");
        }

        await Poll.UntilAsync(() => Task.FromResult(b.Count("older ones beyond the newest 2 are not pushed")), n => n == 1, Deadline, "the limit logged");
        var after = await a.UploadAsync("wd-1", 1, "after");
        await onB.WaitForAsync(after[0].Id, "a notification after the outage");
        Assert.Equal(new[] { before[0].Id, after[0].Id }.Concat(newest.Select(r => r.Id)).Order(), onB.Ids.Order());
    }

    [Fact]
    public async Task A_replica_started_while_postgres_is_unreachable_listens_once_it_can_and_publishing_never_throws()
    {
        // A port nothing listens on: every attempt fails, starting does not.
        var b = new NpgsqlConnectionStringBuilder(await server.CreateDatabaseAsync()) { Port = 1, Timeout = 1 };
        await using var source = NpgsqlDataSource.Create(b.ConnectionString);
        var logs = new FakeLogCollector();
        using var loggers = LoggerFactory.Create(l => l.AddProvider(new FakeLoggerProvider(logs)));
        var store = new PostgresIngestionStore(source, TimeProvider.System);
        await using var fanout = new PostgresNotificationFanout(source, store, TimeProvider.System, loggers, Fast);
        await fanout.StartAsync(Ct);
        Assert.False(fanout.IsListening);

        var got = new Inbox();
        using var s = fanout.Subscribe("wd", got.Deliver);
        await fanout.PublishAsync("wd", [new StoredRow(1, "wd", "s", "m", 30, DateTimeOffset.UtcNow)], Ct);
        await Poll.UntilAsync(() => Task.FromResult(got.Batches.Count), n => n == 1, Deadline, "the local delivery");
        await Poll.UntilAsync(() => Task.FromResult(logs.GetSnapshot().Count(r => r.Message.Contains("could not announce", StringComparison.Ordinal))), n => n == 1, Deadline, "the announce failure logged");
        Assert.Single(logs.GetSnapshot(), r => r.Message.Contains("stopped: cannot listen", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Message.Contains(server.Password, StringComparison.Ordinal));
    }
}
