namespace Tocsin.Storage.Sqlite;

/// <summary>
/// The local outbox's schema as ordered migrations; every SQLite statement of the schema lives here.
/// Version <c>n</c> is applied once, in a transaction, and recorded in <c>schema_migrations</c>.
/// Times are Unix epoch milliseconds (UTC); ids are UUIDv7 text, so they sort by time.
/// </summary>
internal static class SqliteSchema
{
    public static readonly (int Version, string Description, string Sql)[] Migrations =
    [
        (1, "results outbox, check states, agent identity", """
            CREATE TABLE results (
                id            TEXT    NOT NULL PRIMARY KEY,
                check_name    TEXT    NOT NULL,
                kind          TEXT    NOT NULL,
                state         INTEGER NOT NULL,
                scheduled_at  INTEGER NOT NULL,
                started_at    INTEGER NOT NULL,
                finished_at   INTEGER NOT NULL,
                duration_ms   REAL    NOT NULL,
                status_code   INTEGER,
                message       TEXT    NOT NULL,
                details       TEXT,
                exported      INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX ix_results_check_started ON results (check_name, started_at DESC);
            CREATE INDEX ix_results_unexported ON results (id) WHERE exported = 0;

            CREATE TABLE check_states (
                check_name             TEXT    NOT NULL PRIMARY KEY,
                kind                   TEXT    NOT NULL,
                state                  INTEGER NOT NULL,
                last_result_id         TEXT    NOT NULL,
                last_started_at        INTEGER NOT NULL,
                duration_ms            REAL    NOT NULL,
                message                TEXT    NOT NULL,
                consecutive_failures   INTEGER NOT NULL,
                consecutive_successes  INTEGER NOT NULL,
                last_change_at         INTEGER NOT NULL
            );

            CREATE TABLE agent (
                key   TEXT NOT NULL PRIMARY KEY,
                value TEXT NOT NULL
            );
            """),
    ];

    public const string CreateMigrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     INTEGER NOT NULL PRIMARY KEY,
            description TEXT    NOT NULL,
            applied_at  TEXT    NOT NULL
        );
        """;

    public const string InsertResult = """
        INSERT OR IGNORE INTO results
            (id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details)
        VALUES ($id, $check, $kind, $state, $scheduled, $started, $finished, $duration, $status, $message, $details);
        """;

    /// <summary>Keeps one row per check with the latest result and consecutive counts; ignores results older than the stored one.</summary>
    public const string UpsertState = """
        INSERT INTO check_states
            (check_name, kind, state, last_result_id, last_started_at, duration_ms, message,
             consecutive_failures, consecutive_successes, last_change_at)
        VALUES ($check, $kind, $state, $id, $started, $duration, $message,
                CASE WHEN $state = 0 THEN 0 ELSE 1 END, CASE WHEN $state = 0 THEN 1 ELSE 0 END, $started)
        ON CONFLICT (check_name) DO UPDATE SET
            kind = excluded.kind,
            consecutive_failures = CASE WHEN excluded.state = 0 THEN 0 ELSE check_states.consecutive_failures + 1 END,
            consecutive_successes = CASE WHEN excluded.state = 0 THEN check_states.consecutive_successes + 1 ELSE 0 END,
            last_change_at = CASE WHEN excluded.state <> check_states.state THEN excluded.last_started_at ELSE check_states.last_change_at END,
            state = excluded.state,
            last_result_id = excluded.last_result_id,
            last_started_at = excluded.last_started_at,
            duration_ms = excluded.duration_ms,
            message = excluded.message
        WHERE excluded.last_result_id > check_states.last_result_id;
        """;

    public const string SelectStates = """
        SELECT check_name, kind, state, last_started_at, duration_ms, message, consecutive_failures, last_change_at
        FROM check_states;
        """;

    public const string SelectResults = """
        SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results WHERE check_name = $check ORDER BY started_at DESC, id DESC LIMIT $limit;
        """;

    public const string CountResults = "SELECT count(*) FROM results;";

    /// <summary>
    /// Deletes up to $limit results whose UUIDv7 id (so whose start) is older than $cutoff, walking the
    /// primary key; when $exportedOnly is 1, only rows already exported.
    /// </summary>
    public const string DeleteOldResults = """
        DELETE FROM results WHERE id IN (
            SELECT id FROM results WHERE id < $cutoff AND ($exportedOnly = 0 OR exported = 1) ORDER BY id LIMIT $limit);
        """;

    /// <summary>Up to $limit results not yet exported, oldest first (UUIDv7 order), through the partial index on unexported ids.</summary>
    public const string SelectUnexported = """
        SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results WHERE exported = 0 ORDER BY id LIMIT $limit;
        """;

    /// <summary>
    /// The oldest unexported results after a cursor (?1, exclusive; '' = from the start), leaving out the id range
    /// ?2–?3 (a batch still being sent; '' '' = none), oldest first, at most ?4. Stepped with SQLite's own API.
    /// </summary>
    public const string SelectUnexportedAfter = """
        SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results WHERE exported = 0 AND id > ?1 AND NOT (id BETWEEN ?2 AND ?3) ORDER BY id LIMIT ?4;
        """;

    /// <summary>The newest unexported results above ?1 (exclusive), leaving out ?2–?3, newest first, at most ?4.</summary>
    public const string SelectNewestUnexported = """
        SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results WHERE exported = 0 AND id > ?1 AND NOT (id BETWEEN ?2 AND ?3) ORDER BY id DESC LIMIT ?4;
        """;

    public const string MarkExported = "UPDATE results SET exported = 1 WHERE id = ?1 AND exported = 0;";

    public const string CountUnexported = "SELECT count(*) FROM results WHERE exported = 0;";

    public const string SelectOldestUnexported = "SELECT started_at FROM results WHERE exported = 0 ORDER BY id LIMIT 1;";

    public const string SelectPageCounts = "SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size();";

    /// <summary>Start times (Unix ms) of the first and last of the $limit oldest unexported results.</summary>
    public const string SelectOldestUnexportedRange = """
        SELECT min(started_at), max(started_at) FROM (
            SELECT started_at FROM results WHERE exported = 0 ORDER BY id LIMIT $limit);
        """;

    /// <summary>Deletes the $limit oldest unexported results (the loss <c>maxOutboxSize</c> allows).</summary>
    public const string DeleteOldestUnexported = """
        DELETE FROM results WHERE id IN (
            SELECT id FROM results WHERE exported = 0 ORDER BY id LIMIT $limit);
        """;

    public const string SelectAgentId = "SELECT value FROM agent WHERE key = 'agent_id';";

    public const string UpsertAgentValue = "INSERT INTO agent (key, value) VALUES ($key, $value) ON CONFLICT (key) DO UPDATE SET value = excluded.value;";

    public const string DeleteAgentValue = "DELETE FROM agent WHERE key = $key;";

    public const string SelectAgentValues = "SELECT key, value FROM agent;";

    public const string InsertAgentId = "INSERT OR IGNORE INTO agent (key, value) VALUES ('agent_id', $id);";
}
