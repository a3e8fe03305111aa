using Npgsql;
using NpgsqlTypes;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Storage.Sqlite;

namespace Tocsin.Storage.Postgres;

/// <summary>
/// The alert store of agents sharing a central database: events exported by every agent, records, notifications and commands
/// in schema <c>tocsin</c> (migration 3). Only the leader reads events and delivers; commits hold an advisory lock so that two
/// agents both believing they lead (for the moments before the old one notices) apply their passes one after the other, and
/// a notification's idempotency key is unique, so neither makes one twice.
/// </summary>
public sealed class PostgresAlertStore : IAlertStore
{
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Uses <paramref name="dataSource"/> (owned by the caller).</summary>
    public PostgresAlertStore(NpgsqlDataSource dataSource) => _dataSource = dataSource;

    /// <summary>Copies <paramref name="events"/> (exported by agent <paramref name="agentId"/>) in; ids already there are skipped.</summary>
    /// <exception cref="NpgsqlException">When the database refuses or cannot be reached.</exception>
    public static async Task InsertEventsAsync(NpgsqlConnection connection, Guid agentId, IReadOnlyList<AlertEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        await using var cmd = new NpgsqlCommand(PostgresSchema.InsertAlertEvents, connection);
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]>("ids", events.Select(e => e.Id).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]>("agents", events.Select(_ => agentId).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("checks", events.Select(e => e.CheckName).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("kinds", events.Select(e => e.Kind).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("types", events.Select(e => e.TypeName).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter<short[]>("froms", events.Select(e => (short)e.From).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter<short[]>("tos", events.Select(e => (short)e.To).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]>("ats", events.Select(e => e.At).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new NpgsqlParameter("sinces", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = events.Select(e => e.Since is { } s ? (object)s : DBNull.Value).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("messages", events.Select(e => e.Message).ToArray()));
        cmd.Parameters.Add(new NpgsqlParameter("incidents", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = events.Select(e => e.IncidentId is { } i ? (object)i : DBNull.Value).ToArray() });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredEvent>> ReadPendingEventsAsync(int limit, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand(PostgresSchema.SelectPendingAlertEvents);
        cmd.Parameters.AddWithValue("limit", limit);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<StoredEvent>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new StoredEvent(r.GetInt64(0), new AlertEvent(
                r.GetGuid(1), r.GetString(2), r.GetString(3), AlertEvent.ParseType(r.GetString(4)), (CheckState)r.GetInt16(5), (CheckState)r.GetInt16(6),
                r.GetFieldValue<DateTimeOffset>(7), r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8), r.GetString(9), r.IsDBNull(10) ? null : r.GetGuid(10))));
        }

        return list;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AlertRecord>> ReadRecordsAsync(CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT data::text FROM tocsin.alert_states;");
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<AlertRecord>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(AlertJson.ReadRecord(r.GetString(0)));
        }

        return list;
    }

    private const string CommandColumns = "seq, id, type, check_name, created_at, target, ends_at, author, comment";

    /// <inheritdoc />
    public Task<IReadOnlyList<AlertCommand>> ReadPendingCommandsAsync(int limit, CancellationToken cancellationToken) =>
        ReadCommandsAsync($"SELECT {CommandColumns} FROM tocsin.alert_commands WHERE NOT processed ORDER BY seq LIMIT @p;", limit, cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyList<Silence>> ReadSilencesAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        [.. (await ReadCommandsAsync($"SELECT {CommandColumns} FROM tocsin.alert_commands WHERE type = 'silence' AND ends_at > @p ORDER BY seq;", now, cancellationToken).ConfigureAwait(false))
            .Select(a => new Silence(a.Id, a.CheckName, a.CreatedAt, a.EndsAt ?? a.CreatedAt, a.Author, a.Comment))];

    private async Task<IReadOnlyList<AlertCommand>> ReadCommandsAsync(string sql, object p, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue("p", p);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<AlertCommand>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new AlertCommand(
                r.GetInt64(0), r.GetGuid(1), r.GetString(2) == "ack" ? AlertCommandType.Acknowledge : AlertCommandType.Silence, r.GetString(3),
                r.GetFieldValue<DateTimeOffset>(4), r.IsDBNull(5) ? null : r.GetGuid(5), r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6),
                r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8)));
        }

        return list;
    }

