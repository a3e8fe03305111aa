namespace Tocsin.Storage.Postgres;

/// <summary>
/// The central database's schema as ordered migrations; every PostgreSQL statement of the schema lives
/// here. Everything is in schema <c>tocsin</c>. Version <c>n</c> is applied once, in a transaction holding
/// <see cref="MigrationLockKey"/>, and recorded in <c>tocsin.schema_migrations</c>.
/// <para><c>tocsin.results</c> is range-partitioned by day (UTC) on <c>started_at</c>; one partition per day
/// is named <c>results_pYYYYMMDD</c>. Its key is <c>(id, started_at)</c> because a partitioned table's unique
/// key must hold the partition key; <c>started_at</c> is the time the UUIDv7 id was made from, so the pair is
/// as unique as the id and a re-sent row always lands in the same partition and conflicts.</para>
/// </summary>
internal static class PostgresSchema
{
    /// <summary>Key of the transaction-level advisory lock taken by migrations and partition changes ("tocsin" in ASCII).</summary>
    public const long MigrationLockKey = 0x746f6373696e;

    public static readonly (int Version, string Description, string Sql)[] Migrations =
    [
        (1, "results partitioned by day, agents", """
            CREATE TABLE tocsin.results (
                id            uuid             NOT NULL,
                agent_id      uuid             NOT NULL,
                check_name    text             NOT NULL,
                kind          text             NOT NULL,
                state         smallint         NOT NULL,
                scheduled_at  timestamptz      NOT NULL,
                started_at    timestamptz      NOT NULL,
                finished_at   timestamptz      NOT NULL,
                duration_ms   double precision NOT NULL,
                status_code   integer,
                message       text             NOT NULL,
                details       jsonb,
                PRIMARY KEY (id, started_at)
            ) PARTITION BY RANGE (started_at);
            CREATE INDEX ix_results_check_started ON tocsin.results (check_name, started_at DESC);

            CREATE TABLE tocsin.agents (
                id              uuid        NOT NULL PRIMARY KEY,
                hostname        text        NOT NULL,
                version         text        NOT NULL,
                started_at      timestamptz NOT NULL,
                last_heartbeat  timestamptz NOT NULL
            );
            """),
    ];

    public const string Lock = "SELECT pg_advisory_xact_lock(@key);";

    public const string CreateMigrationsTable = """
        CREATE SCHEMA IF NOT EXISTS tocsin;
        CREATE TABLE IF NOT EXISTS tocsin.schema_migrations (
            version     integer     NOT NULL PRIMARY KEY,
            description text        NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        );
        """;

    public const string SelectVersion = "SELECT coalesce(max(version), 0) FROM tocsin.schema_migrations;";

    public const string InsertMigration = "INSERT INTO tocsin.schema_migrations (version, description) VALUES (@version, @description);";

    /// <summary>Names of the existing day partitions of <c>tocsin.results</c>.</summary>
    public const string SelectPartitions = """
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'tocsin.results'::regclass;
        """;

    /// <summary>Creates the partition <paramref name="name"/> (a name this class made) for one UTC day.</summary>
    public static string CreatePartition(string name, DateOnly day) => $"""
        CREATE TABLE IF NOT EXISTS tocsin.{name} PARTITION OF tocsin.results
            FOR VALUES FROM ('{IsoDate(day)} 00:00:00+00') TO ('{IsoDate(day.AddDays(1))} 00:00:00+00');
        """;

    /// <summary>Drops the partition <paramref name="name"/> (a name read from the catalogue and checked to be a day partition).</summary>
    public static string DropPartition(string name) => $"DROP TABLE IF EXISTS tocsin.{name};";

    private static string IsoDate(DateOnly day) => day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A batch straight into the results; fails with a unique violation when one of its rows is there already.</summary>
    public const string CopyResults = """
        COPY tocsin.results (id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details)
        FROM STDIN (FORMAT BINARY);
        """;

    /// <summary>
    /// The staging table of a batch, dropped at commit: the batch copied straight into the results is also copied
    /// here without its details, for the statements that follow in the transaction; a batch sent again goes
    /// here whole and is inserted with <see cref="InsertFromStaging"/>.
    /// </summary>
    public const string CreateStaging = """
        CREATE TEMP TABLE results_staging (LIKE tocsin.results INCLUDING DEFAULTS) ON COMMIT DROP;
        """;

    public const string CopyStaging = """
        COPY results_staging (id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details)
        FROM STDIN (FORMAT BINARY);
        """;

    /// <summary>Moves the staged batch in; rows already present (a re-sent batch) are ignored.</summary>
    public const string InsertFromStaging = """
        INSERT INTO tocsin.results
            (id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details)
        SELECT id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results_staging
        ON CONFLICT DO NOTHING;
        """;
}
