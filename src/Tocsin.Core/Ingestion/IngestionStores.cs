using Npgsql;
using Tocsin.Configuration;
using Tocsin.Ingestion.Postgres;
using Tocsin.Ingestion.Sqlite;

namespace Tocsin.Ingestion;

/// <summary>Chooses the ingestion store of a configuration.</summary>
public static class IngestionStores
{
    /// <summary>
    /// The store for <paramref name="config"/>: the central PostgreSQL through <paramref name="central"/> when
    /// <c>externalDatabaseUri</c> is set (shared by every replica), else SQLite at <see cref="IngestionOptions.SqlitePath"/>.
    /// Not initialised: call <see cref="IIngestionStore.InitializeAsync"/>. The caller keeps owning <paramref name="central"/>.
    /// </summary>
    /// <exception cref="ArgumentException">When the configuration has a central database but <paramref name="central"/> is null.</exception>
    public static IIngestionStore Create(TocsinConfig config, TimeProvider time, NpgsqlDataSource? central = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.ExternalDatabaseUri is null)
        {
            return new SqliteIngestionStore(config.Ingestion.SqlitePath(config.LocalDatabasePath), time);
        }

        return new PostgresIngestionStore(central ?? throw new ArgumentException("the configuration has a central database: give its data source", nameof(central)), time);
    }
}
