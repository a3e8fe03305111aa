using Tocsin.Scheduling;

namespace Tocsin.Checks.BackupFreshness;

/// <summary>
/// Options of a <c>backup-freshness</c> check (seed 001: a CronJob <c>1 0 * * *</c> keeping 7 dumps named
/// <c>dump-YYYY-MM-DD-HH:MM:SS</c> on a volume). Configuration:
/// <code>
/// { "name": "rocketchat-backups", "kind": "backup-freshness", "interval": "5m", "path": "/var/data",
///   "schedule": "1 0 * * *", "grace": "1h", "keep": 7, "minSize": "1MB" }
/// { "name": "db-dumps", "kind": "backup-freshness", "path": "/srv/dumps", "pattern": "db-{yyyyMMdd'T'HHmm}.sql.gz", "maxAge": "25h" }
/// </code>
/// Exactly one of <see cref="MaxAge"/> and <see cref="Schedule"/> is set.
/// </summary>
public sealed record BackupFreshnessOptions
{
    /// <summary>The default <see cref="Grace"/>: 1 h.</summary>
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromHours(1);

    /// <summary>The backup folder's full path (config <c>path</c>; relative to the configuration file's folder, <c>~</c> expanded), whose entries are the dumps.</summary>
    public required string Path { get; init; }

    /// <summary>How dumps are named (config <c>pattern</c>). <value>Default: <see cref="DumpNamePattern.Default"/>.</value></summary>
    public required DumpNamePattern Pattern { get; init; }

    /// <summary>
    /// The time zone of the names' wall-clock times and of <see cref="Schedule"/> (config <c>timeZone</c>, an IANA name), both set
    /// by the backup job's side. <value>Default: the configuration's <c>timeZone</c>, itself UTC by default (the zone of
    /// containers and of Kubernetes CronJobs without <c>spec.timeZone</c>).</value>
    /// </summary>
    public required TimeZoneInfo TimeZone { get; init; }

    /// <summary>How old the newest dump may be (config <c>maxAge</c>, 1 m – 366 d), or null with a <see cref="Schedule"/>.</summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary>
    /// When the backup job runs (config <c>schedule</c>, a 5-field cron expression in <see cref="TimeZone"/>), or null with a
    /// <see cref="MaxAge"/>: once a run's time + <see cref="Grace"/> has passed, a dump for that run must exist (see
    /// <see cref="BackupSetVerdict"/>).
    /// </summary>
    public CronSchedule? Schedule { get; init; }

    /// <summary>
    /// How long a backup run may take (config <c>grace</c>, 0 s – 30 d): with a <see cref="Schedule"/>, how late after a run its dump
    /// may appear; in both modes, how long a new dump may stay under <see cref="MinSize"/> (still being written) and one dump
    /// more than <see cref="Keep"/> may exist (the old one not yet deleted). <value>Default: 1 h.</value>
    /// </summary>
    public TimeSpan Grace { get; init; } = DefaultGrace;

    /// <summary>How many dumps the job keeps (config <c>keep</c>, 1 – 100000); more is a WARNING (retention not working), or null for no limit.</summary>
    public int? Keep { get; init; }

    /// <summary>The smallest size in bytes of a good dump (config <c>minSize</c>, with a unit: <c>1MB</c>, <c>512KiB</c>); a smaller newest dump is CRITICAL, or null for no limit.</summary>
    public long? MinSize { get; init; }

    /// <summary>How freshness is judged, e.g. <c>max age 1d1h</c> or <c>cron 1 0 * * * (UTC) + 1h grace</c>.</summary>
    public string Expectation => Schedule is { } s
        ? $"cron {s} + {Configuration.Duration.Format(Grace)} grace"
        : $"max age {Configuration.Duration.Format(MaxAge ?? TimeSpan.Zero)}";
}