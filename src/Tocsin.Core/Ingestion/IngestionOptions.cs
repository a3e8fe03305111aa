using System.Globalization;
using Tocsin.Configuration;

namespace Tocsin.Ingestion;

/// <summary>
/// The <c>ingestion</c> section: seed 002's log and notification backend served by <c>tocsin start</c> on <c>/ws</c> and
/// <c>/api/v1/logs|notifications</c>. Every field is optional.
/// <code>
/// "ingestion": { "enabled": true, "databasePath": "~/.tocsin/local.ingestion.db", "logRetention": "7d",
///                "notificationRetention": "30d", "cleanupInterval": "1m", "maxFrameBytes": "1MiB", "maxRowsPerFrame": 10000,
///                "maxSenderLength": 200, "maxMessageLength": 65536, "maxRowAge": "30d", "maxClockSkew": "5m",
///                "maxRowsPerSecond": 200000, "maxInFlight": 16, "maxConnections": 20000 }
/// </code>
/// Seed 002's environment variables are honoured when the field is absent: <c>LOGS_TIMEWINDOW</c> (seconds) for
/// <c>logRetention</c>, <c>CLEANUP_INTERVAL</c> (seconds) for <c>cleanupInterval</c>.
/// </summary>
public sealed record IngestionOptions
{
    /// <summary>Whether the endpoints are served (<c>enabled</c>). <value>Default: true.</value></summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The SQLite file used when there is no <c>externalDatabaseUri</c> (<c>databasePath</c>; relative to the
    /// configuration file, <c>~</c> expanded). <value>Default: the local database's path with <c>.ingestion.db</c> in place
    /// of its extension.</value></summary>
    public string? DatabasePath { get; init; }

