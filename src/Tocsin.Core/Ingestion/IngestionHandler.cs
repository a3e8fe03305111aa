using System.Globalization;
using Microsoft.Extensions.Logging;
using Tocsin.Access;
using Tocsin.Diagnostics;

namespace Tocsin.Ingestion;

/// <summary>
/// What <c>/ws</c> and <c>/api/v1/ingestion/…</c> do with a request, whatever carried it: token lookup, the role rule (only
/// agents upload and write their configuration), uploads through the <see cref="IIngestionWriter"/> then live fan-out of
/// notifications, reads of the principal's own identity with paging. Thread-safe; one instance serves every connection.
/// </summary>
/// <param name="store">Tokens, reads and configurations.</param>
/// <param name="writer">The acknowledgement point of uploads.</param>
/// <param name="fanout">Where committed notifications are announced.</param>
/// <param name="options">The limits.</param>
/// <param name="time">The clock (row time range, read windows, rate limits).</param>
/// <param name="logger">Store failures and fan-out problems (never a token or a row's content).</param>
/// <param name="metrics">Where acknowledged uploads are timed (<c>tocsin.ingest.ack.duration</c>; optional).</param>
public sealed partial class IngestionHandler(
    IIngestionStore store, IIngestionWriter writer, INotificationFanout fanout, IngestionOptions options, TimeProvider time, ILogger<IngestionHandler> logger,
    TocsinMetrics? metrics = null)
{
    /// <summary>The limits.</summary>
    public IngestionOptions Options => options;

    /// <summary>The clock.</summary>
    public TimeProvider Time => time;

    /// <summary>The seed's refusal of an upload by a user token (<c>Only wds can upload logs.</c>), or null for an agent.</summary>
    public static string? UploadRefusal(IngestionPrincipal principal, RowKind kind)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.Role == IngestionRole.Agent ? null : $"Only wds can upload {IngestionActions.Field(kind)}.";
    }

    /// <summary>The principal of a valid <paramref name="token"/> (looked up by its SHA-256), or null.</summary>
    /// <exception cref="IngestionStoreException">When the token store cannot be read.</exception>
    public async Task<IngestionPrincipal?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        var found = await store.FindTokenAsync(AccessTokens.Sha256(token), cancellationToken).ConfigureAwait(false);
        return found is null ? null : new IngestionPrincipal(found.Identity, found.Role, found.Id);
    }

    /// <summary>Parses one frame at the clock's current time (see <see cref="IngestionProtocol.Parse"/>).</summary>
    public IngestionRequest Parse(ReadOnlySpan<byte> frame) => IngestionProtocol.Parse(frame, options, time.GetUtcNow());

    /// <summary>
    /// Commits <paramref name="rows"/> as <paramref name="principal"/>'s (an agent: check <see cref="UploadRefusal"/> first)
    /// and, for notifications, announces them to the identity's user sockets. Returns the stored rows.
    /// </summary>
    /// <exception cref="IngestionStoreException">When the rows were not committed (none is stored).</exception>
    public async Task<IReadOnlyList<StoredRow>> UploadAsync(IngestionPrincipal principal, RowKind kind, IReadOnlyList<IngestionRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(principal);
        long started = time.GetTimestamp();
        var stored = await writer.SubmitAsync(kind, new IngestionBatch(principal.Identity, rows), cancellationToken).ConfigureAwait(false);
        if (kind == RowKind.Notifications)
        {
            try
            {
                await fanout.PublishAsync(principal.Identity, stored, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The rows are committed: the upload succeeded, only the live push failed (users still read them).
                LogPublishFailed(logger, ex, principal.Identity);
            }
        }

        metrics?.IngestAckDuration.Record(time.GetElapsedTime(started).TotalMilliseconds, IngestionMetricTags.Of(kind));
        return stored;
    }

    /// <summary>
    /// Reads <paramref name="principal"/>'s own rows: newest first, at most the request's limit, and the cursor of the next
    /// page when more rows match (null otherwise).
    /// </summary>
    /// <exception cref="IngestionStoreException">When the store cannot be read.</exception>
    public async Task<(IReadOnlyList<StoredRow> Rows, string? Next)> ReadAsync(IngestionPrincipal principal, ReadRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentNullException.ThrowIfNull(request);
        var rows = await store.QueryAsync(request.Kind, request.ToQuery(principal.Identity, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        if (rows.Count <= request.Limit)
        {
            return (rows, null);
        }

        var last = rows[request.Limit - 1];
        return ([.. rows.Take(request.Limit)], IngestionProtocol.EncodeCursor(request.Kind, new RowCursor(last.Time, last.Id)));
    }

    /// <summary>
    /// Answers one WebSocket request of <paramref name="principal"/> (any but <see cref="AuthRequest"/>, which the connection
    /// handles): the reply frame. A store failure is a <c>success:false</c> reply (<c>not stored: …</c> for uploads); only
    /// cancellation throws.
    /// </summary>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
    public async Task<byte[]> HandleAsync(IngestionPrincipal principal, IngestionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            switch (request)
            {
                case InvalidRequest invalid:
                    return IngestionReplies.Failure(invalid.Action, invalid.Comment);
                case PingRequest:
                    return IngestionReplies.Success(IngestionActions.Ping);
                case UploadRequest upload:
                    if (UploadRefusal(principal, upload.Kind) is { } refusal)
                    {
                        return IngestionReplies.Failure(upload.Action, refusal);
                    }

                    var stored = await UploadAsync(principal, upload.Kind, upload.Rows, cancellationToken).ConfigureAwait(false);
                    return IngestionReplies.Success(upload.Action!, Inserted(upload.Kind, stored.Count));
                case ReadRequest read:
                    var (rows, next) = await ReadAsync(principal, read, cancellationToken).ConfigureAwait(false);
                    return IngestionReplies.Rows(read.Kind, rows, next);
                case GetConfigRequest:
                    string? config = await store.GetConfigAsync(principal.Identity, cancellationToken).ConfigureAwait(false);
                    return config is null
                        ? IngestionReplies.Failure(IngestionActions.GetConfig, "No config exists for this WD code.")
                        : IngestionReplies.Config(config);
                case InsertConfigRequest insert:
                    if (principal.Role != IngestionRole.Agent)
                    {
                        return IngestionReplies.Failure(IngestionActions.InsertConfig, "Only wds can insert a config.");
                    }

                    await store.PutConfigAsync(principal.Identity, insert.Json, cancellationToken).ConfigureAwait(false);
                    return IngestionReplies.Success(IngestionActions.InsertConfig, "Config stored.");
                default:
                    return IngestionReplies.Failure(request.Action, $"{request.Action}: not valid here.");
            }
        }
        catch (IngestionStoreException ex)
        {
            LogStoreFailed(logger, ex, request.Action, principal.Identity);
            string verb = request is UploadRequest or InsertConfigRequest ? "not stored" : "not read";
            return IngestionReplies.Failure(request.Action, $"{verb}: {ex.Message}");
        }
    }

    /// <summary>The seed's success comment: <c>Inserted N log(s) into db.</c> / <c>Inserted N notification(s) into db.</c></summary>
    public static string Inserted(RowKind kind, int count) =>
        string.Create(CultureInfo.InvariantCulture, $"Inserted {count} {(kind == RowKind.Logs ? "log(s)" : "notification(s)")} into db.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion: {Action} of {Identity} failed in the store")]
    private static partial void LogStoreFailed(ILogger logger, Exception ex, string? action, string identity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion: the live push of {Identity}'s committed notifications failed")]
    private static partial void LogPublishFailed(ILogger logger, Exception ex, string identity);
}
