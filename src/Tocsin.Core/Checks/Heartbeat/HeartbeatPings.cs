using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Tocsin.Configuration;
using Tocsin.Scheduling;

namespace Tocsin.Checks.Heartbeat;

/// <summary>What a job reported with a ping.</summary>
public enum HeartbeatPing
{
    /// <summary><c>/api/v1/ping/&lt;token&gt;</c>: the job succeeded.</summary>
    Success,
    /// <summary><c>/api/v1/ping/&lt;token&gt;/start</c>: the job started.</summary>
    Start,
    /// <summary><c>/api/v1/ping/&lt;token&gt;/fail</c>: the job failed.</summary>
    Fail,
}

/// <summary>
/// What is remembered of one heartbeat check's pings (times UTC).
/// </summary>
/// <param name="CheckName">The check's name.</param>
/// <param name="FirstSeenAt">When this agent first evaluated or received a ping for the check: the deadline of a check that
/// never reported counts from here.</param>
/// <param name="LastStartAt">The last <c>/start</c>, or null.</param>
/// <param name="LastSuccessAt">The last success ping, or null.</param>
/// <param name="LastFailAt">The last <c>/fail</c>, or null.</param>
/// <param name="LastFailMessage">The first line of the last <c>/fail</c>'s body (at most 200 characters), or null.</param>
public sealed record HeartbeatRecord(
    string CheckName, DateTimeOffset FirstSeenAt, DateTimeOffset? LastStartAt, DateTimeOffset? LastSuccessAt, DateTimeOffset? LastFailAt, string? LastFailMessage)
{
    /// <summary>Whether the last <c>/start</c> came after the last success and the last failure (the job is running).</summary>
    public bool StartPending => LastStartAt is { } s && (LastSuccessAt is not { } ok || s > ok) && (LastFailAt is not { } f || s > f);

    /// <summary>Whether the last failure came after the last success (or there was no success).</summary>
    public bool Failed => LastFailAt is { } f && (LastSuccessAt is not { } ok || f > ok);
}

/// <summary>Where agents share heartbeat records (the central database), so a ping may reach any agent.</summary>
public interface IHeartbeatShare
{
    /// <summary>Merges <paramref name="record"/> into the shared one (earliest first sighting, latest pings).</summary>
    /// <exception cref="Exception">When the share cannot be written (the caller decides what to answer).</exception>
    Task MergeAsync(HeartbeatRecord record, CancellationToken cancellationToken);

    /// <summary>The shared record of <paramref name="checkName"/>, or null.</summary>
    /// <exception cref="Exception">When the share cannot be read.</exception>
    Task<HeartbeatRecord?> ReadAsync(string checkName, CancellationToken cancellationToken);
}

/// <summary>Where heartbeat records are kept across restarts (the local outbox, <c>heartbeats</c> table).</summary>
public interface IHeartbeatStore
{
    /// <summary>Every stored record, by check name.</summary>
    IReadOnlyDictionary<string, HeartbeatRecord> ReadHeartbeats();

    /// <summary>Stores <paramref name="record"/> durably (replacing the check's previous one) before returning.</summary>
    void WriteHeartbeat(HeartbeatRecord record);
}

/// <summary>
/// The pings of every heartbeat check: kept in memory and, with a <see cref="IHeartbeatStore"/>, written through to it
/// before a ping is acknowledged, so they survive a restart. Turns a success or failure ping into a <see cref="CheckResult"/>
/// at once. Thread-safe.
/// </summary>
public sealed class HeartbeatPings
{
    /// <summary>Most characters of a ping's body kept in a result's details (the web endpoint reads at most 10 KiB).</summary>
    public const int MaxBodyChars = 10 * 1024;

    /// <summary>Most characters of a failure's first line kept in messages.</summary>
    public const int MaxLineChars = 200;

    private readonly TimeProvider _time;
    private readonly IHeartbeatStore? _store;
    private readonly ConcurrentDictionary<string, HeartbeatRecord> _records;
    private readonly ConcurrentDictionary<string, Lock> _locks = new(StringComparer.Ordinal);

