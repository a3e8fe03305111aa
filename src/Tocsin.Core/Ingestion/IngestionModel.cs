namespace Tocsin.Ingestion;

/// <summary>What a token may do on <c>/ws</c> and <c>/api/v1/logs|notifications</c> (seed 002: the watchdog or a user who owns it).</summary>
public enum IngestionRole
{
    /// <summary><c>agent</c>: the watchdog itself. Uploads logs and notifications, reads its own rows, reads and writes its configuration.</summary>
    Agent,

    /// <summary><c>user</c>: someone who owns the watchdog. Reads rows and the configuration, receives live notifications; cannot upload.</summary>
    User,
}

/// <summary>The two kinds of rows agents upload (seed 002's tables <c>logs</c> and <c>notifications</c>).</summary>
public enum RowKind
{
    /// <summary>Logs: many, short-lived (<c>ingestion.logRetention</c>).</summary>
    Logs,

    /// <summary>Notifications: few, pushed live to user sockets, kept longer (<c>ingestion.notificationRetention</c>).</summary>
    Notifications,
}

/// <summary>
/// Who is connected: the identity every row is scoped by (seed 002's <c>wdcode</c>) and the role of the token used.
/// </summary>
/// <param name="Identity">1–128 characters of <c>A-Z a-z 0-9 . _ : -</c>.</param>
/// <param name="Role">What the token may do.</param>
/// <param name="TokenId">The public id of the token used (for logs; never the token).</param>
public sealed record IngestionPrincipal(string Identity, IngestionRole Role, string TokenId);

/// <summary>
/// One uploaded row, validated (seed 002's <c>{"level": 20, "time": 1700000000.12, "sender": "dns", "message": "…"}</c>).
/// </summary>
/// <param name="Sender">Who in the agent sent it (1 – <c>maxSenderLength</c> characters).</param>
/// <param name="Message">The text (0 – <c>maxMessageLength</c> characters).</param>
/// <param name="Level">0–100 (Python logging's numbers: debug 10, info 20, warning 30, error 40, critical 50).</param>
/// <param name="Time">When it happened (UTC, microsecond precision).</param>
public readonly record struct IngestionRow(string Sender, string Message, int Level, DateTimeOffset Time);

/// <summary>The rows of one upload (one frame or one HTTP request) of one identity.</summary>
/// <param name="Identity">The uploader's identity.</param>
/// <param name="Rows">At least one row.</param>
public sealed record IngestionBatch(string Identity, IReadOnlyList<IngestionRow> Rows);

/// <summary>A stored row, as read back.</summary>
/// <param name="Id">Its id, unique within a store and never reused: on SQLite increasing in commit order; on PostgreSQL reserved
/// before the COPY, so concurrent uploads may commit out of id order — page by (time, id), never by id alone.</param>
/// <param name="Identity">Whose row it is.</param>
/// <param name="Sender">See <see cref="IngestionRow.Sender"/>.</param>
/// <param name="Message">See <see cref="IngestionRow.Message"/>.</param>
/// <param name="Level">See <see cref="IngestionRow.Level"/>.</param>
/// <param name="Time">See <see cref="IngestionRow.Time"/>.</param>
public sealed record StoredRow(long Id, string Identity, string Sender, string Message, int Level, DateTimeOffset Time);

/// <summary>
/// A read of one identity's rows (seed 002's <c>getLogs</c> / <c>getNotifications</c>): rows whose <c>time</c> is at or after
/// <paramref name="Since"/>, optionally of one sender and with <c>level &lt;= MaxLevel</c>, newest first (by time, then id).
/// </summary>
/// <param name="Identity">Only this identity's rows.</param>
/// <param name="Since">Oldest time included (seed 002: now − <c>timewindow</c> seconds).</param>
/// <param name="Sender">Only this sender, when set (exact match).</param>
/// <param name="MaxLevel">Only rows with level ≤ this, when set.</param>
/// <param name="Limit">Most rows answered, 1 – <see cref="RowQuery.MaxLimit"/>.</param>
/// <param name="Before">Paging: only rows strictly older than this (time, id) position, when set.</param>
/// <param name="Text">Only rows whose message contains this text (case-sensitive, literal), when set: the dashboard's search.</param>
public sealed record RowQuery(string Identity, DateTimeOffset Since, string? Sender = null, int? MaxLevel = null, int Limit = 1000, RowCursor? Before = null, string? Text = null)
{
    /// <summary>The largest <see cref="Limit"/>: the largest page (<see cref="IngestionProtocol.MaxLimit"/>, 10000) and one row
    /// more, which readers ask for to know whether another page follows.</summary>
    public const int MaxLimit = IngestionProtocol.MaxLimit + 1;
}

/// <summary>A position in newest-first order: the last row of a page.</summary>
/// <param name="Time">That row's time.</param>
/// <param name="Id">That row's id.</param>
public sealed record RowCursor(DateTimeOffset Time, long Id);

/// <summary>A stored ingestion token (its SHA-256 only; the token itself is shown once, at creation).</summary>
/// <param name="Id">Public id for <c>tokens list|revoke</c>: the first 12 hex digits of the token's SHA-256.</param>
/// <param name="Identity">The identity it names.</param>
/// <param name="Role">Its role.</param>
/// <param name="CreatedAt">When it was made (UTC).</param>
/// <param name="RevokedAt">When it was revoked (UTC), or null while valid.</param>
public sealed record IngestionToken(string Id, string Identity, IngestionRole Role, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>The public id of the token whose SHA-256 is <paramref name="sha256"/> (32 bytes): its first 12 hex digits.</summary>
    public static string IdOf(byte[] sha256)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        return Convert.ToHexStringLower(sha256, 0, 6);
    }
}

/// <summary>The names of <see cref="IngestionRole"/> in configuration, the CLI and the stores: <c>agent</c>, <c>user</c>.</summary>
public static class IngestionRoles
{
    /// <summary><c>agent</c> or <c>user</c>.</summary>
    public static string Name(IngestionRole role) => role == IngestionRole.User ? "user" : "agent";

    /// <summary>The role named <paramref name="name"/> as <see cref="Name"/> writes it (anything but <c>user</c> is an agent:
    /// stores only hold these two).</summary>
    public static IngestionRole Parse(string name) => name == "user" ? IngestionRole.User : IngestionRole.Agent;
}

/// <summary>
/// Thrown by an <see cref="IIngestionStore"/> when rows could not be committed (or read): nothing of the failed transaction
/// was written. The message names the cause without any password or token.
/// </summary>
public sealed class IngestionStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public IngestionStoreException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public IngestionStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause (which must not carry secrets).</summary>
    public IngestionStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The rule for identities (seed 002's <c>wdcode</c>).</summary>
public static class IngestionIdentity
{
    /// <summary>What an identity may be, for error messages.</summary>
    public const string Rule = "1 to 128 characters of A-Z a-z 0-9 . _ : -";

    /// <summary>Whether <paramref name="identity"/> follows <see cref="Rule"/>.</summary>
    public static bool IsValid(string? identity) =>
        identity is { Length: >= 1 and <= 128 } && identity.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');
}
