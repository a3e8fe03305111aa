using Tocsin.Checks;

namespace Tocsin.Configuration;

/// <summary>
/// The validated configuration of one agent, from Tocsin's own JSON format or seed 004's.
/// </summary>
public sealed record TocsinConfig
{
    /// <summary>Absolute path of the file this configuration was read from.</summary>
    public required string SourcePath { get; init; }

    /// <summary>Which format the file was in.</summary>
    public ConfigFormat Format { get; init; } = ConfigFormat.Tocsin;

    /// <summary>Absolute path of the local SQLite outbox. <value>Default: <c>~/.tocsin/local.db</c>.</value></summary>
    public required string LocalDatabasePath { get; init; }

    /// <summary>The central PostgreSQL to export to (URI or key=value form), or <see langword="null"/>. Secret: never logged.</summary>
    public string? ExternalDatabaseUri { get; init; }

    /// <summary>
    /// Absolute path of a file whose first line is the central database's password, used when
    /// <see cref="ExternalDatabaseUri"/> has none (before the <c>TOCSIN_PG_PASSWORD</c> environment variable), or <see langword="null"/>.
    /// </summary>
    public string? ExternalDatabasePasswordFile { get; init; }

    /// <summary>How long results stay in the central database; whole days are dropped after it. <value>Default: 30 days.</value></summary>
    public TimeSpan CentralRetention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Where the web server listens: one or more URLs separated by <c>;</c>. <value>Default: <c>http://127.0.0.1:8080</c>.</value></summary>
    public string WebUrls { get; init; } = "http://127.0.0.1:8080";

    /// <summary>Credentials for the write endpoints and the private area (config <c>web.auth</c>). <value>Default: none configured.</value></summary>
    public WebAuthConfig WebAuth { get; init; } = new();

    /// <summary>Other monitors' URLs listed as <c>related_monitor</c> links of <c>/monitor.haljson</c> (config <c>web.relatedMonitors</c>). <value>Default: none.</value></summary>
    public IReadOnlyList<Uri> RelatedMonitors { get; init; } = [];

    /// <summary>The default of <see cref="WebTitle"/>.</summary>
    public const string DefaultWebTitle = "Tocsin";

    /// <summary>Title of this monitor in <c>/monitor.haljson</c> (config <c>web.title</c>; SlapOS' <c>monitor-title</c>). <value>Default: <c>Tocsin</c>.</value></summary>
    public string WebTitle { get; init; } = DefaultWebTitle;

    /// <summary>How long results stay in the local outbox before the collector deletes them. <value>Default: 7 days.</value></summary>
    public TimeSpan LocalRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>The default of <see cref="MaxOutboxSize"/>: 1 GiB.</summary>
    public const long DefaultMaxOutboxSize = 1L << 30;

    /// <summary>
    /// Most space the outbox's results may take, in bytes (config <c>maxOutboxSize</c>, 1 MiB – 16 TiB, e.g. <c>1GiB</c>).
    /// Past it the collector deletes exported results first and then, only if still over, the oldest unexported
    /// ones: a counted, logged loss. <value>Default: 1 GiB.</value>
    /// </summary>
    public long MaxOutboxSize { get; init; } = DefaultMaxOutboxSize;

    /// <summary>Heartbeat interval of agents sharing a central database (config <c>fleet.heartbeatInterval</c>, 1 s – 5 m). <value>Default: 10 s.</value></summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most runs in flight at once across all checks. <value>Default: 1024.</value></summary>
    public int MaxConcurrentRuns { get; init; } = 1024;

    /// <summary>
    /// Absolute path of the folder where <c>&lt;name&gt;.status.json</c> files are written after each committed result, in
    /// SlapOS' format (config <c>slapos.publicFolder</c>), or <see langword="null"/> for none. <value>Default: none.</value>
    /// </summary>
    public string? SlapOsPublicFolder { get; init; }

    /// <summary>The checks, in file order.</summary>
    public IReadOnlyList<CheckDefinition> Checks { get; init; } = [];

    /// <summary>
    /// Seed 003 promise directories (config <c>promiseDirectories</c>, absolute; relative paths and <c>~</c> resolved at load):
    /// every executable file in them becomes a <c>command</c> check, picked up live (see <see cref="Checks.Command.PromiseDirectory"/>).
    /// <value>Default: none.</value>
    /// </summary>
    public IReadOnlyList<string> PromiseDirectories { get; init; } = [];

    /// <summary>The notification channels (config <c>notifications</c>), in file order. <value>Default: none.</value></summary>
    public IReadOnlyList<Alerting.NotificationChannelDefinition> Notifications { get; init; } = [];

    /// <summary>Longest one notification delivery may take (config <c>alerting.deliveryTimeout</c>, 1 s – 5 m). <value>Default: 10 s.</value></summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A notification not delivered this long after it was made is given up (config <c>alerting.giveUpAfter</c>, 1 m – 30 d). <value>Default: 24 h.</value></summary>
    public TimeSpan DeliveryGiveUpAfter { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Planned maintenance windows (config <c>maintenance</c>). <value>Default: none.</value></summary>
    public IReadOnlyList<Alerting.MaintenanceWindow> Maintenance { get; init; } = [];

    /// <summary>
    /// The address users reach the dashboard at (config <c>web.publicUrl</c>, e.g. <c>https://tocsin.example.org/</c>), used for
    /// links in notifications, or null for none. <value>Default: null.</value>
    /// </summary>
    public Uri? WebPublicUrl { get; init; }

    /// <summary>The time zone of cron schedules (config <c>timeZone</c>, an IANA name such as <c>Europe/Paris</c>). <value>Default: UTC.</value></summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>The log and notification backend (section <c>ingestion</c>, seed 002).</summary>
    public Ingestion.IngestionOptions Ingestion { get; init; } = new();
}

/// <summary>The file formats Tocsin reads.</summary>
public enum ConfigFormat
{
    /// <summary>Tocsin's own format (<c>checks</c>, durations with units).</summary>
    Tocsin,
    /// <summary>Seed 004's <c>monitoring-config</c> (<c>services</c>, <c>interval_sec</c>).</summary>
    Seed004,
}
