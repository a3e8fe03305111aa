using Tocsin.Configuration;
using Tocsin.Ingestion.Sqlite;

namespace Tocsin.Ingestion;

/// <summary>Chooses the ingestion store of a configuration.</summary>
public static class IngestionStores
{
    /// <summary>
    /// The store for <paramref name="config"/>: SQLite at <see cref="IngestionOptions.SqlitePath"/> without
    /// <c>externalDatabaseUri</c>. Not initialised: call <see cref="IIngestionStore.InitializeAsync"/>.
    /// </summary>
    public static IIngestionStore Create(TocsinConfig config, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new SqliteIngestionStore(config.Ingestion.SqlitePath(config.LocalDatabasePath), time);
    }
}