    /// <summary>How long logs are kept (<c>logRetention</c>, 1 min – 3650 d; seed 002's <c>LOGS_TIMEWINDOW</c>). <value>Default: 7 d.</value></summary>
    public TimeSpan LogRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How long notifications are kept (<c>notificationRetention</c>, 1 h – 3650 d). <value>Default: 30 d.</value></summary>
    public TimeSpan NotificationRetention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How often old rows are purged (<c>cleanupInterval</c>, 1 s – 1 d; seed 002's <c>CLEANUP_INTERVAL</c>). <value>Default: 1 min.</value></summary>
    public TimeSpan CleanupInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Largest WebSocket message or HTTP body in bytes (<c>maxFrameBytes</c>, 1 KiB – 64 MiB). Over it: an error reply
    /// (HTTP 413) or close 1009 (message too big). <value>Default: 1 MiB.</value></summary>
    public long MaxFrameBytes { get; init; } = 1 << 20;

    /// <summary>Most rows in one upload (<c>maxRowsPerFrame</c>, 1–100000). <value>Default: 10000.</value></summary>
    public int MaxRowsPerFrame { get; init; } = 10_000;

    /// <summary>Longest <c>sender</c> in characters (<c>maxSenderLength</c>, 1–1024). <value>Default: 200.</value></summary>
    public int MaxSenderLength { get; init; } = 200;

    /// <summary>Longest <c>message</c> in characters (<c>maxMessageLength</c>, 1–1048576). <value>Default: 65536.</value></summary>
    public int MaxMessageLength { get; init; } = 65_536;

    /// <summary>Oldest <c>time</c> accepted, as an age (<c>maxRowAge</c>, 1 min – 3650 d). <value>Default: 30 d.</value></summary>
    public TimeSpan MaxRowAge { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How far in the future a <c>time</c> may be (<c>maxClockSkew</c>, 0 s – 1 d). <value>Default: 5 min.</value></summary>
    public TimeSpan MaxClockSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Rows per second one connection may upload, on average (<c>maxRowsPerSecond</c>, 1–10000000); faster uploads
    /// wait (back-pressure: the server stops reading the socket) rather than fail. <value>Default: 200000.</value></summary>
    public int MaxRowsPerSecond { get; init; } = 200_000;

    /// <summary>Uploads of one connection waiting for their commit at once (<c>maxInFlight</c>, 1–1024); past it the server
    /// stops reading that socket until one is acknowledged. <value>Default: 16.</value></summary>
    public int MaxInFlight { get; init; } = 16;

    /// <summary>Open WebSocket connections at once, all identities together (<c>maxConnections</c>, 1–1000000); past it an
    /// upgrade is refused with HTTP 503. <value>Default: 20000.</value></summary>
    public int MaxConnections { get; init; } = 20_000;

    /// <summary>The retention of <paramref name="kind"/>.</summary>
    public TimeSpan RetentionOf(RowKind kind) => kind == RowKind.Logs ? LogRetention : NotificationRetention;

    /// <summary>The SQLite file for a configuration whose local database is <paramref name="localDatabasePath"/>.</summary>
    public string SqlitePath(string localDatabasePath) =>
        DatabasePath ?? Path.Join(Path.GetDirectoryName(localDatabasePath), Path.GetFileNameWithoutExtension(localDatabasePath) + ".ingestion.db");

    /// <summary>
    /// Reads the optional <c>ingestion</c> section of <paramref name="root"/>; problems are recorded on it (field, value, what
    /// is allowed). <paramref name="environment"/> gives seed 002's variables (<c>LOGS_TIMEWINDOW</c>, <c>CLEANUP_INTERVAL</c>,
    /// whole seconds), used when the section does not set the field; a bad value is an error naming the variable.
    /// </summary>
    public static IngestionOptions Read(ConfigObjectReader root, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(environment);
        var o = new IngestionOptions();
        var section = root.Object("ingestion");
        TimeSpan? FromEnvironment(string variable, string field, TimeSpan min, TimeSpan max)
        {
            string? text = environment(variable);
            if (string.IsNullOrWhiteSpace(text) || (section?.Has(field) ?? false))
            {
                return null;
            }

            if (long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
                && seconds >= min.TotalSeconds && seconds <= max.TotalSeconds)
            {
                return TimeSpan.FromSeconds(seconds);
            }

            root.Errors.Add(new ConfigError(root.File, "environment", variable, ConfigObjectReader.Quote(text),
                $"must be whole seconds from {min.TotalSeconds:0} to {max.TotalSeconds:0} (it sets ingestion.{field})"));
            return null;
        }

        var logRetentionMin = TimeSpan.FromMinutes(1);
        var logRetentionMax = TimeSpan.FromDays(3650);
        var cleanupMin = TimeSpan.FromSeconds(1);
        var cleanupMax = TimeSpan.FromDays(1);
        o = o with
        {
            LogRetention = FromEnvironment("LOGS_TIMEWINDOW", "logRetention", logRetentionMin, logRetentionMax) ?? o.LogRetention,
            CleanupInterval = FromEnvironment("CLEANUP_INTERVAL", "cleanupInterval", cleanupMin, cleanupMax) ?? o.CleanupInterval,
        };
        if (section is null)
        {
            return o;
        }

        string? databasePath = section.String("databasePath");
        if (databasePath is not null && (databasePath.Trim().Length == 0 || databasePath.Contains('\0', StringComparison.Ordinal)))
        {
            section.Error("databasePath", ConfigObjectReader.Quote(databasePath), "must be the path of a SQLite file (relative paths are relative to the configuration file's folder)");
            databasePath = null;
        }
        else if (databasePath is not null)
        {
            databasePath = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(section.File) ?? ".", ConfigLoader.ExpandHome(databasePath)));
        }

        o = o with
        {
            Enabled = section.Bool("enabled") ?? o.Enabled,
            DatabasePath = databasePath,
            LogRetention = section.Duration("logRetention", logRetentionMin, logRetentionMax) ?? o.LogRetention,
            NotificationRetention = section.Duration("notificationRetention", TimeSpan.FromHours(1), TimeSpan.FromDays(3650)) ?? o.NotificationRetention,
            CleanupInterval = section.Duration("cleanupInterval", cleanupMin, cleanupMax) ?? o.CleanupInterval,
            MaxFrameBytes = section.ByteSize("maxFrameBytes", 1024, 64L << 20) ?? o.MaxFrameBytes,
            MaxRowsPerFrame = (int)(section.Integer("maxRowsPerFrame", 1, 100_000) ?? o.MaxRowsPerFrame),
            MaxSenderLength = (int)(section.Integer("maxSenderLength", 1, 1024) ?? o.MaxSenderLength),
            MaxMessageLength = (int)(section.Integer("maxMessageLength", 1, 1 << 20) ?? o.MaxMessageLength),
            MaxRowAge = section.Duration("maxRowAge", TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650)) ?? o.MaxRowAge,
            MaxClockSkew = section.Duration("maxClockSkew", TimeSpan.Zero, TimeSpan.FromDays(1)) ?? o.MaxClockSkew,
            MaxRowsPerSecond = (int)(section.Integer("maxRowsPerSecond", 1, 10_000_000) ?? o.MaxRowsPerSecond),
            MaxInFlight = (int)(section.Integer("maxInFlight", 1, 1024) ?? o.MaxInFlight),
            MaxConnections = (int)(section.Integer("maxConnections", 1, 1_000_000) ?? o.MaxConnections),
        };
        section.RejectUnknownFields();
        return o;
    }
}
