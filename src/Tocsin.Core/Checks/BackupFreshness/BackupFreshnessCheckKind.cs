using System.Collections.Concurrent;
using Tocsin.Configuration;
using Tocsin.Scheduling;

namespace Tocsin.Checks.BackupFreshness;

/// <summary>
/// The <c>backup-freshness</c> check kind (seed 001's backup CronJob): each run lists the backup folder (<c>path</c>), reads each
/// dump's time from its name (<c>pattern</c>, in <c>timeZone</c>), sizes the newest dump, and judges the set with
/// <see cref="BackupSetVerdict"/>: fresh (<c>maxAge</c>, or <c>schedule</c> + <c>grace</c>), not more than <c>keep</c> dumps, the
/// newest at least <c>minSize</c>. Entries whose names do not match are ignored (and counted). Reads
/// <see cref="BackupFreshnessOptions"/>.
/// <para>The folder is read on the thread pool and the run waits for it only until the check's timeout. A read that is still
/// blocked at the next run (a hung NFS mount) is not started again: that run is CRITICAL, naming since when the read
/// hangs, so blocked threads do not pile up.</para>
/// </summary>
public sealed class BackupFreshnessCheckKind : ICheckKind, ICheckRunner
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "backup-freshness";

    /// <summary>Shortest <c>maxAge</c>.</summary>
    public static readonly TimeSpan MinMaxAge = TimeSpan.FromMinutes(1);

    /// <summary>Longest <c>maxAge</c>.</summary>
    public static readonly TimeSpan MaxMaxAge = TimeSpan.FromDays(366);

    /// <summary>Longest <c>grace</c>.</summary>
    public static readonly TimeSpan MaxGrace = TimeSpan.FromDays(30);

    /// <summary>Largest <c>keep</c>.</summary>
    public const int MaxKeep = 100_000;

    /// <summary>Largest <c>minSize</c>: 1 PiB.</summary>
    public const long MaxMinSize = 1L << 50;

    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (Task Read, DateTimeOffset StartedAt)> _reads = new(StringComparer.Ordinal);

    /// <summary>Creates the kind; <paramref name="time"/> gives "now" for the dumps' ages.</summary>
    public BackupFreshnessCheckKind(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner => this;

    /// <summary>30 s: a backup volume may be a slow network mount.</summary>
    public TimeSpan? DefaultTimeout => TimeSpan.FromSeconds(30);

    /// <summary>5 minutes: dumps are made hours apart, and listing a large folder every 30 s is wasted I/O.</summary>
    public TimeSpan? DefaultInterval => TimeSpan.FromMinutes(5);

    /// <inheritdoc />
    public string Describe(object options) => options is BackupFreshnessOptions o
        ? $"backups {Path.TrimEndingDirectorySeparator(o.Path)}/{o.Pattern}, {o.Expectation}{(o.Keep is { } k ? $", keep {k}" : "")}"
        : "";

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        string? path = r.String("path", required: true);
        if (path is not null && (path.Trim().Length == 0 || path.Contains('\0', StringComparison.Ordinal)))
        {
            r.Error("path", ConfigObjectReader.Quote(path), "must be the path of the backup folder, e.g. \"/var/data\" (a relative path is relative to the configuration file's folder)");
            path = null;
        }
        else if (path is not null)
        {
            path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(r.File) ?? ".", ConfigLoader.ExpandHome(path)));
        }

        string patternText = r.String("pattern") ?? DumpNamePattern.Default;
        if (!DumpNamePattern.TryParse(patternText, out var pattern, out string? problem))
        {
            r.Error("pattern", ConfigObjectReader.Quote(patternText), $"{problem}; use {DumpNamePattern.Allowed}");
        }

        var zone = r.TimeZone;
        if (r.String("timeZone") is { } zoneName)
        {
            if (ConfigLoader.FindTimeZone(zoneName) is { } found)
            {
                zone = found;
            }
            else
            {
                r.Error("timeZone", ConfigObjectReader.Quote(zoneName), "unknown time zone; give an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\"");
            }
        }

        bool hasMaxAge = r.Has("maxAge"), hasSchedule = r.Has("schedule");
        var maxAge = r.Duration("maxAge", MinMaxAge, MaxMaxAge);
        CronSchedule? schedule = null;
        if (r.String("schedule") is { } text)
        {
            try
            {
                schedule = CronSchedule.Parse(text, zone);
                if (schedule.Next(DateTimeOffset.UnixEpoch) is null)
                {
                    r.Error("schedule", ConfigObjectReader.Quote(text), "never fires");
                }
            }
            catch (FormatException ex)
            {
                r.Error("schedule", ConfigObjectReader.Quote(text), $"is not a cron expression ({ex.Message}); give the backup job's 5 fields: minute hour day-of-month month day-of-week, e.g. \"1 0 * * *\"");
            }
        }

        if (hasMaxAge && hasSchedule)
        {
            r.Error("schedule", null, "give only one of \"maxAge\" (how old the newest dump may be, e.g. \"25h\") and \"schedule\" (the backup job's cron expression, e.g. \"1 0 * * *\")");
        }
        else if (!hasMaxAge && !hasSchedule)
        {
            r.Error("maxAge", null, "is required: how old the newest dump may be, e.g. \"25h\" (or \"schedule\": the backup job's cron expression, e.g. \"1 0 * * *\", with \"grace\")");
        }

        var grace = r.Duration("grace", TimeSpan.Zero, MaxGrace) ?? BackupFreshnessOptions.DefaultGrace;
        long? keep = r.Integer("keep", 1, MaxKeep);
        long? minSize = r.ByteSize("minSize", 1, MaxMinSize);
        return path is null || pattern is null
            ? new object()
            : new BackupFreshnessOptions
            {
                Path = path, Pattern = pattern, TimeZone = zone, MaxAge = hasSchedule ? null : maxAge ?? MinMaxAge, Schedule = schedule, Grace = grace,
                Keep = (int?)keep, MinSize = minSize,
            };
    }

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var o = (BackupFreshnessOptions)check.Options;
        var now = _time.GetUtcNow();
        if (_reads.TryGetValue(check.Name, out var previous) && !previous.Read.IsCompleted)
        {
            return new RunOutcome(CheckState.CRITICAL,
                $"the previous read of {o.Path}, started {Duration.Format(TimeSpan.FromSeconds(Math.Floor((now - previous.StartedAt).TotalSeconds)))} ago, has not finished: the volume hangs");
        }

        var read = Task.Run(() => Judge(o, now, cancellationToken), cancellationToken);
        _reads[check.Name] = (read, now);
        var outcome = await read.WaitAsync(cancellationToken).ConfigureAwait(false);
        _reads.TryRemove(new(check.Name, (read, now)));
        return outcome;
    }

    private static RunOutcome Judge(BackupFreshnessOptions o, DateTimeOffset now, CancellationToken ct)
    {
        var listing = BackupFolder.List(o.Path, o.Pattern, o.TimeZone, ct);
        return BackupSetVerdict.Evaluate(o, listing, (dump, stopAt) => BackupFolder.Measure(o.Path, dump, stopAt, ct), now);
    }
}