using System.Buffers;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tocsin.Access;
using Tocsin.Ingestion;

namespace Tocsin.Web.Ingestion;

/// <summary>
/// One WebSocket connection of <c>/ws</c> (seed 002's protocol, <see cref="IngestionProtocol"/>), after the upgrade:
/// authentication by the first frame when the upgrade carried no token, then requests answered in the order they came.
/// <list type="bullet">
/// <item>Back-pressure: at most <c>maxInFlight</c> requests await their reply at once (an upload awaits its commit); the next
/// frame is not read until a reply has been sent. An upload over <c>maxRowsPerSecond</c> waits, unread frames behind it.</item>
/// <item>Reads and <c>getConfig</c> start after the connection's earlier uploads and <c>insertConfig</c> are answered, so a
/// client sees its own writes.</item>
/// <item>A user socket receives live pushes of its identity's notifications; sends on the socket are serialised, and a send
/// that the peer does not take within <see cref="SendTimeout"/> aborts the connection.</item>
/// <item>Closes: 1008 without a valid token (none within <see cref="AuthTimeout"/>, a first frame other than <c>auth</c>, an
/// unknown or revoked token), 1009 for a frame over <c>maxFrameBytes</c>, 1011 when the token store cannot be read, 1000
/// after the peer's close. Any other bad input gets a <c>success:false</c> reply and the socket stays open.</item>
/// </list>
/// </summary>
internal sealed partial class IngestionSocket : IDisposable
{
    /// <summary>How long a connection may stay unauthenticated.</summary>
    public static readonly TimeSpan AuthTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for the peer to take one frame.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for the peer's close frame after this side closed.</summary>
    public static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    private const int InitialBufferBytes = 4096;

    private readonly WebSocket _socket;
    private readonly IngestionHandler _handler;
    private readonly INotificationFanout _fanout;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly SemaphoreSlim _inFlight;
    private readonly Channel<(string? Action, bool IsUpload, Task<byte[]> Reply)> _replies;
    private readonly RowRateLimiter _rate;

    public IngestionSocket(WebSocket socket, IngestionHandler handler, INotificationFanout fanout, ILogger logger)
    {
        _socket = socket;
        _handler = handler;
        _fanout = fanout;
        _logger = logger;
        int maxInFlight = handler.Options.MaxInFlight;
        _inFlight = new SemaphoreSlim(maxInFlight, maxInFlight);
        _replies = Channel.CreateBounded<(string?, bool, Task<byte[]>)>(new BoundedChannelOptions(maxInFlight) { SingleReader = true, SingleWriter = true });
        _rate = RowRateLimiter.For(handler.Options, handler.Time);
    }

    private enum FrameKind
    {
        Text,
        Binary,
        Close,
        TooBig,
    }

