using System.Globalization;
using Microsoft.Data.Sqlite;
using Tocsin.Alerting;
using Tocsin.Checks;

namespace Tocsin.Storage.Sqlite;

public sealed partial class SqliteOutbox
{
    private static readonly string[] NotificationParams = ["$id", "$key", "$channel", "$check", "$type", "$payload"];
    private static readonly string[] OutcomeParams = ["$status", "$attempts", "$next", "$error", "$at", "$seq"];

    /// <summary>Alert events not yet processed by the notifier, oldest first.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<StoredEvent> ReadPendingAlertEvents(int limit) => ReadAlertEvents(SqliteSchema.SelectPendingAlertEvents, limit);

    /// <summary>
    /// Alert events not yet exported to the central database, oldest first: with a central database every event in the outbox
    /// (they are deleted once exported, and the local notifier does not read them).
    /// </summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<StoredEvent> ReadUnexportedAlertEvents(int limit) => ReadAlertEvents(SqliteSchema.SelectUnexportedAlertEvents, limit);

    private List<StoredEvent> ReadAlertEvents(string sql, int limit)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$limit", limit);
        using var r = cmd.ExecuteReader();
        var list = new List<StoredEvent>();
        while (r.Read())
        {
            list.Add(new StoredEvent(r.GetInt64(0), ReadAlertEvent(r, 1)));
        }

