using System.Globalization;
using Tocsin.Configuration;
using Tocsin.Scheduling;

namespace Tocsin.Checks.Heartbeat;

/// <summary>
/// Options of a <c>heartbeat</c> (push) check: a job (cron job, backup) that must report in by calling
/// <c>/api/v1/ping/&lt;token&gt;</c>. Configuration:
/// <code>
/// { "name": "nightly-backup", "kind": "heartbeat", "period": "1d", "grace": "1h", "tokenEnv": "BACKUP_PING_TOKEN" }
/// { "name": "nightly-backup", "kind": "heartbeat", "schedule": "0 2 * * *", "grace": "30m", "tokenFile": "backup.token" }
/// </code>
/// Exactly one of <see cref="Period"/> and <see cref="Schedule"/> is set.
/// </summary>
/// <param name="Period">How often the job reports (config <c>period</c>, 1 m – 366 d), or null with a <see cref="Schedule"/>.</param>
/// <param name="Schedule">When the job runs (config <c>schedule</c>, a 5-field cron expression in the configuration's
/// <c>timeZone</c>), or null with a <see cref="Period"/>.</param>
/// <param name="Grace">How long after the expected time a ping may still come before the check turns CRITICAL, and how long
/// a job that sent <c>/start</c> may run (config <c>grace</c>, 0 s – 30 d). <value>Default: 1 h (as Healthchecks.io).</value></param>
/// <param name="Token">The secret part of the ping URL (config <c>token</c>, <c>tokenEnv</c> or <c>tokenFile</c>): at least
/// <see cref="HeartbeatCheckKind.MinTokenLength"/> characters of <c>[A-Za-z0-9_-]</c>. Never shown: <see cref="ToString"/> and the
/// definition view hide it.</param>
public sealed record HeartbeatCheckOptions(TimeSpan? Period, CronSchedule? Schedule, TimeSpan Grace, string Token)
{
    /// <summary>The grace when the check sets none: 1 h.</summary>
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromHours(1);

    /// <summary>How the deadline is stated, e.g. <c>every 1d + 1h grace</c> or <c>cron 0 2 * * * (Europe/Paris) + 1h grace</c>.</summary>
    public string Expectation => Schedule is { } s
        ? $"cron {s} + {Duration.Format(Grace)} grace"
        : $"every {Duration.Format(Period ?? TimeSpan.Zero)} + {Duration.Format(Grace)} grace";

    /// <summary>The options without the token, e.g. <c>heartbeat every 1d + 1h grace</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"heartbeat {Expectation}, token {Secrets.Mask}");
}
