using System.Text;

namespace Tocsin.Ingestion;

/// <summary>The <c>action</c> names of seed 002's WebSocket protocol (case-sensitive, as the original).</summary>
public static class IngestionActions
{
    /// <summary><c>{"action": "auth", "token": "…"}</c>: the first frame, when the upgrade carried no <c>Authorization</c> header.</summary>
    public const string Auth = "auth";

    /// <summary><c>{"action": "ping"}</c>: answered <c>{"success": true, "action": "ping"}</c>.</summary>
    public const string Ping = "ping";

    /// <summary><c>{"action": "uploadLogs", "logs": [row, …]}</c> (agents only).</summary>
    public const string UploadLogs = "uploadLogs";

    /// <summary><c>{"action": "uploadNotifications", "notifications": [row, …]}</c> (agents only); also the action of live pushes.</summary>
    public const string UploadNotifications = "uploadNotifications";

    /// <summary><c>{"action": "getLogs", "timewindow": s, "sender"?, "level"?, "limit"?, "before"?}</c>.</summary>
    public const string GetLogs = "getLogs";

    /// <summary><c>{"action": "getNotifications", …}</c>, as <see cref="GetLogs"/>.</summary>
    public const string GetNotifications = "getNotifications";

    /// <summary><c>{"action": "getConfig"}</c>.</summary>
    public const string GetConfig = "getConfig";

    /// <summary><c>{"action": "insertConfig", "config": {…}}</c> (agents only).</summary>
    public const string InsertConfig = "insertConfig";

    /// <summary>Every action, in the order error comments list them.</summary>
    public static readonly IReadOnlyList<string> All = [Auth, Ping, UploadLogs, UploadNotifications, GetLogs, GetNotifications, GetConfig, InsertConfig];

    /// <summary>The upload action of <paramref name="kind"/>.</summary>
    public static string Upload(RowKind kind) => kind == RowKind.Logs ? UploadLogs : UploadNotifications;

    /// <summary>The read action of <paramref name="kind"/>.</summary>
    public static string Read(RowKind kind) => kind == RowKind.Logs ? GetLogs : GetNotifications;

    /// <summary>The field that holds <paramref name="kind"/>'s rows in requests and replies: <c>logs</c> or <c>notifications</c>.</summary>
    public static string Field(RowKind kind) => kind == RowKind.Logs ? "logs" : "notifications";
}

/// <summary>One parsed and validated frame of the WebSocket protocol (see <see cref="IngestionProtocol.Parse"/>).</summary>
/// <param name="Action">The frame's action, as sent; null when the frame named none.</param>
public abstract record IngestionRequest(string? Action);

/// <summary><c>auth</c>: the token that names the connection's identity and role. Its text never appears in <see cref="object.ToString"/>.</summary>
/// <param name="Token">The token as sent.</param>
public sealed record AuthRequest(string Token) : IngestionRequest(IngestionActions.Auth)
{
    /// <inheritdoc />
    protected override bool PrintMembers(StringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Append("Action = auth, Token = ***");
        return true;
    }
}

/// <summary><c>ping</c>.</summary>
public sealed record PingRequest() : IngestionRequest(IngestionActions.Ping);

/// <summary><c>uploadLogs</c> / <c>uploadNotifications</c>: every row valid (a frame is accepted or refused whole).</summary>
/// <param name="Kind">Logs or notifications.</param>
/// <param name="Rows">1 – <c>maxRowsPerFrame</c> rows, in frame order.</param>
public sealed record UploadRequest(RowKind Kind, IReadOnlyList<IngestionRow> Rows) : IngestionRequest(IngestionActions.Upload(Kind));

/// <summary><c>getLogs</c> / <c>getNotifications</c>.</summary>
/// <param name="Kind">Logs or notifications.</param>
/// <param name="Timewindow">Rows no older than this (seed 002's <c>timewindow</c>, seconds &gt; 0).</param>
/// <param name="Sender">Only this sender, when set.</param>
/// <param name="MaxLevel">Only rows with a level ≤ this, when set (seed 002's <c>level</c>).</param>
/// <param name="Limit">Most rows answered, 1 – <see cref="IngestionProtocol.MaxLimit"/> (<c>limit</c>, default
/// <see cref="IngestionProtocol.DefaultLimit"/>).</param>
/// <param name="Before">Paging: the <c>next</c> cursor of a previous answer, decoded.</param>
public sealed record ReadRequest(RowKind Kind, TimeSpan Timewindow, string? Sender, int? MaxLevel, int Limit, RowCursor? Before)
    : IngestionRequest(IngestionActions.Read(Kind))
{
    /// <summary>
    /// The store query for <paramref name="identity"/> at <paramref name="now"/>: rows since now − <see cref="Timewindow"/>,
    /// asking one row more than <see cref="Limit"/> so that the answer knows whether a next page exists.
    /// </summary>
    public RowQuery ToQuery(string identity, DateTimeOffset now)
    {
        var since = Timewindow >= now - DateTimeOffset.UnixEpoch ? DateTimeOffset.UnixEpoch : now - Timewindow;
        return new RowQuery(identity, since, Sender, MaxLevel, Limit + 1, Before);
    }
}

/// <summary><c>getConfig</c>.</summary>
public sealed record GetConfigRequest() : IngestionRequest(IngestionActions.GetConfig);

/// <summary><c>insertConfig</c>.</summary>
/// <param name="Json">The <c>config</c> object as JSON text.</param>
public sealed record InsertConfigRequest(string Json) : IngestionRequest(IngestionActions.InsertConfig);

/// <summary>A frame that is refused: answered <c>{"success": false, "action": Action, "comment": Comment}</c>.</summary>
/// <param name="Action">The action named by the frame (for the reply), or null when there was none.</param>
/// <param name="Comment">What was wrong and what is allowed.</param>
public sealed record InvalidRequest(string? Action, string Comment) : IngestionRequest(Action);