        return list;
    }

    /// <summary>Deletes alert events exported to the central database (the leader's notifier reads them there).</summary>
    /// <exception cref="SqliteException">When the write fails.</exception>
    public void MarkAlertEventsExported(IReadOnlyList<long> seqs) => MarkSeqs("DELETE FROM alert_events WHERE seq = $seq;", seqs);

    private static AlertEvent ReadAlertEvent(SqliteDataReader r, int o) => new(
        Guid.Parse(r.GetString(o)), r.GetString(o + 1), r.GetString(o + 2), AlertEvent.ParseType(r.GetString(o + 3)),
        (CheckState)r.GetInt32(o + 4), (CheckState)r.GetInt32(o + 5), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(o + 6)),
        r.IsDBNull(o + 7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(o + 7)), r.GetString(o + 8),
        r.IsDBNull(o + 9) ? null : Guid.Parse(r.GetString(o + 9)));

    /// <summary>Every alert record.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<AlertRecord> ReadAlertRecords()
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT data FROM alert_states;";
        using var r = cmd.ExecuteReader();
        var list = new List<AlertRecord>();
        while (r.Read())
        {
            list.Add(AlertJson.ReadRecord(r.GetString(0)));
        }

        return list;
    }

    /// <summary>Commands not yet processed, oldest first.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<AlertCommand> ReadPendingAlertCommands(int limit) =>
        ReadCommands("SELECT seq, id, type, check_name, created_at, target, ends_at, author, comment FROM alert_commands WHERE processed = 0 ORDER BY seq LIMIT $limit;",
            cmd => cmd.Parameters.AddWithValue("$limit", limit));

    /// <summary>Silences not ended at <paramref name="now"/>.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<Silence> ReadSilences(DateTimeOffset now) =>
        [.. ReadCommands("SELECT seq, id, type, check_name, created_at, target, ends_at, author, comment FROM alert_commands WHERE type = 'silence' AND ends_at > $now ORDER BY seq;",
            cmd => cmd.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds()))
            .Select(a => new Silence(a.Id, a.CheckName, a.CreatedAt, a.EndsAt ?? a.CreatedAt, a.Author, a.Comment))];

    private List<AlertCommand> ReadCommands(string sql, Action<SqliteCommand> bind)
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        bind(cmd);
        using var r = cmd.ExecuteReader();
        var list = new List<AlertCommand>();
        while (r.Read())
        {
            list.Add(new AlertCommand(
                r.GetInt64(0), Guid.Parse(r.GetString(1)), r.GetString(2) == "ack" ? AlertCommandType.Acknowledge : AlertCommandType.Silence, r.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.IsDBNull(5) ? null : Guid.Parse(r.GetString(5)),
                r.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)), r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8)));
        }

        return list;
    }

    /// <summary>Stores a command (acknowledgement or silence) for the notifier.</summary>
    /// <exception cref="SqliteException">When the write fails.</exception>
    public void AddAlertCommand(AlertCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        lock (_writeLock)
        {
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = """
                INSERT OR IGNORE INTO alert_commands (id, type, check_name, created_at, target, ends_at, author, comment)
                VALUES ($id, $type, $check, $created, $target, $ends, $author, $comment);
                """;
            cmd.Parameters.AddWithValue("$id", command.Id.ToString("D"));
            cmd.Parameters.AddWithValue("$type", command.Type == AlertCommandType.Acknowledge ? "ack" : "silence");
            cmd.Parameters.AddWithValue("$check", command.CheckName);
            cmd.Parameters.AddWithValue("$created", command.CreatedAt.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$target", (object?)command.Target?.ToString("D") ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$ends", command.EndsAt is { } e ? e.ToUnixTimeMilliseconds() : DBNull.Value);
            cmd.Parameters.AddWithValue("$author", (object?)command.Author ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$comment", (object?)command.Comment ?? DBNull.Value);
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Ends an active silence now; false when none has this id.</summary>
    /// <exception cref="SqliteException">When the write fails.</exception>
    public bool EndSilence(Guid id, DateTimeOffset now)
    {
        lock (_writeLock)
        {
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = "UPDATE alert_commands SET ends_at = $now WHERE id = $id AND type = 'silence' AND ends_at > $now;";
            cmd.Parameters.AddWithValue("$id", id.ToString("D"));
            cmd.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            return cmd.ExecuteNonQuery() > 0;
        }
    }

    /// <summary>
    /// In one transaction: marks events and commands processed, saves records, stores notifications (skipping a stored
    /// idempotency key).
    /// </summary>
    /// <exception cref="SqliteException">When the write fails; nothing is committed.</exception>
    public void CommitAlerting(
        IReadOnlyList<long> events, IReadOnlyList<long> commands, IReadOnlyCollection<AlertRecord> records, IReadOnlyList<Notification> notifications, DateTimeOffset now)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "UPDATE alert_events SET processed = 1 WHERE seq = $seq;";
                var p = cmd.Parameters.Add("$seq", SqliteType.Integer);
                foreach (long seq in events)
                {
                    p.Value = seq;
                    cmd.ExecuteNonQuery();
                }

                cmd.CommandText = "UPDATE alert_commands SET processed = 1 WHERE seq = $seq;";
                foreach (long seq in commands)
                {
                    p.Value = seq;
                    cmd.ExecuteNonQuery();
                }
            }

            using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = """
                    INSERT INTO alert_states (check_name, data, updated_at) VALUES ($check, $data, $now)
                    ON CONFLICT (check_name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at;
                    """;
                var check = cmd.Parameters.Add("$check", SqliteType.Text);
                var data = cmd.Parameters.Add("$data", SqliteType.Text);
                cmd.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                foreach (var r in records)
                {
                    check.Value = r.CheckName;
                    data.Value = AlertJson.Write(r);
                    cmd.ExecuteNonQuery();
                }
            }

            using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = """
                    INSERT OR IGNORE INTO notifications (id, idempotency_key, channel, check_name, type, payload, created_at, next_attempt_at)
                    VALUES ($id, $key, $channel, $check, $type, $payload, $now, $now);
                    """;
                var ps = NotificationParams.Select(n => cmd.Parameters.Add(n, SqliteType.Text)).ToArray();
                cmd.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                foreach (var n in notifications)
                {
                    ps[0].Value = n.Id.ToString("D");
                    ps[1].Value = n.IdempotencyKey;
                    ps[2].Value = n.Channel;
                    ps[3].Value = n.CheckName;
                    ps[4].Value = n.Type.Name();
                    ps[5].Value = AlertJson.Write(n);
                    cmd.ExecuteNonQuery();
                }
            }

            tx.Commit();
        }
    }

    /// <summary>Leases the channel's oldest pending notifications that are due, in order (see <see cref="IAlertStore.LeaseDueAsync"/>).</summary>
    /// <exception cref="SqliteException">When the read or write fails.</exception>
    public IReadOnlyList<StoredNotification> LeaseDueNotifications(string channel, DateTimeOffset now, DateTimeOffset leaseUntil, int limit)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            var list = new List<StoredNotification>();
            using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = SqliteSchema.SelectPendingNotifications;
                cmd.Parameters.AddWithValue("$channel", channel);
                cmd.Parameters.AddWithValue("$limit", limit);
                using var r = cmd.ExecuteReader();
                long nowMs = now.ToUnixTimeMilliseconds();
                while (r.Read())
                {
                    var n = ReadStoredNotification(r);
                    bool leased = !r.IsDBNull(9) && r.GetInt64(9) > nowMs;
                    if (n.NextAttemptAt > now || leased)
                    {
                        break;
                    }

                    list.Add(n);
                }
            }

            using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "UPDATE notifications SET lease_until = $until WHERE seq = $seq;";
                cmd.Parameters.AddWithValue("$until", leaseUntil.ToUnixTimeMilliseconds());
                var p = cmd.Parameters.Add("$seq", SqliteType.Integer);
                foreach (var n in list)
                {
                    p.Value = n.Seq;
                    cmd.ExecuteNonQuery();
                }
            }

            tx.Commit();
            return list;
        }
    }

    /// <summary>Records delivery outcomes.</summary>
    /// <exception cref="SqliteException">When the write fails.</exception>
    public void RecordDeliveries(IReadOnlyList<DeliveryOutcome> outcomes)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using var cmd = _writer.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = """
                UPDATE notifications SET status = $status, attempts = $attempts, next_attempt_at = $next, last_error = $error,
                    delivered_at = CASE WHEN $status = 'delivered' THEN $at ELSE delivered_at END, lease_until = NULL
                WHERE seq = $seq;
                """;
            var ps = OutcomeParams.Select(n => cmd.Parameters.Add(new SqliteParameter(n, null))).ToArray();
            foreach (var o in outcomes)
            {
                ps[0].Value = StatusName(o.Status);
                ps[1].Value = o.Attempts;
                ps[2].Value = o.NextAttemptAt.ToUnixTimeMilliseconds();
                ps[3].Value = (object?)o.Error ?? DBNull.Value;
                ps[4].Value = o.At.ToUnixTimeMilliseconds();
                ps[5].Value = o.Seq;
                cmd.ExecuteNonQuery();
            }

            tx.Commit();
        }
    }

    /// <summary>Stored notifications, newest first.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<StoredNotification> ReadNotifications(NotificationQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        var where = new List<string>();
        if (query.CheckName is { } check)
        {
            where.Add("check_name = $check");
            cmd.Parameters.AddWithValue("$check", check);
        }

        if (query.Channel is { } channel)
        {
            where.Add("channel = $channel");
            cmd.Parameters.AddWithValue("$channel", channel);
        }

        if (query.Status is { } status)
        {
            where.Add("status = $status");
            cmd.Parameters.AddWithValue("$status", StatusName(status));
        }

        if (query.BeforeSeq is { } before)
        {
            where.Add("seq < $before");
            cmd.Parameters.AddWithValue("$before", before);
        }

        cmd.CommandText = $"""
            SELECT seq, payload, created_at, status, attempts, next_attempt_at, last_error, delivered_at, channel, lease_until
            FROM notifications {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))} ORDER BY seq DESC LIMIT $limit;
            """;
        cmd.Parameters.AddWithValue("$limit", Math.Clamp(query.Limit, 1, 1000));
        using var r = cmd.ExecuteReader();
        var list = new List<StoredNotification>();
        while (r.Read())
        {
            list.Add(ReadStoredNotification(r));
        }

        return list;
    }

    /// <summary>Counts per channel and state.</summary>
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyList<ChannelDeliveryStats> ReadChannelStats()
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT channel, sum(status = 'pending'), sum(status = 'delivered'), sum(status = 'failed'),
                   min(CASE WHEN status = 'pending' THEN created_at END),
                   (SELECT last_error FROM notifications n2 WHERE n2.channel = n.channel AND n2.status = 'pending' AND n2.last_error IS NOT NULL ORDER BY seq DESC LIMIT 1)
            FROM notifications n GROUP BY channel ORDER BY channel;
            """;
        using var r = cmd.ExecuteReader();
        var list = new List<ChannelDeliveryStats>();
        while (r.Read())
        {
            list.Add(new ChannelDeliveryStats(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3),
                r.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.IsDBNull(5) ? null : r.GetString(5)));
        }

        return list;
    }

    /// <summary>Deletes finished alerting rows older than <paramref name="cutoff"/>; the count deleted.</summary>
    /// <exception cref="SqliteException">When the write fails.</exception>
    public int PurgeAlerting(DateTimeOffset cutoff)
    {
        lock (_writeLock)
        {
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = """
                DELETE FROM notifications WHERE status <> 'pending' AND created_at < $cutoff;
                DELETE FROM alert_events WHERE processed = 1 AND at < $cutoff;
                DELETE FROM alert_commands WHERE processed = 1 AND created_at < $cutoff AND (ends_at IS NULL OR ends_at < $cutoff);
                """;
            cmd.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            return cmd.ExecuteNonQuery();
        }
    }

    private static StoredNotification ReadStoredNotification(SqliteDataReader r) => new(
        r.GetInt64(0), AlertJson.ReadNotification(r.GetString(1)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), ParseStatus(r.GetString(3)),
        r.GetInt32(4), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), r.IsDBNull(6) ? null : r.GetString(6),
        r.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)));

    /// <summary>The stored name of a delivery state: <c>pending</c>, <c>delivered</c>, <c>failed</c>.</summary>
    public static string StatusName(DeliveryStatus status) => status switch
    {
        DeliveryStatus.Pending => "pending",
        DeliveryStatus.Delivered => "delivered",
        DeliveryStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "unknown delivery status"),
    };

    /// <summary>Parses a stored delivery state name.</summary>
    /// <exception cref="FormatException">When it is not one.</exception>
    public static DeliveryStatus ParseStatus(string name) => name switch
    {
        "pending" => DeliveryStatus.Pending,
        "delivered" => DeliveryStatus.Delivered,
        "failed" => DeliveryStatus.Failed,
        _ => throw new FormatException($"unknown delivery status \"{name}\""),
    };

    private void MarkSeqs(string sql, IReadOnlyList<long> seqs)
    {
        lock (_writeLock)
        {
            using var tx = _writer.BeginTransaction();
            using var cmd = _writer.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            var p = cmd.Parameters.Add("$seq", SqliteType.Integer);
            foreach (long seq in seqs)
            {
                p.Value = seq;
                cmd.ExecuteNonQuery();
            }

            tx.Commit();
        }
    }
}

/// <summary>The alert store of a single agent: the local outbox.</summary>
public sealed class SqliteAlertStore : IAlertStore
{
    private readonly SqliteOutbox _outbox;

    /// <summary>Wraps <paramref name="outbox"/>.</summary>
    public SqliteAlertStore(SqliteOutbox outbox) => _outbox = outbox;

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredEvent>> ReadPendingEventsAsync(int limit, CancellationToken cancellationToken) =>
        Task.FromResult(_outbox.ReadPendingAlertEvents(limit));

    /// <inheritdoc />
    public Task<IReadOnlyList<AlertRecord>> ReadRecordsAsync(CancellationToken cancellationToken) => Task.FromResult(_outbox.ReadAlertRecords());

    /// <inheritdoc />
    public Task<IReadOnlyList<AlertCommand>> ReadPendingCommandsAsync(int limit, CancellationToken cancellationToken) =>
        Task.FromResult(_outbox.ReadPendingAlertCommands(limit));

    /// <inheritdoc />
    public Task<IReadOnlyList<Silence>> ReadSilencesAsync(DateTimeOffset now, CancellationToken cancellationToken) => Task.FromResult(_outbox.ReadSilences(now));

    /// <inheritdoc />
    public Task CommitAsync(
        IReadOnlyList<long> events, IReadOnlyList<long> commands, IReadOnlyCollection<AlertRecord> records, IReadOnlyList<Notification> notifications,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        _outbox.CommitAlerting(events, commands, records, notifications, now);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredNotification>> LeaseDueAsync(string channel, DateTimeOffset now, DateTimeOffset leaseUntil, int limit, CancellationToken cancellationToken) =>
        Task.FromResult(_outbox.LeaseDueNotifications(channel, now, leaseUntil, limit));

    /// <inheritdoc />
    public Task RecordAsync(IReadOnlyList<DeliveryOutcome> outcomes, CancellationToken cancellationToken)
    {
        _outbox.RecordDeliveries(outcomes);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task AddCommandAsync(AlertCommand command, CancellationToken cancellationToken)
    {
        _outbox.AddAlertCommand(command);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<bool> EndSilenceAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken) => Task.FromResult(_outbox.EndSilence(id, now));

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredNotification>> ReadNotificationsAsync(NotificationQuery query, CancellationToken cancellationToken) =>
        Task.FromResult(_outbox.ReadNotifications(query));

    /// <inheritdoc />
    public Task<IReadOnlyList<ChannelDeliveryStats>> ReadChannelStatsAsync(CancellationToken cancellationToken) => Task.FromResult(_outbox.ReadChannelStats());

    /// <inheritdoc />
    public Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(_outbox.PurgeAlerting(cutoff));
}
