namespace Tocsin.Storage.Sqlite;

/// <summary>
/// The local outbox's schema as ordered migrations; every SQLite statement of the schema lives here.
/// Version <c>n</c> is applied once, in a transaction, and recorded in <c>schema_migrations</c>.
/// Times are Unix epoch milliseconds (UTC); ids are UUIDv7 text, so they sort by time.
/// </summary>
internal static partial class SqliteSchema
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
        (2, "state tracking: hard states, state changes, incidents, hourly and daily aggregates", """
            ALTER TABLE check_states ADD COLUMN hard_state INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE check_states ADD COLUMN hard_change_at INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE check_states ADD COLUMN failing_since INTEGER;
            ALTER TABLE check_states ADD COLUMN flap_history INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE check_states ADD COLUMN flap_count INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE check_states ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE check_states ADD COLUMN open_incident_id TEXT;
            UPDATE check_states SET hard_state = state, hard_change_at = last_change_at,
                failing_since = CASE WHEN state = 0 THEN NULL ELSE last_change_at END;

            CREATE TABLE state_changes (
                id           TEXT    NOT NULL PRIMARY KEY,
                check_name   TEXT    NOT NULL,
                from_state   INTEGER NOT NULL,
                to_state     INTEGER NOT NULL,
                at           INTEGER NOT NULL,
                message      TEXT    NOT NULL,
                result_id    TEXT    NOT NULL,
                incident_id  TEXT
            );
            CREATE INDEX ix_state_changes_check ON state_changes (check_name, id);

            CREATE TABLE incidents (
                id                TEXT    NOT NULL PRIMARY KEY,
                check_name        TEXT    NOT NULL,
                opened_at         INTEGER NOT NULL,
                closed_at         INTEGER,
                failing_since     INTEGER NOT NULL,
                worst_state       INTEGER NOT NULL,
                first_message     TEXT    NOT NULL,
                last_message      TEXT    NOT NULL,
                opened_result_id  TEXT    NOT NULL,
                closed_result_id  TEXT,
                failed_runs       INTEGER NOT NULL
            );
            CREATE INDEX ix_incidents_check ON incidents (check_name, id);
            CREATE INDEX ix_incidents_open ON incidents (id) WHERE closed_at IS NULL;

            CREATE TABLE check_hours (
                check_name       TEXT    NOT NULL,
                bucket           INTEGER NOT NULL,
                runs             INTEGER NOT NULL,
                ok_runs          INTEGER NOT NULL,
                warning_runs     INTEGER NOT NULL,
                duration_sum_ms  REAL    NOT NULL,
                duration_max_ms  REAL    NOT NULL,
                PRIMARY KEY (check_name, bucket)
            ) WITHOUT ROWID;
            CREATE TABLE check_days (
                check_name       TEXT    NOT NULL,
                bucket           INTEGER NOT NULL,
                runs             INTEGER NOT NULL,
                ok_runs          INTEGER NOT NULL,
                warning_runs     INTEGER NOT NULL,
                duration_sum_ms  REAL    NOT NULL,
                duration_max_ms  REAL    NOT NULL,
                PRIMARY KEY (check_name, bucket)
            ) WITHOUT ROWID;

            INSERT INTO check_hours
            SELECT check_name, started_at - started_at % 3600000, count(*), sum(state = 0), sum(state = 1), sum(duration_ms), max(duration_ms)
            FROM results GROUP BY 1, 2;
            INSERT INTO check_days
            SELECT check_name, started_at - started_at % 86400000, count(*), sum(state = 0), sum(state = 1), sum(duration_ms), max(duration_ms)
            FROM results GROUP BY 1, 2;
            """),
        (3, "alerting: alert events, the notifier's alert states, the notification outbox, acknowledgements, silences", """
            CREATE TABLE alert_events (
                seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                id            TEXT    NOT NULL UNIQUE,
                check_name    TEXT    NOT NULL,
                kind          TEXT    NOT NULL,
                type          TEXT    NOT NULL,
                from_state    INTEGER NOT NULL,
                to_state      INTEGER NOT NULL,
                at            INTEGER NOT NULL,
                since         INTEGER,
                message       TEXT    NOT NULL,
                incident_id   TEXT,
                processed     INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX ix_alert_events_pending ON alert_events (seq) WHERE processed = 0;

            CREATE TABLE alert_states (
                check_name    TEXT    NOT NULL PRIMARY KEY,
                data          TEXT    NOT NULL,
                updated_at    INTEGER NOT NULL
            );

            CREATE TABLE notifications (
                seq              INTEGER PRIMARY KEY AUTOINCREMENT,
                id               TEXT    NOT NULL UNIQUE,
                idempotency_key  TEXT    NOT NULL UNIQUE,
                channel          TEXT    NOT NULL,
                check_name       TEXT    NOT NULL,
                type             TEXT    NOT NULL,
                payload          TEXT    NOT NULL,
                created_at       INTEGER NOT NULL,
                status           TEXT    NOT NULL DEFAULT 'pending',
                attempts         INTEGER NOT NULL DEFAULT 0,
                next_attempt_at  INTEGER NOT NULL,
                lease_until      INTEGER,
                last_error       TEXT,
                delivered_at     INTEGER
            );
            CREATE INDEX ix_notifications_pending ON notifications (channel, seq) WHERE status = 'pending';
            CREATE INDEX ix_notifications_check ON notifications (check_name, seq);

            CREATE TABLE alert_commands (
                seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                id            TEXT    NOT NULL UNIQUE,
                type          TEXT    NOT NULL,
                check_name    TEXT    NOT NULL,
                created_at    INTEGER NOT NULL,
                target        TEXT,
                ends_at       INTEGER,
                author        TEXT,
                comment       TEXT,
                processed     INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX ix_alert_commands_pending ON alert_commands (seq) WHERE processed = 0;
            """),
        (4, "heartbeat checks: the last start, success and failure pings of each", """
            CREATE TABLE heartbeats (
                check_name         TEXT    NOT NULL PRIMARY KEY,
                first_seen_at      INTEGER NOT NULL,
                last_start_at      INTEGER,
                last_success_at    INTEGER,
                last_fail_at       INTEGER,
                last_fail_message  TEXT
            );
            """),
    ];

    public const string InsertAlertEvent = """
        INSERT OR IGNORE INTO alert_events (id, check_name, kind, type, from_state, to_state, at, since, message, incident_id)
        VALUES ($id, $check, $kind, $type, $from, $to, $at, $since, $message, $incident);
        """;

    public const string SelectPendingAlertEvents = """
        SELECT seq, id, check_name, kind, type, from_state, to_state, at, since, message, incident_id
        FROM alert_events WHERE processed = 0 ORDER BY seq LIMIT $limit;
        """;

    public const string SelectUnexportedAlertEvents = """
        SELECT seq, id, check_name, kind, type, from_state, to_state, at, since, message, incident_id
        FROM alert_events ORDER BY seq LIMIT $limit;
        """;

    public const string SelectPendingNotifications = """
        SELECT seq, payload, created_at, status, attempts, next_attempt_at, last_error, delivered_at, channel, lease_until
        FROM notifications WHERE channel = $channel AND status = 'pending' ORDER BY seq LIMIT $limit;
        """;

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

    /// <summary>
    /// Writes one check's tracked state as computed by the state machine (state column = soft state,
    /// last_change_at = when the soft state began).
    /// </summary>
    public const string UpsertState = """
        INSERT INTO check_states
            (check_name, kind, state, last_result_id, last_started_at, duration_ms, message,
             consecutive_failures, consecutive_successes, last_change_at,
             hard_state, hard_change_at, failing_since, flap_history, flap_count, flapping, open_incident_id)
        VALUES ($check, $kind, $state, $id, $started, $duration, $message, $failures, $successes, $softChange,
                $hard, $hardChange, $failingSince, $flapHistory, $flapCount, $flapping, $incident)
        ON CONFLICT (check_name) DO UPDATE SET
            kind = excluded.kind, state = excluded.state, last_result_id = excluded.last_result_id,
            last_started_at = excluded.last_started_at, duration_ms = excluded.duration_ms, message = excluded.message,
            consecutive_failures = excluded.consecutive_failures, consecutive_successes = excluded.consecutive_successes,
            last_change_at = excluded.last_change_at, hard_state = excluded.hard_state, hard_change_at = excluded.hard_change_at,
            failing_since = excluded.failing_since, flap_history = excluded.flap_history, flap_count = excluded.flap_count,
            flapping = excluded.flapping, open_incident_id = excluded.open_incident_id;
        """;

    /// <summary>Every check's tracked state with its open incident's columns (null when none).</summary>
    public const string SelectStates = """
        SELECT s.check_name, s.kind, s.state, s.hard_state, s.last_result_id, s.last_started_at, s.duration_ms, s.message,
               s.consecutive_failures, s.consecutive_successes, s.last_change_at, s.hard_change_at, s.failing_since,
               s.flap_history, s.flap_count, s.flapping,
               i.id, i.check_name, i.opened_at, i.closed_at, i.failing_since, i.worst_state, i.first_message, i.last_message,
               i.opened_result_id, i.closed_result_id, i.failed_runs
        FROM check_states s LEFT JOIN incidents i ON i.id = s.open_incident_id;
        """;

    public const string InsertStateChange = """
        INSERT OR IGNORE INTO state_changes (id, check_name, from_state, to_state, at, message, result_id, incident_id)
        VALUES ($id, $check, $from, $to, $at, $message, $result, $incident);
        """;

    public const string UpsertIncident = """
        INSERT INTO incidents (id, check_name, opened_at, closed_at, failing_since, worst_state, first_message, last_message,
                               opened_result_id, closed_result_id, failed_runs)
        VALUES ($id, $check, $opened, $closed, $failingSince, $worst, $first, $last, $openedResult, $closedResult, $failed)
        ON CONFLICT (id) DO UPDATE SET
            closed_at = excluded.closed_at, worst_state = excluded.worst_state, last_message = excluded.last_message,
            closed_result_id = excluded.closed_result_id, failed_runs = excluded.failed_runs;
        """;

    public const string IncidentColumns = """
        id, check_name, opened_at, closed_at, failing_since, worst_state, first_message, last_message, opened_result_id, closed_result_id, failed_runs
        """;

    /// <summary>Adds a batch's runs of one check in one hour ($table is check_hours or check_days).</summary>
    public const string UpsertAggregate = """
        INSERT INTO {0} (check_name, bucket, runs, ok_runs, warning_runs, duration_sum_ms, duration_max_ms)
        VALUES ($check, $bucket, $runs, $ok, $warning, $sum, $max)
        ON CONFLICT (check_name, bucket) DO UPDATE SET
            runs = runs + excluded.runs, ok_runs = ok_runs + excluded.ok_runs, warning_runs = warning_runs + excluded.warning_runs,
            duration_sum_ms = duration_sum_ms + excluded.duration_sum_ms, duration_max_ms = max(duration_max_ms, excluded.duration_max_ms);
        """;

    /// <summary>
    /// Runs, up runs (OK or WARNING) and the duration sum per check since $hour24 (hourly buckets). Every check with
    /// aggregates has a check_states row (both are written in one transaction), so the aggregates are reached by primary
    /// key seeks per check, in check order (no sort): no index on the bucket alone, which would cost every write.
    /// </summary>
    public const string SelectUptimeHours = """
        SELECT s.check_name, sum(h.runs), sum(h.ok_runs + h.warning_runs), sum(h.duration_sum_ms)
        FROM check_states s JOIN check_hours h ON h.check_name = s.check_name AND h.bucket >= $hour24
        GROUP BY s.check_name;
        """;

    /// <summary>Runs and up runs per check since $day7 and since $day30 (daily buckets), like <see cref="SelectUptimeHours"/>.</summary>
    public const string SelectUptimeDays = """
        SELECT s.check_name,
               sum(CASE WHEN d.bucket >= $day7 THEN d.runs ELSE 0 END), sum(CASE WHEN d.bucket >= $day7 THEN d.ok_runs + d.warning_runs ELSE 0 END),
               sum(d.runs), sum(d.ok_runs + d.warning_runs)
        FROM check_states s JOIN check_days d ON d.check_name = s.check_name AND d.bucket >= $day30
        GROUP BY s.check_name;
        """;

    public const string SelectHours = """
        SELECT bucket, runs, ok_runs, warning_runs, duration_sum_ms, duration_max_ms FROM check_hours
        WHERE check_name = $check AND bucket >= $from ORDER BY bucket;
        """;

    public const string SelectDays = """
        SELECT bucket, runs, ok_runs, warning_runs, duration_sum_ms, duration_max_ms FROM check_days
        WHERE check_name = $check AND bucket >= $from ORDER BY bucket;
        """;

    /// <summary>One check's runs with $from ≤ start &lt; $to, newest first (the caller reverses), up to $limit.</summary>
    public const string SelectDurations = """
        SELECT started_at, duration_ms, state FROM results
        WHERE check_name = $check AND started_at >= $from AND started_at < $to
        ORDER BY started_at DESC LIMIT $limit;
        """;

    public const string SelectRecentDurations = """
        SELECT started_at, duration_ms, state FROM results WHERE check_name = $check ORDER BY started_at DESC LIMIT $limit;
        """;

    public const string DeleteOldAggregates = """
        DELETE FROM check_hours WHERE check_name IN (SELECT check_name FROM check_states) AND bucket < $hourCutoff;
        DELETE FROM check_days WHERE check_name IN (SELECT check_name FROM check_states) AND bucket < $cutoff;
        DELETE FROM state_changes WHERE id < $cutoffId;
        DELETE FROM incidents WHERE closed_at < $cutoff;
        """;

    public const string SelectResults = """
        SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results WHERE check_name = $check ORDER BY started_at DESC, id DESC LIMIT $limit;
        """;

    /// <summary>One check's results with $from ≤ start &lt; $to, before the ($beforeStarted, $beforeId) cursor, newest first.</summary>
    public const string SelectResultsPage = """
        SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results
        WHERE check_name = $check AND started_at >= $from AND started_at < $to AND (started_at, id) < ($beforeStarted, $beforeId)
        ORDER BY started_at DESC, id DESC LIMIT $limit;
        """;

    public const string SelectResult = """
        SELECT id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM results WHERE id = $id AND check_name = $check;
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

    public const string UpsertHeartbeat = """
        INSERT INTO heartbeats (check_name, first_seen_at, last_start_at, last_success_at, last_fail_at, last_fail_message)
        VALUES ($check, $firstSeen, $start, $success, $fail, $failMessage)
        ON CONFLICT (check_name) DO UPDATE SET
            first_seen_at = excluded.first_seen_at, last_start_at = excluded.last_start_at, last_success_at = excluded.last_success_at,
            last_fail_at = excluded.last_fail_at, last_fail_message = excluded.last_fail_message;
        """;

    public const string SelectHeartbeats = """
        SELECT check_name, first_seen_at, last_start_at, last_success_at, last_fail_at, last_fail_message FROM heartbeats;
        """;

    public const string SelectAgentId = "SELECT value FROM agent WHERE key = 'agent_id';";

    public const string UpsertAgentValue = "INSERT INTO agent (key, value) VALUES ($key, $value) ON CONFLICT (key) DO UPDATE SET value = excluded.value;";

    public const string DeleteAgentValue = "DELETE FROM agent WHERE key = $key;";

    public const string SelectAgentValues = "SELECT key, value FROM agent;";

    public const string InsertAgentId = "INSERT OR IGNORE INTO agent (key, value) VALUES ('agent_id', $id);";
}