    /// <summary>
    /// Serves the connection until either side closes it. <paramref name="principal"/> is the upgrade's token's, or null to
    /// expect an <c>auth</c> frame first; <paramref name="tokenSha256"/> is that token's hash (a later <c>auth</c> with the
    /// same token is acknowledged). Never throws for anything the peer does.
    /// </summary>
    public async Task RunAsync(IngestionPrincipal? principal, byte[]? tokenSha256, CancellationToken aborted)
    {
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        Task? sender = null;
        try
        {
            bool byFrame = principal is null;
            if (principal is null)
            {
                (principal, tokenSha256) = await AuthenticateAsync(connection.Token).ConfigureAwait(false);
                if (principal is null)
                {
                    return;
                }
            }

            LogConnected(_logger, principal.Identity, principal.Role, principal.TokenId);
            using var subscription = principal.Role == IngestionRole.User
                ? _fanout.Subscribe(principal.Identity, (rows, _) => PushAsync(rows, connection))
                : null;
            if (byFrame)
            {
                // Acknowledged once subscribed: a user that has its answer misses no notification committed after it.
                await SendAsync(IngestionReplies.Success(IngestionActions.Auth), connection.Token).ConfigureAwait(false);
            }

            sender = SendRepliesAsync(connection);
            var (status, reason) = await ReadRequestsAsync(principal, tokenSha256!, connection.Token).ConfigureAwait(false);
            _replies.Writer.TryComplete();
            await sender.ConfigureAwait(false);
            await CloseAsync(status, reason).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The peer went away or the connection was aborted: nothing to answer.
            LogGone(_logger, ex.Message);
        }
        catch (Exception ex)
        {
            LogFailed(_logger, ex, principal?.Identity);
        }
        finally
        {
            _replies.Writer.TryComplete();
            await connection.CancelAsync().ConfigureAwait(false);
            if (sender is not null)
            {
                // It catches everything itself; waiting for it lets no send outlive the connection.
                await sender.ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _sending.Dispose();
        _inFlight.Dispose();
    }

    /// <summary>Waits for the <c>auth</c> frame (answered by the caller); closes the socket and returns null when there is no valid one.</summary>
    private async Task<(IngestionPrincipal?, byte[]?)> AuthenticateAsync(CancellationToken cancellationToken)
    {
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receive = ReceiveAsync(receiving.Token);
        var first = await Task.WhenAny(receive, Task.Delay(AuthTimeout, _handler.Time, waiting.Token)).ConfigureAwait(false);
        await waiting.CancelAsync().ConfigureAwait(false);
        if (first != receive)
        {
            LogRefused(_logger, "no auth frame within 10 s");
            await SendCloseAsync(WebSocketCloseStatus.PolicyViolation, "no auth frame within 10 s").ConfigureAwait(false);
            await AwaitPeerCloseAsync(receive).ConfigureAwait(false);
            await receiving.CancelAsync().ConfigureAwait(false);
            await receive.ContinueWith(static t => t.Exception, TaskScheduler.Default).ConfigureAwait(false);
            return (null, null);
        }

        var (kind, buffer, length) = await receive.ConfigureAwait(false);
        try
        {
            if (kind is FrameKind.Close or FrameKind.TooBig)
            {
                await CloseAsync(kind == FrameKind.Close ? WebSocketCloseStatus.NormalClosure : WebSocketCloseStatus.MessageTooBig,
                    kind == FrameKind.Close ? "" : TooBigReason()).ConfigureAwait(false);
                return (null, null);
            }

            if ((kind == FrameKind.Text ? _handler.Parse(buffer.AsSpan(0, length)) : null) is not AuthRequest auth)
            {
                LogRefused(_logger, "the first frame was not auth");
                await CloseAsync(WebSocketCloseStatus.PolicyViolation,
                    "authenticate first: send {\"action\":\"auth\",\"token\":\"…\"} or an Authorization: Bearer header").ConfigureAwait(false);
                return (null, null);
            }

            var principal = await AuthenticateTokenAsync(auth.Token, cancellationToken).ConfigureAwait(false);
            return (principal, principal is null ? null : AccessTokens.Sha256(auth.Token));
        }
        finally
        {
            Return(buffer);
        }
    }

    /// <summary>The principal of <paramref name="token"/>; closes the socket (1008 unknown, 1011 store down) and returns null otherwise.</summary>
    private async Task<IngestionPrincipal?> AuthenticateTokenAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            if (await _handler.AuthenticateAsync(token, cancellationToken).ConfigureAwait(false) is { } principal)
            {
                return principal;
            }

            LogRefused(_logger, "unknown or revoked token");
            await CloseAsync(WebSocketCloseStatus.PolicyViolation, "invalid token").ConfigureAwait(false);
        }
        catch (IngestionStoreException ex)
        {
            LogTokenStoreFailed(_logger, ex);
            await CloseAsync(WebSocketCloseStatus.InternalServerError, "the token store cannot be read; retry").ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>Reads frames until the peer closes or a frame is too big; returns how to close.</summary>
    private async Task<(WebSocketCloseStatus, string)> ReadRequestsAsync(IngestionPrincipal principal, byte[] tokenSha256, CancellationToken cancellationToken)
    {
        Task lastWrite = Task.CompletedTask;
        while (true)
        {
            // A slot for the next request: taken before reading, so that a full pipeline stops reading the socket.
            await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
            var (kind, buffer, length) = await ReceiveAsync(cancellationToken).ConfigureAwait(false);
            IngestionRequest request;
            try
            {
                switch (kind)
                {
                    case FrameKind.Close:
                        return (WebSocketCloseStatus.NormalClosure, "");
                    case FrameKind.TooBig:
                        string reason = TooBigReason();
                        LogBadFrame(_logger, principal.Identity, null, reason);
                        return (WebSocketCloseStatus.MessageTooBig, reason);
                    case FrameKind.Binary:
                        request = new InvalidRequest(null, "Binary frames are not read: send each request as a text frame of UTF-8 JSON.");
                        break;
                    default:
                        request = _handler.Parse(buffer.AsSpan(0, length));
                        break;
                }
            }
            finally
            {
                Return(buffer);
            }

            Task<byte[]> reply;
            switch (request)
            {
                case InvalidRequest invalid:
                    LogBadFrame(_logger, principal.Identity, invalid.Action, invalid.Comment);
                    reply = Task.FromResult(IngestionReplies.Failure(invalid.Action, invalid.Comment));
                    break;
                case AuthRequest auth:
                    reply = Task.FromResult(CryptographicOperations.FixedTimeEquals(AccessTokens.Sha256(auth.Token), tokenSha256)
                        ? IngestionReplies.Success(IngestionActions.Auth, "Already authenticated.")
                        : IngestionReplies.Failure(IngestionActions.Auth, "This connection is authenticated already; open another connection for another token."));
                    break;
                case UploadRequest upload:
                    // Over the rate, wait here: the frames behind it stay unread.
                    await _rate.WaitAsync(upload.Rows.Count, cancellationToken).ConfigureAwait(false);
                    reply = _handler.HandleAsync(principal, request, cancellationToken);
                    lastWrite = reply;
                    break;
                case InsertConfigRequest:
                    reply = _handler.HandleAsync(principal, request, cancellationToken);
                    lastWrite = reply;
                    break;
                default:
                    reply = AfterAsync(lastWrite, principal, request, cancellationToken);
                    break;
            }

            await _replies.Writer.WriteAsync((request.Action, request is UploadRequest, reply), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Handles <paramref name="request"/> once <paramref name="previous"/> (the last write) is done, whatever its outcome.</summary>
    private async Task<byte[]> AfterAsync(Task previous, IngestionPrincipal principal, IngestionRequest request, CancellationToken cancellationToken)
    {
        await previous.ContinueWith(static _ => { }, cancellationToken, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
        return await _handler.HandleAsync(principal, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends the replies in request order, each when it is ready, and frees the request's slot once it is sent.</summary>
    private async Task SendRepliesAsync(CancellationTokenSource connection)
    {
        await foreach (var (action, isUpload, task) in _replies.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            byte[]? reply = null;
            try
            {
                reply = await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (connection.IsCancellationRequested)
            {
                // The connection is going away; the upload's commit, if handed over, completes on its own.
            }
            catch (Exception ex)
            {
                LogRequestFailed(_logger, ex, action);
                reply = IngestionReplies.Failure(action, isUpload ? "not stored: an internal error (see the server's log)" : "an internal error (see the server's log)");
            }

            try
            {
                if (reply is not null && !connection.IsCancellationRequested)
                {
                    await SendAsync(reply, connection.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
            {
                // The peer is gone or does not read: stop the reader too; the rest of the queue is only drained.
                LogGone(_logger, ex.Message);
                await connection.CancelAsync().ConfigureAwait(false);
            }
            finally
            {
                _inFlight.Release();
            }
        }
    }

    /// <summary>The fan-out's delivery to this user socket.</summary>
    private async ValueTask PushAsync(IReadOnlyList<StoredRow> rows, CancellationTokenSource connection)
    {
        try
        {
            if (!connection.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                await SendAsync(IngestionReplies.Push(rows), connection.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The peer is gone or does not read (or the connection just ended): end it; this batch is lost to this socket only.
            LogGone(_logger, ex.Message);
            try
            {
                await connection.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // The connection has ended already.
            }
        }
    }

    /// <summary>Sends one text frame, one sender at a time; a peer that does not take it within <see cref="SendTimeout"/> aborts the socket.</summary>
    private async Task SendAsync(byte[] frame, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(SendTimeout, _handler.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, linked.Token).ConfigureAwait(false);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>
    /// Ends the connection from this side with <paramref name="status"/>: <see cref="SendCloseAsync"/>, then
    /// <see cref="AwaitPeerCloseAsync"/> (unless the peer closed first).
    /// </summary>
    public async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        await SendCloseAsync(status, reason).ConfigureAwait(false);
        if (_socket.State == WebSocketState.CloseSent)
        {
            await AwaitPeerCloseAsync(null).ConfigureAwait(false);
        }
    }

    /// <summary>Sends the close frame (when the socket can still send), after any reply being sent.</summary>
    private async Task SendCloseAsync(WebSocketCloseStatus status, string reason)
    {
        await _sending.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(SendTimeout, _handler.Time);
                await _socket.CloseOutputAsync(status, reason, timeout.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>
    /// After this side's close frame: reads and drops what the peer still sends until its close frame, for at most
    /// <see cref="CloseGrace"/>, so that the peer ends the TCP connection (a reset from this side could discard the close frame
    /// before the peer reads it). <paramref name="pending"/> is a receive already under way, if any (the caller cancels it
    /// when it is still running on return).
    /// </summary>
    private async Task AwaitPeerCloseAsync(Task<(FrameKind Kind, byte[] Buffer, int Length)>? pending)
    {
        using var grace = new CancellationTokenSource(CloseGrace, _handler.Time);
        try
        {
            var frame = pending ?? ReceiveAsync(grace.Token);
            while (true)
            {
                var (kind, buffer, _) = await frame.WaitAsync(grace.Token).ConfigureAwait(false);
                Return(buffer);
                if (kind == FrameKind.Close)
                {
                    return;
                }

                frame = ReceiveAsync(grace.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The peer is gone, or did not close within the grace: the connection ends anyway.
        }
    }

    /// <summary>Reads one whole message into a pooled buffer (returned with <see cref="Return"/>); at most <c>maxFrameBytes</c> are kept.</summary>
    private async Task<(FrameKind Kind, byte[] Buffer, int Length)> ReceiveAsync(CancellationToken cancellationToken)
    {
        long max = _handler.Options.MaxFrameBytes;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(InitialBufferBytes);
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, max + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var result = await _socket.ReceiveAsync(buffer.AsMemory(length, (int)Math.Min(buffer.Length - length, max + 1 - length)), cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return (FrameKind.Close, buffer, 0);
                }

                length += result.Count;
                if (length > max)
                {
                    return (FrameKind.TooBig, buffer, 0);
                }

                if (result.EndOfMessage)
                {
                    return (result.MessageType == WebSocketMessageType.Text ? FrameKind.Text : FrameKind.Binary, buffer, length);
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    private string TooBigReason() => $"frame over maxFrameBytes ({_handler.Options.MaxFrameBytes} bytes)";

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ingestion socket of {Identity} ({Role}, token {TokenId}) open")]
    private static partial void LogConnected(ILogger logger, string identity, IngestionRole role, string tokenId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ingestion socket refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ingestion socket of {Identity}: bad frame ({Action}): {Comment}")]
    private static partial void LogBadFrame(ILogger logger, string identity, string? action, string comment);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Ingestion socket ended: {Reason}")]
    private static partial void LogGone(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion: the token store cannot be read; a connection was closed with 1011")]
    private static partial void LogTokenStoreFailed(ILogger logger, Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion: {Action} failed unexpectedly; the client was answered success:false")]
    private static partial void LogRequestFailed(ILogger logger, Exception ex, string? action);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion socket of {Identity} failed unexpectedly")]
    private static partial void LogFailed(ILogger logger, Exception ex, string? identity);
}