    /// <summary>Creates the pings' memory, loading what <paramref name="store"/> holds (none when null: in memory only).</summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">When the store cannot be read.</exception>
    public HeartbeatPings(TimeProvider time, IHeartbeatStore? store = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _store = store;
        _records = new ConcurrentDictionary<string, HeartbeatRecord>(store?.ReadHeartbeats() ?? new Dictionary<string, HeartbeatRecord>(), StringComparer.Ordinal);
    }

    /// <summary>The record of <paramref name="checkName"/>, or null when the check was never seen.</summary>
    public HeartbeatRecord? Find(string checkName) => _records.GetValueOrDefault(checkName);

    /// <summary>
    /// The record of <paramref name="checkName"/>; the first call for a check creates it, with <see cref="HeartbeatRecord.FirstSeenAt"/>
    /// = now, and stores it.
    /// </summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">When a new record cannot be stored.</exception>
    public HeartbeatRecord Observe(string checkName)
    {
        ArgumentNullException.ThrowIfNull(checkName);
        if (_records.TryGetValue(checkName, out var record))
        {
            return record;
        }

        lock (LockOf(checkName))
        {
            if (_records.TryGetValue(checkName, out record))
            {
                return record;
            }

            record = new HeartbeatRecord(checkName, _time.GetUtcNow(), null, null, null, null);
            _store?.WriteHeartbeat(record);
            _records[checkName] = record;
            return record;
        }
    }

