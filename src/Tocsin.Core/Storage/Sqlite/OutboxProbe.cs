using Microsoft.Data.Sqlite;

namespace Tocsin.Storage.Sqlite;

/// <summary>
/// A cheap readiness read of the outbox file: opens a fresh, unpooled connection to the file at its path
/// (without creating it) and reads the schema version. Unlike the agent's long-lived connections, which keep
/// working on a file deleted or moved away, this fails when the file is gone, replaced or unreadable.
/// </summary>
public static class OutboxProbe
{
    private const string SelectSchemaVersion = "SELECT max(version) FROM schema_migrations;";

    /// <summary>
    /// Reads the outbox at <paramref name="path"/>; returns null when it answered, else a one-line reason
    /// (the SQLite error, naming no secret: the path is configuration, not a credential).
    /// </summary>
    public static string? Check(string path)
    {
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 2,
        }.ToString();
        try
        {
            using var connection = new SqliteConnection(cs);
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = SelectSchemaVersion;
            return cmd.ExecuteScalar() is long ? null : "the outbox has no schema version";
        }
        catch (SqliteException ex)
        {
            return $"cannot read the outbox {path}: {ex.Message}";
        }
    }
}
