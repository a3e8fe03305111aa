using System.Text.RegularExpressions;
using Tocsin.Configuration;
using Tocsin.Scheduling;

namespace Tocsin.Checks.Heartbeat;

/// <summary>
/// The <c>heartbeat</c> (push) check kind, for cron jobs and backups that must report in (as Healthchecks.io does): the job
/// calls <c>/api/v1/ping/&lt;token&gt;</c> (success), <c>…/start</c> or <c>…/fail</c>; the check's scheduled run (every
/// <c>interval</c>, 30 s by default as for every check) evaluates the deadline with <see cref="HeartbeatDeadline"/>. Reads
/// <see cref="HeartbeatCheckOptions"/>; pings are kept by <see cref="HeartbeatPings"/>.
/// </summary>
public sealed partial class HeartbeatCheckKind : ICheckKind, ICheckRunner
{
    /// <summary>The kind's name in configuration.</summary>
    public const string KindName = "heartbeat";

    /// <summary>Fewest characters of a token (22 characters of [A-Za-z0-9_-] carry at least 128 bits when random).</summary>
    public const int MinTokenLength = 22;

    /// <summary>Most characters of a token.</summary>
    public const int MaxTokenLength = 200;

    /// <summary>Shortest <c>period</c>.</summary>
    public static readonly TimeSpan MinPeriod = TimeSpan.FromMinutes(1);

    /// <summary>Longest <c>period</c>.</summary>
    public static readonly TimeSpan MaxPeriod = TimeSpan.FromDays(366);

    /// <summary>Longest <c>grace</c>.</summary>
    public static readonly TimeSpan MaxGrace = TimeSpan.FromDays(30);

    private readonly TimeProvider _time;

    /// <summary>Creates the kind, whose runner evaluates deadlines from <paramref name="pings"/> (in memory only when null).</summary>
    public HeartbeatCheckKind(TimeProvider time, HeartbeatPings? pings = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        Pings = pings ?? new HeartbeatPings(time);
    }

    /// <summary>The pings the runner reads.</summary>
    public HeartbeatPings Pings { get; }

    /// <inheritdoc />
    public string Name => KindName;

    /// <inheritdoc />
    public ICheckRunner Runner => this;

    /// <inheritdoc />
    public string Describe(object options) => options is HeartbeatCheckOptions o ? $"push, {o.Expectation}" : "";

    [GeneratedRegex("^[A-Za-z0-9_-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex TokenShape();

    /// <inheritdoc />
    public object ReadOptions(ConfigObjectReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader;
        bool hasPeriod = r.Has("period"), hasSchedule = r.Has("schedule");
        var period = r.Duration("period", MinPeriod, MaxPeriod);
        CronSchedule? schedule = null;
        if (r.String("schedule") is { } text)
        {
            try
            {
                schedule = CronSchedule.Parse(text, r.TimeZone);
                if (schedule.Next(DateTimeOffset.UnixEpoch) is null)
                {
                    r.Error("schedule", ConfigObjectReader.Quote(text), "never fires");
                }
            }
            catch (FormatException ex)
            {
                r.Error("schedule", ConfigObjectReader.Quote(text), $"is not a cron expression ({ex.Message}); give 5 fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"");
            }
        }

        if (hasPeriod && hasSchedule)
        {
            r.Error("schedule", null, "give only one of \"period\" (e.g. \"1d\") and \"schedule\" (a cron expression such as \"0 2 * * *\")");
        }
        else if (!hasPeriod && !hasSchedule)
        {
            r.Error("period", null, "is required: how often the job reports, e.g. \"1d\" (or \"schedule\": a cron expression such as \"0 2 * * *\")");
        }

        var grace = r.Duration("grace", TimeSpan.Zero, MaxGrace) ?? HeartbeatCheckOptions.DefaultGrace;
        string? token = SecretField.Read(r, "token", required: true);
        if (token is not null && (token.Length < MinTokenLength || token.Length > MaxTokenLength || !TokenShape().IsMatch(token)))
        {
            // The value is not shown: it is (or was meant to be) a secret.
            r.Error("token", null, $"must be {MinTokenLength} to {MaxTokenLength} characters from A-Z, a-z, 0-9, '_' and '-' so that it cannot be guessed (e.g. the output of `openssl rand -hex 16`)");
        }

        return new HeartbeatCheckOptions(hasSchedule ? null : period ?? MinPeriod, schedule, grace, token ?? "");
    }

    /// <summary>
    /// Records an error for every heartbeat check whose token another one already uses (a ping must name one check). The
    /// token is not shown.
    /// </summary>
    /// <param name="file">The configuration file, for messages.</param>
    /// <param name="errors">Where errors go.</param>
    /// <param name="checks">The checks read (in configuration order).</param>
    public static void ValidateTokens(string file, List<ConfigError> errors, IReadOnlyList<CheckDefinition> checks)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(checks);
        var first = new Dictionary<string, CheckDefinition>(StringComparer.Ordinal);
        foreach (var check in checks)
        {
            if (check.Options is not HeartbeatCheckOptions { Token.Length: > 0 } o)
            {
                continue;
            }

            if (first.TryGetValue(o.Token, out var other))
            {
                errors.Add(new ConfigError(file, $"checks[{check.Index}] {ConfigObjectReader.Quote(check.Name)}", "token", null,
                    $"is the same as the token of checks[{other.Index}] {ConfigObjectReader.Quote(other.Name)}; each heartbeat check needs its own token"));
            }
            else
            {
                first[o.Token] = check;
            }
        }
    }

    /// <inheritdoc />
    public async Task<RunOutcome> RunAsync(CheckDefinition check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        var options = (HeartbeatCheckOptions)check.Options;
        var record = Pings.Observe(check.Name);
        string? unshared = null;
        if (Pings.Share is { } share)
        {
            // Pings that reached other agents: merge them in before judging. Without the share, judge on what this agent saw.
            try
            {
                await share.MergeAsync(record, cancellationToken).ConfigureAwait(false);
                if (await share.ReadAsync(check.Name, cancellationToken).ConfigureAwait(false) is { } shared)
                {
                    record = Pings.Merge(shared);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                unshared = $" (pings sent to other agents not seen: the central database could not be read, {ex.GetType().Name})";
            }
        }

        var outcome = HeartbeatDeadline.Evaluate(options, record, _time.GetUtcNow());
        return unshared is null ? outcome : outcome with { Message = outcome.Message + unshared };
    }
}
