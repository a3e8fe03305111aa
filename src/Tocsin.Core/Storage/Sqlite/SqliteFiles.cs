using Microsoft.Data.Sqlite;

namespace Tocsin.Storage.Sqlite;

/// <summary>How Tocsin opens its SQLite files (the outbox, the ingestion store).</summary>
internal static class SqliteFiles
{
    /// <summary>Read-write, created when missing, private cache, pooled, 30 s busy timeout.</summary>
    public static string ConnectionString(string fullPath) => new SqliteConnectionStringBuilder
    {
        DataSource = fullPath,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Cache = SqliteCacheMode.Private,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();
}
