namespace Tocsin.Storage.Postgres;

/// <summary>
/// The central database's schema as ordered migrations; every PostgreSQL statement of the schema lives
/// here. Everything is in schema <c>tocsin</c>. Version <c>n</c> is applied once, in a transaction holding
/// <see cref="MigrationLockKey"/>, and recorded in <c>tocsin.schema_migrations</c>.
/// <para><c>tocsin.results</c> is range-partitioned by day (UTC) on <c>started_at</c>; one partition per day
/// is named <c>results_pYYYYMMDD</c>. Its key is <c>(id, started_at)</c> because a partitioned table's unique
/// key must hold the partition key; <c>started_at</c> is the time the UUIDv7 id was made from, so the pair is
/// as unique as the id and a re-sent row always lands in the same partition and conflicts.</para>
/// <para><c>tocsin.ingest_logs</c> and <c>tocsin.ingest_notifications</c> (seed 002's uploads) are partitioned the same way
/// on <c>time</c> (<c>ingest_logs_pYYYYMMDD</c>, …); their ids come from their identity sequences
/// (<c>tocsin.ingest_logs_id_seq</c>, …), reserved before a binary COPY writes them explicitly.</para>
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
        (2, "check_states: the newest result of each check across the fleet", """
            CREATE TABLE tocsin.check_states (
                check_name            text             NOT NULL PRIMARY KEY,
                agent_id              uuid             NOT NULL,
                kind                  text             NOT NULL,
                state                 smallint         NOT NULL,
                last_result_id        uuid             NOT NULL,
                last_started_at       timestamptz      NOT NULL,
                duration_ms           double precision NOT NULL,
                status_code           integer,
                message               text             NOT NULL,
                consecutive_failures  integer          NOT NULL,
                last_change_at        timestamptz      NOT NULL,
                updated_at            timestamptz      NOT NULL DEFAULT now()
            );

            -- A database upgraded from version 1: start from each check's newest result (its counts start there).
            INSERT INTO tocsin.check_states
                (check_name, agent_id, kind, state, last_result_id, last_started_at, duration_ms, status_code, message,
                 consecutive_failures, last_change_at)
            SELECT DISTINCT ON (check_name)
                check_name, agent_id, kind, state, id, started_at, duration_ms, status_code, message,
                CASE WHEN state = 0 THEN 0 ELSE 1 END, started_at
            FROM tocsin.results
            ORDER BY check_name, started_at DESC, id DESC;
            """),
        (3, "alerting: alert events exported by the agents, the leader's alert states, the notification outbox, commands", """
            CREATE TABLE tocsin.alert_events (
                seq          bigserial   PRIMARY KEY,
                id           uuid        NOT NULL UNIQUE,
                agent_id     uuid        NOT NULL,
                check_name   text        NOT NULL,
                kind         text        NOT NULL,
                type         text        NOT NULL,
                from_state   smallint    NOT NULL,
                to_state     smallint    NOT NULL,
                at           timestamptz NOT NULL,
                since        timestamptz,
                message      text        NOT NULL,
                incident_id  uuid,
                processed    boolean     NOT NULL DEFAULT false,
                received_at  timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX ix_alert_events_pending ON tocsin.alert_events (seq) WHERE NOT processed;

            CREATE TABLE tocsin.alert_states (
                check_name  text        NOT NULL PRIMARY KEY,
                data        jsonb       NOT NULL,
                updated_at  timestamptz NOT NULL
            );

            CREATE TABLE tocsin.notifications (
                seq              bigserial   PRIMARY KEY,
                id               uuid        NOT NULL UNIQUE,
                idempotency_key  text        NOT NULL UNIQUE,
                channel          text        NOT NULL,
                check_name       text        NOT NULL,
                type             text        NOT NULL,
                payload          text        NOT NULL,
                created_at       timestamptz NOT NULL,
                status           text        NOT NULL DEFAULT 'pending',
                attempts         integer     NOT NULL DEFAULT 0,
                next_attempt_at  timestamptz NOT NULL,
                lease_until      timestamptz,
                last_error       text,
                delivered_at     timestamptz
            );
            CREATE INDEX ix_notifications_pending ON tocsin.notifications (channel, seq) WHERE status = 'pending';
            CREATE INDEX ix_notifications_check ON tocsin.notifications (check_name, seq);

            CREATE TABLE tocsin.alert_commands (
                seq         bigserial   PRIMARY KEY,
                id          uuid        NOT NULL UNIQUE,
                type        text        NOT NULL,
                check_name  text        NOT NULL,
                created_at  timestamptz NOT NULL,
                target      uuid,
                ends_at     timestamptz,
                author      text,
                comment     text,
                processed   boolean     NOT NULL DEFAULT false
            );
            CREATE INDEX ix_alert_commands_pending ON tocsin.alert_commands (seq) WHERE NOT processed;
            """),
        (4, "heartbeats: each heartbeat check's last pings, shared by the agents (a ping may reach any of them)", """
            CREATE TABLE tocsin.heartbeats (
                check_name         text        NOT NULL PRIMARY KEY,
                first_seen_at      timestamptz NOT NULL,
                last_start_at      timestamptz,
                last_success_at    timestamptz,
                last_fail_at       timestamptz,
                last_fail_message  text,
                updated_at         timestamptz NOT NULL DEFAULT now()
            );
            """),
        (5, "ingestion (seed 002): logs and notifications partitioned by day, agent configurations, ingestion tokens", """
            CREATE TABLE tocsin.ingest_logs (
                id        bigint      GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME tocsin.ingest_logs_id_seq),
                identity  text        NOT NULL,
                level     smallint    NOT NULL,
                time      timestamptz NOT NULL,
                sender    text        NOT NULL,
                message   text        NOT NULL
            ) PARTITION BY RANGE (time);
            CREATE INDEX ix_ingest_logs_identity_time ON tocsin.ingest_logs (identity, time DESC, id DESC);

            CREATE TABLE tocsin.ingest_notifications (
                id        bigint      GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME tocsin.ingest_notifications_id_seq),
                identity  text        NOT NULL,
                level     smallint    NOT NULL,
                time      timestamptz NOT NULL,
                sender    text        NOT NULL,
                message   text        NOT NULL
            ) PARTITION BY RANGE (time);
            CREATE INDEX ix_ingest_notifications_identity_time ON tocsin.ingest_notifications (identity, time DESC, id DESC);
            -- Other replicas read notifications by id for live fan-out.
            CREATE INDEX ix_ingest_notifications_id ON tocsin.ingest_notifications (id);

            CREATE TABLE tocsin.ingest_configs (
                identity    text        NOT NULL PRIMARY KEY,
                document    text        NOT NULL,
                updated_at  timestamptz NOT NULL
            );

            CREATE TABLE tocsin.ingest_tokens (
                sha256      bytea       NOT NULL PRIMARY KEY CHECK (length(sha256) = 32),
                id          text        NOT NULL UNIQUE,
                identity    text        NOT NULL,
                role        text        NOT NULL CHECK (role IN ('agent', 'user')),
                created_at  timestamptz NOT NULL,
                revoked_at  timestamptz
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

    /// <summary>Names and estimated row counts (<c>reltuples</c>, real; −1 when never analysed) of the partitions of the
    /// partitioned table <c>@parent</c> (text, e.g. <c>tocsin.results</c>).</summary>
    public const string SelectPartitions = """
        SELECT c.relname, c.reltuples FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = @parent::regclass;
        """;

    /// <summary>Creates the partition <paramref name="name"/> (a name <see cref="DayPartitions"/> made) of <c>tocsin.<paramref name="table"/></c> for one UTC day.</summary>
    public static string CreatePartition(string table, string name, DateOnly day) => $"""
        CREATE TABLE IF NOT EXISTS tocsin.{name} PARTITION OF tocsin.{table}
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

    /// <summary>Key of the transaction-level advisory lock that serialises updates of <c>tocsin.check_states</c> ("tocsin-st" in ASCII, truncated).</summary>
    public const long CheckStatesLockKey = 0x746f6373696e53;

    /// <summary>
    /// Folds the staged batch into <c>tocsin.check_states</c>; run after <see cref="InsertFromStaging"/> in the
    /// same transaction, so a batch counts exactly when its rows are committed. Under an advisory lock (held to
    /// the commit), so agents exporting at once apply their batches one after the other, each on the
    /// committed state of the one before.
    /// <para>Per check, only staged rows newer than the stored newest result (by <c>started_at</c>, then id) count:
    /// a re-sent batch changes nothing, and a result reaching the centre after a newer one of the same check
    /// (a backlog drained late, or the overlap while a check moves between agents) stays in
    /// <c>tocsin.results</c> but is left out of the state. Of the rows that count, in order:
    /// the newest gives state, agent, message, duration; <c>consecutive_failures</c> is the non-OK rows after
    /// the last OK one, plus the stored count when none of them is OK; <c>last_change_at</c> is the start of the
    /// trailing run of rows in the newest state, or the stored value when that run reaches back to a stored
    /// state equal to it. Results from every agent form one sequence per check name.</para>
    /// <para>Hash aggregates over the batch, no sort of it (states are Nagios' 0–3): about a fifth of the time of
    /// <see cref="InsertFromStaging"/> for 50,000 rows of 2,000 checks; a window-function version took twice that.</para>
    /// </summary>
    public static readonly string UpsertCheckStates = $"""
        SELECT pg_advisory_xact_lock({CheckStatesLockKey});
        WITH lasts AS (
            SELECT s.check_name, max(s.started_at) AS newest_at,
                   max(s.started_at) FILTER (WHERE s.state = 0) AS ok_at,
                   max(s.started_at) FILTER (WHERE s.state = 1) AS warning_at,
                   max(s.started_at) FILTER (WHERE s.state = 2) AS critical_at,
                   max(s.started_at) FILTER (WHERE s.state = 3) AS unknown_at
            FROM results_staging s
            LEFT JOIN tocsin.check_states c ON c.check_name = s.check_name
            WHERE c.check_name IS NULL OR (s.started_at, s.id) > (c.last_started_at, c.last_result_id)
            GROUP BY s.check_name
        ),
        newest AS (
            SELECT DISTINCT ON (s.check_name) s.*, l.ok_at,
                   CASE s.state
                       WHEN 0 THEN greatest(l.warning_at, l.critical_at, l.unknown_at)
                       WHEN 1 THEN greatest(l.ok_at, l.critical_at, l.unknown_at)
                       WHEN 2 THEN greatest(l.ok_at, l.warning_at, l.unknown_at)
                       ELSE greatest(l.ok_at, l.warning_at, l.critical_at)
                   END AS other_at
            FROM lasts l JOIN results_staging s ON s.check_name = l.check_name AND s.started_at = l.newest_at
            ORDER BY s.check_name, s.id DESC
        ),
        runs AS (
            SELECT s.check_name,
                   count(*) FILTER (WHERE w.ok_at IS NULL OR s.started_at > w.ok_at) AS failures,
                   min(s.started_at) FILTER (WHERE w.other_at IS NULL OR s.started_at > w.other_at) AS run_started_at
            FROM results_staging s
            JOIN newest w ON w.check_name = s.check_name
            LEFT JOIN tocsin.check_states c ON c.check_name = s.check_name
            WHERE c.check_name IS NULL OR (s.started_at, s.id) > (c.last_started_at, c.last_result_id)
            GROUP BY s.check_name
        )
        INSERT INTO tocsin.check_states AS t
            (check_name, agent_id, kind, state, last_result_id, last_started_at, duration_ms, status_code, message,
             consecutive_failures, last_change_at, updated_at)
        SELECT w.check_name, w.agent_id, w.kind, w.state, w.id, w.started_at, w.duration_ms, w.status_code, w.message,
               CASE WHEN w.ok_at IS NULL THEN coalesce(c.consecutive_failures, 0) + r.failures ELSE r.failures END,
               CASE WHEN w.other_at IS NULL AND c.state = w.state THEN c.last_change_at ELSE r.run_started_at END,
               now()
        FROM newest w
        JOIN runs r ON r.check_name = w.check_name
        LEFT JOIN tocsin.check_states c ON c.check_name = w.check_name
        ON CONFLICT (check_name) DO UPDATE SET
            agent_id = excluded.agent_id, kind = excluded.kind, state = excluded.state,
            last_result_id = excluded.last_result_id, last_started_at = excluded.last_started_at,
            duration_ms = excluded.duration_ms, status_code = excluded.status_code, message = excluded.message,
            consecutive_failures = excluded.consecutive_failures, last_change_at = excluded.last_change_at,
            updated_at = excluded.updated_at
        WHERE (excluded.last_started_at, excluded.last_result_id) > (t.last_started_at, t.last_result_id);
        """;

    /// <summary>The central state of the checks named in <c>@names</c> (a text array).</summary>
    public const string SelectCheckStates = """
        SELECT check_name, agent_id, kind, state, last_result_id, last_started_at, duration_ms, status_code, message,
               consecutive_failures, last_change_at
        FROM tocsin.check_states WHERE check_name = ANY(@names);
        """;

    /// <summary>The newest <c>@limit</c> results of check <c>@check</c> from every agent, newest first.</summary>
    public const string SelectResults = """
        SELECT id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM tocsin.results WHERE check_name = @check
        ORDER BY started_at DESC, id DESC LIMIT @limit;
        """;

    /// <summary>One check's results with @from ≤ start &lt; @to, before the (@before_started, @before_id) position, newest first.</summary>
    public const string SelectResultsPage = """
        SELECT id, agent_id, check_name, kind, state, scheduled_at, started_at, finished_at, duration_ms, status_code, message, details
        FROM tocsin.results
        WHERE check_name = @check AND started_at >= @from AND started_at < @to AND (started_at, id) < (@before_started, @before_id)
        ORDER BY started_at DESC, id DESC LIMIT @limit;
        """;

    /// <summary>Key of the transaction-level advisory lock a notifier's commit holds ("tocsin-al" in ASCII, truncated).</summary>
    public const long AlertingLockKey = 0x746f6373696e41;

    public const string InsertAlertEvents = """
        INSERT INTO tocsin.alert_events (id, agent_id, check_name, kind, type, from_state, to_state, at, since, message, incident_id)
        SELECT * FROM unnest(@ids, @agents, @checks, @kinds, @types, @froms, @tos, @ats, @sinces, @messages, @incidents)
        ON CONFLICT (id) DO NOTHING;
        """;

    public const string SelectPendingAlertEvents = """
        SELECT seq, id, check_name, kind, type, from_state, to_state, at, since, message, incident_id
        FROM tocsin.alert_events WHERE NOT processed ORDER BY seq LIMIT @limit;
        """;

    public const string SelectNotificationColumns = "seq, payload, created_at, status, attempts, next_attempt_at, last_error, delivered_at, channel, lease_until";
}
