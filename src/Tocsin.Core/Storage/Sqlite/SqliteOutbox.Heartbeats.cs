using Microsoft.Data.Sqlite;
using Tocsin.Checks.Heartbeat;

namespace Tocsin.Storage.Sqlite;

/// <summary>The outbox as the store of heartbeat checks' pings (table <c>heartbeats</c>, schema version 4).</summary>
public sealed partial class SqliteOutbox : IHeartbeatStore
{
    /// <inheritdoc />
    /// <exception cref="SqliteException">When the read fails.</exception>
    public IReadOnlyDictionary<string, HeartbeatRecord> ReadHeartbeats()
    {
        using var c = OpenRead();
        using var cmd = c.CreateCommand();
        cmd.CommandText = SqliteSchema.SelectHeartbeats;
        using var reader = cmd.ExecuteReader();
        var records = new Dictionary<string, HeartbeatRecord>(StringComparer.Ordinal);
        while (reader.Read())
        {
            string name = reader.GetString(0);
            records[name] = new HeartbeatRecord(
                name, Time(reader, 1)!.Value, Time(reader, 2), Time(reader, 3), Time(reader, 4), reader.IsDBNull(5) ? null : reader.GetString(5));
        }

        return records;
    }

    /// <inheritdoc />
    /// <exception cref="SqliteException">When the write fails; nothing is changed.</exception>
    public void WriteHeartbeat(HeartbeatRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_writeLock)
        {
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = SqliteSchema.UpsertHeartbeat;
            cmd.Parameters.AddWithValue("$check", record.CheckName);
            cmd.Parameters.AddWithValue("$firstSeen", record.FirstSeenAt.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$start", (object?)record.LastStartAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$success", (object?)record.LastSuccessAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$fail", (object?)record.LastFailAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$failMessage", (object?)record.LastFailMessage ?? DBNull.Value);
            cmd.ExecuteNonQuery();
        }
    }

    private static DateTimeOffset? Time(SqliteDataReader reader, int column) =>
        reader.IsDBNull(column) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(column));
}