    /// <summary>
    /// Records a ping of <paramref name="check"/> (stored before this returns) and, for a success or a failure, makes its
    /// result: OK <c>job reported success</c> or CRITICAL <c>job reported failure: &lt;first line of the body&gt;</c>, with
    /// <c>durationMs</c> the time since the job's <c>/start</c> when one is pending and came within the period (or the
    /// schedule's nominal interval) plus grace, else 0, and details <c>{"ping": "success"|"fail", "startedAt": ISO-8601|absent,
    /// "body": text|absent, "bodyTruncated": true|absent}</c>. The result is handed to <paramref name="sink"/> when one is given
    /// (the agent that runs the check); a <c>/start</c> makes no result.
    /// </summary>
    /// <param name="check">A <c>heartbeat</c> check.</param>
    /// <param name="ping">What the job reported.</param>
    /// <param name="body">The request's body as text (cut to <see cref="MaxBodyChars"/>), or null.</param>
    /// <param name="bodyTruncated">Whether the sender's body was longer than what <paramref name="body"/> holds.</param>
    /// <param name="sink">Where the result goes, or null to only record the ping.</param>
    /// <param name="cancellationToken">Cancels waiting for room in the sink.</param>
    /// <returns>The result made (whether or not handed to a sink), or null for a <c>/start</c>.</returns>
    /// <exception cref="ArgumentException">When <paramref name="check"/> is not a heartbeat check.</exception>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">When the ping cannot be stored; nothing was recorded.</exception>
    public async Task<CheckResult?> ReceiveAsync(CheckDefinition check, HeartbeatPing ping, string? body, bool bodyTruncated, IResultSink? sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (check.Options is not HeartbeatCheckOptions options)
        {
            throw new ArgumentException($"check \"{check.Name}\" is not a heartbeat check", nameof(check));
        }

        if (body is { Length: > MaxBodyChars })
        {
            body = body[..MaxBodyChars];
            bodyTruncated = true;
        }

        CheckResult? result = null;
        lock (LockOf(check.Name))
        {
            var now = _time.GetUtcNow();
            var before = _records.GetValueOrDefault(check.Name) ?? new HeartbeatRecord(check.Name, now, null, null, null, null);
            var after = ping switch
            {
                HeartbeatPing.Start => before with { LastStartAt = now },
                HeartbeatPing.Success => before with { LastSuccessAt = now },
                _ => before with { LastFailAt = now, LastFailMessage = FirstLine(body) },
            };
            _store?.WriteHeartbeat(after);
            _records[check.Name] = after;
            if (ping != HeartbeatPing.Start)
            {
                result = MakeResult(check, options, before, ping, body, bodyTruncated, now);
            }
        }

        if (result is not null && sink is not null)
        {
            await sink.WriteAsync(result, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    private static CheckResult MakeResult(CheckDefinition check, HeartbeatCheckOptions options, HeartbeatRecord before, HeartbeatPing ping, string? body, bool truncated, DateTimeOffset now)
    {
        var details = new JsonObject { ["ping"] = ping == HeartbeatPing.Success ? "success" : "fail" };
        double durationMs = 0;
        if (before.StartPending && before.LastStartAt is { } started && now - started <= RunWindow(options, started))
        {
            durationMs = Math.Round((now - started).TotalMilliseconds, 3);
            details["startedAt"] = started.ToString("O", CultureInfo.InvariantCulture);
        }

        if (body is { Length: > 0 })
        {
            details["body"] = body;
        }

        if (truncated)
        {
            details["bodyTruncated"] = true;
        }

        string ran = durationMs > 0 ? $" after running {HeartbeatDeadline.Span(TimeSpan.FromMilliseconds(durationMs))}" : "";
        string message;
        CheckState state;
        if (ping == HeartbeatPing.Success)
        {
            state = CheckState.OK;
            message = $"job reported success{ran}";
        }
        else
        {
            state = CheckState.CRITICAL;
            message = FirstLine(body) is { } line ? $"job reported failure{ran}: {line}" : $"job reported failure{ran}";
        }

        return new CheckResult(Guid.CreateVersion7(now), check.Name, check.Kind, state, now, now, now, durationMs, null, message, details);
    }

    /// <summary>How long before a success a <c>/start</c> may have come to count as the same run: the period (or the schedule's
    /// nominal interval, 1 d when it has none) plus the grace.</summary>
    internal static TimeSpan RunWindow(HeartbeatCheckOptions options, DateTimeOffset started) =>
        (options.Period ?? options.Schedule?.NominalInterval(started) ?? TimeSpan.FromDays(1)) + options.Grace;

    /// <summary>The first non-blank line of <paramref name="body"/>, trimmed and cut to <see cref="MaxLineChars"/>, or null.</summary>
    internal static string? FirstLine(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        foreach (var line in body.AsSpan().EnumerateLines())
        {
            var trimmed = line.Trim();
            if (trimmed.Length > 0)
            {
                string text = new(trimmed);
                text = string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c));
                return text.Length <= MaxLineChars ? text : text[..MaxLineChars] + "…";
            }
        }

        return null;
    }

    /// <summary>
    /// Where pings are shared with other agents (a central database), or null for this agent alone. Set by the host before
    /// the first run. <value>Default: null.</value>
    /// </summary>
    public IHeartbeatShare? Share { get; set; }

    /// <summary>
    /// Takes what another agent recorded for the check into this agent's record: the earliest first sighting and the latest of
    /// each ping (stored when that changes anything). Returns the merged record.
    /// </summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">When a changed record cannot be stored.</exception>
    public HeartbeatRecord Merge(HeartbeatRecord other)
    {
        ArgumentNullException.ThrowIfNull(other);
        lock (LockOf(other.CheckName))
        {
            var mine = _records.GetValueOrDefault(other.CheckName);
            if (mine is null)
            {
                _store?.WriteHeartbeat(other);
                _records[other.CheckName] = other;
                return other;
            }

            static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
            var merged = new HeartbeatRecord(
                mine.CheckName, mine.FirstSeenAt < other.FirstSeenAt ? mine.FirstSeenAt : other.FirstSeenAt, Latest(mine.LastStartAt, other.LastStartAt),
                Latest(mine.LastSuccessAt, other.LastSuccessAt), Latest(mine.LastFailAt, other.LastFailAt),
                other.LastFailAt is { } f && (mine.LastFailAt is not { } m || f > m) ? other.LastFailMessage : mine.LastFailMessage);
            if (merged != mine)
            {
                _store?.WriteHeartbeat(merged);
                _records[other.CheckName] = merged;
            }

            return merged;
        }
    }

    private Lock LockOf(string checkName) => _locks.GetOrAdd(checkName, _ => new Lock());
}