    /// <inheritdoc />
    public async Task CommitAsync(
        IReadOnlyList<long> events, IReadOnlyList<long> commands, IReadOnlyCollection<AlertRecord> records, IReadOnlyList<Notification> notifications,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var batch = new NpgsqlBatch(c, tx);
        await using (batch.ConfigureAwait(false))
        {
            var lockCmd = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(@key);");
            lockCmd.Parameters.AddWithValue("key", PostgresSchema.AlertingLockKey);
            batch.BatchCommands.Add(lockCmd);
            var ev = new NpgsqlBatchCommand("UPDATE tocsin.alert_events SET processed = true WHERE seq = ANY(@seqs);");
            ev.Parameters.Add(new NpgsqlParameter<long[]>("seqs", [.. events]));
            batch.BatchCommands.Add(ev);
            var cm = new NpgsqlBatchCommand("UPDATE tocsin.alert_commands SET processed = true WHERE seq = ANY(@seqs);");
            cm.Parameters.Add(new NpgsqlParameter<long[]>("seqs", [.. commands]));
            batch.BatchCommands.Add(cm);
            var st = new NpgsqlBatchCommand("""
                INSERT INTO tocsin.alert_states (check_name, data, updated_at)
                SELECT n, d::jsonb, @now FROM unnest(@names, @data) AS t(n, d)
                ON CONFLICT (check_name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at;
                """);
            st.Parameters.Add(new NpgsqlParameter<string[]>("names", [.. records.Select(r => r.CheckName)]));
            st.Parameters.Add(new NpgsqlParameter<string[]>("data", [.. records.Select(AlertJson.Write)]));
            st.Parameters.AddWithValue("now", now);
            batch.BatchCommands.Add(st);
            // In list order (WITH ORDINALITY): seq follows the order decided, which a channel delivers in.
            var nt = new NpgsqlBatchCommand("""
                INSERT INTO tocsin.notifications (id, idempotency_key, channel, check_name, type, payload, created_at, next_attempt_at)
                SELECT i, k, ch, cn, t, p, @now, @now FROM unnest(@ids, @keys, @channels, @checks, @types, @payloads) WITH ORDINALITY AS u(i, k, ch, cn, t, p, o)
                ORDER BY o
                ON CONFLICT DO NOTHING;
                """);
            nt.Parameters.Add(new NpgsqlParameter<Guid[]>("ids", [.. notifications.Select(n => n.Id)]));
            nt.Parameters.Add(new NpgsqlParameter<string[]>("keys", [.. notifications.Select(n => n.IdempotencyKey)]));
            nt.Parameters.Add(new NpgsqlParameter<string[]>("channels", [.. notifications.Select(n => n.Channel)]));
            nt.Parameters.Add(new NpgsqlParameter<string[]>("checks", [.. notifications.Select(n => n.CheckName)]));
            nt.Parameters.Add(new NpgsqlParameter<string[]>("types", [.. notifications.Select(n => n.Type.Name())]));
            nt.Parameters.Add(new NpgsqlParameter<string[]>("payloads", [.. notifications.Select(AlertJson.Write)]));
            nt.Parameters.AddWithValue("now", now);
            batch.BatchCommands.Add(nt);
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredNotification>> LeaseDueAsync(string channel, DateTimeOffset now, DateTimeOffset leaseUntil, int limit, CancellationToken cancellationToken)
    {
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<StoredNotification>();
        await using (var cmd = new NpgsqlCommand($"""
            SELECT {PostgresSchema.SelectNotificationColumns} FROM tocsin.notifications
            WHERE channel = @channel AND status = 'pending' ORDER BY seq LIMIT @limit FOR UPDATE;
            """, c, tx))
        {
            cmd.Parameters.AddWithValue("channel", channel);
            cmd.Parameters.AddWithValue("limit", limit);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var n = Read(r);
                bool leased = !r.IsDBNull(9) && r.GetFieldValue<DateTimeOffset>(9) > now;
                if (n.NextAttemptAt > now || leased)
                {
                    break;
                }

                list.Add(n);
            }
        }

        await using (var upd = new NpgsqlCommand("UPDATE tocsin.notifications SET lease_until = @until WHERE seq = ANY(@seqs);", c, tx))
        {
            upd.Parameters.AddWithValue("until", leaseUntil);
            upd.Parameters.Add(new NpgsqlParameter<long[]>("seqs", [.. list.Select(n => n.Seq)]));
            await upd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return list;
    }

    /// <inheritdoc />
    public async Task RecordAsync(IReadOnlyList<DeliveryOutcome> outcomes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        await using var cmd = _dataSource.CreateCommand("""
            UPDATE tocsin.notifications n SET status = o.status, attempts = o.attempts, next_attempt_at = o.next, last_error = o.error,
                delivered_at = CASE WHEN o.status = 'delivered' THEN o.at ELSE n.delivered_at END, lease_until = NULL
            FROM unnest(@seqs, @statuses, @attempts, @nexts, @errors, @ats) AS o(seq, status, attempts, next, error, at)
            WHERE n.seq = o.seq;
            """);
        cmd.Parameters.Add(new NpgsqlParameter<long[]>("seqs", [.. outcomes.Select(o => o.Seq)]));
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("statuses", [.. outcomes.Select(o => SqliteOutbox.StatusName(o.Status))]));
        cmd.Parameters.Add(new NpgsqlParameter<int[]>("attempts", [.. outcomes.Select(o => o.Attempts)]));
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]>("nexts", [.. outcomes.Select(o => o.NextAttemptAt)]) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new NpgsqlParameter("errors", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = outcomes.Select(o => (object?)o.Error ?? DBNull.Value).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]>("ats", [.. outcomes.Select(o => o.At)]) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task AddCommandAsync(AlertCommand command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        await using var cmd = _dataSource.CreateCommand("""
            INSERT INTO tocsin.alert_commands (id, type, check_name, created_at, target, ends_at, author, comment)
            VALUES (@id, @type, @check, @created, @target, @ends, @author, @comment) ON CONFLICT (id) DO NOTHING;
            """);
        cmd.Parameters.AddWithValue("id", command.Id);
        cmd.Parameters.AddWithValue("type", command.Type == AlertCommandType.Acknowledge ? "ack" : "silence");
        cmd.Parameters.AddWithValue("check", command.CheckName);
        cmd.Parameters.AddWithValue("created", command.CreatedAt);
        cmd.Parameters.Add(new NpgsqlParameter("target", NpgsqlDbType.Uuid) { Value = (object?)command.Target ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("ends", NpgsqlDbType.TimestampTz) { Value = (object?)command.EndsAt ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("author", NpgsqlDbType.Text) { Value = (object?)command.Author ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("comment", NpgsqlDbType.Text) { Value = (object?)command.Comment ?? DBNull.Value });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> EndSilenceAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand("UPDATE tocsin.alert_commands SET ends_at = @now WHERE id = @id AND type = 'silence' AND ends_at > @now;");
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("now", now);
        return await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredNotification>> ReadNotificationsAsync(NotificationQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var cmd = _dataSource.CreateCommand($"""
            SELECT {PostgresSchema.SelectNotificationColumns} FROM tocsin.notifications
            WHERE (@check::text IS NULL OR check_name = @check) AND (@channel::text IS NULL OR channel = @channel)
              AND (@status::text IS NULL OR status = @status) AND (@before::bigint IS NULL OR seq < @before)
            ORDER BY seq DESC LIMIT @limit;
            """);
        cmd.Parameters.Add(new NpgsqlParameter("check", NpgsqlDbType.Text) { Value = (object?)query.CheckName ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("channel", NpgsqlDbType.Text) { Value = (object?)query.Channel ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("status", NpgsqlDbType.Text) { Value = query.Status is { } s ? SqliteOutbox.StatusName(s) : DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Bigint) { Value = (object?)query.BeforeSeq ?? DBNull.Value });
        cmd.Parameters.AddWithValue("limit", Math.Clamp(query.Limit, 1, 1000));
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<StoredNotification>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(Read(r));
        }

        return list;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ChannelDeliveryStats>> ReadChannelStatsAsync(CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand("""
            SELECT channel, count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'failed'),
                   min(created_at) FILTER (WHERE status = 'pending'),
                   (SELECT last_error FROM tocsin.notifications n2 WHERE n2.channel = n.channel AND n2.status = 'pending' AND n2.last_error IS NOT NULL ORDER BY seq DESC LIMIT 1)
            FROM tocsin.notifications n GROUP BY channel ORDER BY channel;
            """);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<ChannelDeliveryStats>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new ChannelDeliveryStats(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3),
                r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4), r.IsDBNull(5) ? null : r.GetString(5)));
        }

        return list;
    }

    /// <inheritdoc />
    public async Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand("""
            DELETE FROM tocsin.notifications WHERE status <> 'pending' AND created_at < @cutoff;
            DELETE FROM tocsin.alert_events WHERE processed AND at < @cutoff;
            DELETE FROM tocsin.alert_commands WHERE processed AND created_at < @cutoff AND (ends_at IS NULL OR ends_at < @cutoff);
            """);
        cmd.Parameters.AddWithValue("cutoff", cutoff);
        return await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static StoredNotification Read(NpgsqlDataReader r) => new(
        r.GetInt64(0), AlertJson.ReadNotification(r.GetString(1)), r.GetFieldValue<DateTimeOffset>(2), SqliteOutbox.ParseStatus(r.GetString(3)), r.GetInt32(4),
        r.GetFieldValue<DateTimeOffset>(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetFieldValue<DateTimeOffset>(7));
}
