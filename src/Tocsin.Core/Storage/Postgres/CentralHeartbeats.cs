using Npgsql;
using NpgsqlTypes;
using Tocsin.Checks.Heartbeat;

namespace Tocsin.Storage.Postgres;

/// <summary>
/// Heartbeat pings shared through the central database (<c>tocsin.heartbeats</c>, migration 4): the agent a ping reaches
/// merges it in, the agent that runs the check merges it back before judging the deadline. Merging keeps the earliest
/// first sighting and the latest of each ping, so agents writing at once never lose one.
/// </summary>
public sealed class CentralHeartbeats : IHeartbeatShare
{
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Uses <paramref name="dataSource"/> (owned by the caller).</summary>
    public CentralHeartbeats(NpgsqlDataSource dataSource) => _dataSource = dataSource;

    /// <summary>Merges <paramref name="record"/> into the check's central row.</summary>
    /// <exception cref="NpgsqlException">When the database refuses or cannot be reached.</exception>
    public async Task MergeAsync(HeartbeatRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        await using var cmd = _dataSource.CreateCommand("""
            INSERT INTO tocsin.heartbeats AS h (check_name, first_seen_at, last_start_at, last_success_at, last_fail_at, last_fail_message)
            VALUES (@check, @first, @start, @success, @fail, @message)
            ON CONFLICT (check_name) DO UPDATE SET
                first_seen_at = least(h.first_seen_at, excluded.first_seen_at),
                last_start_at = greatest(h.last_start_at, excluded.last_start_at),
                last_success_at = greatest(h.last_success_at, excluded.last_success_at),
                last_fail_message = CASE WHEN excluded.last_fail_at > h.last_fail_at OR h.last_fail_at IS NULL
                                         THEN excluded.last_fail_message ELSE h.last_fail_message END,
                last_fail_at = greatest(h.last_fail_at, excluded.last_fail_at),
                updated_at = now();
            """);
        cmd.Parameters.AddWithValue("check", record.CheckName);
        cmd.Parameters.AddWithValue("first", record.FirstSeenAt);
        cmd.Parameters.Add(new NpgsqlParameter("start", NpgsqlDbType.TimestampTz) { Value = (object?)record.LastStartAt ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("success", NpgsqlDbType.TimestampTz) { Value = (object?)record.LastSuccessAt ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("fail", NpgsqlDbType.TimestampTz) { Value = (object?)record.LastFailAt ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("message", NpgsqlDbType.Text) { Value = (object?)record.LastFailMessage ?? DBNull.Value });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The check's central row, or null when no agent has written one.</summary>
    /// <exception cref="NpgsqlException">When the database cannot be read.</exception>
    public async Task<HeartbeatRecord?> ReadAsync(string checkName, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT first_seen_at, last_start_at, last_success_at, last_fail_at, last_fail_message FROM tocsin.heartbeats WHERE check_name = @check;");
        cmd.Parameters.AddWithValue("check", checkName);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        DateTimeOffset? At(int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
        return new HeartbeatRecord(checkName, r.GetFieldValue<DateTimeOffset>(0), At(1), At(2), At(3), r.IsDBNull(4) ? null : r.GetString(4));
    }
}
